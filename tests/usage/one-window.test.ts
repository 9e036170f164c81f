import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ParsedArgs, parseArgs } from "citty";
import { writeEvents } from "~/features/events/queries";
import { createKey } from "~/features/keys";
import { usageArgs, usageFromArgs } from "~/features/usage/cli";
import { type DashboardServer, type Signed, signIn, startDashboard } from "../dashboard/harness";
import { cleanUpAfterFile } from "../helpers";

cleanUpAfterFile();

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * One store, three surfaces that read usage: `usage --since W` (the CLI's code
 * path, at the test's clock), GET /admin/usage?since=W and the dashboard's
 * window W (its page and its charts' data). Events sit a minute either side of
 * each window's start, in the slice before its first whole hour, in the slice
 * before its first whole UTC day, and in whole hours and days: every surface
 * must count exactly the ones at or after now minus the window.
 */
describe("usage: one window, one number on every surface", () => {
  let s: DashboardServer;
  let signed: Signed;
  let keyId: string;
  /** The clock the app and the CLI read: half past an hour, so a window starting on the hour would differ. */
  const clock = () => Date.now() + s.clock.offset;
  let t0: number;

  beforeAll(async () => {
    s = startDashboard();
    t0 = Math.floor(Date.now() / HOUR) * HOUR - 30 * MINUTE;
    s.clock.offset = t0 - Date.now();
    signed = await signIn(s.url, s.admin.secret);
    // Only this key's usage is compared: the test's own requests are recorded too.
    keyId = createKey(s.store.db, { tier: "client", label: "edges", allowedModels: ["*"], rateLimit: null }).row.id;
    const at = (ts: number, model: string, promptTokens: number) => ({
      ts,
      keyId,
      route: "/chat/completions",
      model,
      upstreamModel: model,
      stream: false,
      promptTokens,
      completionTokens: 1,
      cacheReadTokens: 0,
      premiumRequests: 1,
      usageUnknown: false,
      costNanoAiu: 1_000_000 * promptTokens,
      status: 200,
      latencyMs: 200,
      error: null,
    });
    writeEvents(s.store, [
      at(t0 - 7 * DAY - MINUTE, "gpt-4o", 1), // before 7d
      at(t0 - 7 * DAY + MINUTE, "gpt-4o", 2), // 7d: the slice before its first whole hour (raw events)
      at(t0 - 7 * DAY + 2 * HOUR, "claude-sonnet-4", 4), // 7d: the slice before its first whole UTC day (hours)
      at(t0 - 3 * DAY, "gpt-4o", 8), // 7d: a settled day
      at(t0 - DAY - MINUTE, "claude-sonnet-4", 16), // before 24h
      at(t0 - DAY + MINUTE, "gpt-4o", 32), // 24h: the slice before its first whole hour
      at(t0 - 23 * HOUR, "claude-sonnet-4", 64), // 24h: a whole hour
      at(t0 - 10 * MINUTE, "gpt-4o", 128), // 24h: the current hour
      { ...at(t0 - HOUR, "gpt-4o", 1000), keyId: s.client.id }, // another key: filtered out, still a choice
    ]);
  });
  afterAll(() => s.stop());

  test.each([
    // [window, requests, prompt tokens]: the events at or after now minus the window.
    ["24h", 3, 32 + 64 + 128],
    ["7d", 7, 2 + 4 + 8 + 16 + 32 + 64 + 128],
  ] as const)("%s: the CLI, /admin/usage and the dashboard count the same events", async (window, requests, promptTokens) => {
    const cli = await usageFromArgs(
      parseArgs(["--since", window, "--key", keyId, "--db-path", s.dbPath, "--json"], usageArgs) as ParsedArgs<typeof usageArgs>,
      clock(),
    );
    expect(cli.totals).toMatchObject({ requests, promptTokens, costNanoAiu: promptTokens * 1_000_000 });

    const admin = await s.request(`/admin/usage?since=${window}&key=${keyId}`, { headers: { authorization: `Bearer ${s.admin.secret}` } });
    expect(admin.status).toBe(200);
    expect(((await admin.json()) as typeof cli).totals).toEqual(cli.totals);

    const data = await s.request(`/dashboard/api/usage?window=${window}&key=${keyId}`, { headers: { cookie: signed.cookie } });
    const { series } = (await data.json()) as { series: Record<"requests" | "promptTokens" | "costNanoAiu", number[]> };
    const sum = (values: number[]) => values.reduce((n, v) => n + v, 0);
    expect([sum(series.requests), sum(series.promptTokens), sum(series.costNanoAiu)]).toEqual([requests, promptTokens, promptTokens * 1_000_000]);

    const html = await (await s.request(`/dashboard?window=${window}&key=${keyId}`, { headers: { cookie: signed.cookie } })).text();
    expect(html).toMatch(new RegExp(`data-total="requests">\\s*${requests}\\s*<`));
    // The key filter narrows the sums, not the filter's choices.
    expect(html).toContain(`<option value="${s.client.id}"`);
  });

  test("the CLI and /admin/usage read a date as the same start, and refuse the same bad window", async () => {
    const day = new Date(t0 - 2 * DAY).toISOString().slice(0, 10);
    const cli = await usageFromArgs(parseArgs(["--since", day, "--key", keyId, "--db-path", s.dbPath], usageArgs) as ParsedArgs<typeof usageArgs>, clock());
    const admin = (await (
      await s.request(`/admin/usage?since=${day}&key=${keyId}`, { headers: { authorization: `Bearer ${s.admin.secret}` } })
    ).json()) as typeof cli;
    expect(admin.totals).toEqual(cli.totals);
    expect(admin.since).toBe(`${day}T00:00:00.000Z`);
    await expect(usageFromArgs(parseArgs(["--since", "0h", "--db-path", s.dbPath], usageArgs) as ParsedArgs<typeof usageArgs>, clock())).rejects.toThrow(
      "--since 0h is an empty window",
    );
    const refused = await s.request("/admin/usage?since=0h", { headers: { authorization: `Bearer ${s.admin.secret}` } });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain("since 0h is an empty window");
  });
});
