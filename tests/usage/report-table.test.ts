import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { openStore } from "~/db";
import { writeEvents } from "~/features/events/queries";
import { createKey } from "~/features/keys";
import { sqliteUsage } from "~/features/usage";
import { buildReport, formatReport } from "~/features/usage/report";
import { cleanUpAfterFile, tempDir } from "../helpers";

cleanUpAfterFile();

const store = openStore({ path: join(tempDir(), "copilot-api.db") });
afterAll(() => store.close());

test("the usage table names each key's label beside its id and shows cached tokens and premium requests", async () => {
  const { row } = createKey(store.db, { tier: "client", label: "alice laptop", allowedModels: ["*"], rateLimit: null });
  const now = Date.now();
  const event = { ts: now - 60_000, keyId: row.id, route: "/chat/completions", model: "gpt-4.1", upstreamModel: "gpt-4.1", stream: false };
  writeEvents(store, [
    {
      ...event,
      promptTokens: 1200,
      completionTokens: 30,
      cacheReadTokens: 1000,
      premiumRequests: 1,
      usageUnknown: false,
      status: 200,
      latencyMs: 20,
      error: null,
    },
    {
      ...event,
      promptTokens: 800,
      completionTokens: 10,
      cacheReadTokens: 234,
      premiumRequests: 0.33,
      usageUnknown: false,
      status: 200,
      latencyMs: 30,
      error: null,
    },
  ]);
  const report = await buildReport(sqliteUsage(store), { since: now - 3_600_000, by: "key" }, now);
  expect(report.rows).toEqual([expect.objectContaining({ group: row.id, label: "alice laptop", cacheReadTokens: 1234, requests: 2 })]);

  const table = formatReport(report).split("\n");
  expect(table[1]).toMatch(/^KEY\s+REQUESTS\s+ERRORS\s+PROMPT TOK\s+CACHED TOK\s+COMPLETION TOK\s+CREDITS\s+USD\s+NO COST\s+PREMIUM\*/);
  const line = table.find((l) => l.startsWith("alice laptop"))!;
  expect(line).toContain(`alice laptop (${row.id})`);
  expect(line.split(/\s{2,}/).slice(1, 10)).toEqual(["2", "0", "2000", "1234", "40", "0.0000", "$0.0000", "0", "1.33"]);
  expect(table.at(-1)).toContain("legacy unit");

  // By model there are no labels to add.
  expect((await buildReport(sqliteUsage(store), { since: now - 3_600_000, by: "model" }, now)).rows[0]).not.toHaveProperty("label");
});
