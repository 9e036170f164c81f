import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { noteStreamCost } from "~/features/events/cost";
import { signIn } from "../dashboard/harness";
import { type FakeUpstream, startFakeUpstream } from "../fake-upstream";
import { cleanUpAfterFile, cli, createKey, dbFileOf, isolatedEnv, type RunningServer, startServer, tempDir } from "../helpers";

cleanUpAfterFile();

describe("reading copilot_usage from a stream's ends", () => {
  const fresh = () => ({ costNanoAiu: null as number | null, tokenDetails: null as string | null });
  test("the last whole meter in the tail wins; one cut by the window is skipped; the head is read when the tail has none; none leaves it unknown", () => {
    const meter = (n: number) =>
      `data: {"choices":[],"copilot_usage":{"total_nano_aiu":${n},"token_details":[{"token_type":"output","token_count":2,"nested":{"x":1}}]}}\n\n`;
    const cut = meter(999).slice(0, 40);
    const tail = fresh();
    noteStreamCost(tail, { tail: `${meter(5)}${meter(7)}${cut}`, head: meter(1) });
    expect(tail).toEqual({ costNanoAiu: 7, tokenDetails: '[{"token_type":"output","token_count":2}]' });
    const head = fresh();
    noteStreamCost(head, { tail: `"copilot_usage" ${cut}`, head: meter(3) });
    expect(head.costNanoAiu).toBe(3);
    const none = fresh();
    noteStreamCost(none, { tail: 'data: {"usage":{"prompt_tokens":1}}\n\n', head: "" });
    expect(none).toEqual({ costNanoAiu: null, tokenDetails: null });
  });

  test("a meter in the tail leaves the head unread (a stream's head is decoded only when needed)", () => {
    const found = fresh();
    const ends = {
      tail: 'data: {"choices":[],"copilot_usage":{"total_nano_aiu":11}}\n\n',
      get head(): string {
        throw new Error("the head was read");
      },
    };
    noteStreamCost(found, ends);
    expect(found.costNanoAiu).toBe(11);
  });
});

/**
 * Copilot's meter (copilot_usage.total_nano_aiu) on every protocol, streamed or not, native or
 * translated: each event stores what the fake sent, and the usage report adds it up to the nano-AIU.
 */
describe("cost per event, as Copilot metered it", () => {
  let fake: FakeUpstream;
  let server: RunningServer;
  let home: string;
  let env: Record<string, string>;
  let key: { id: string; secret: string };
  let admin: { id: string; secret: string };
  let openai: OpenAI;
  let anthropic: Anthropic;

  beforeAll(async () => {
    fake = startFakeUpstream();
    home = tempDir();
    env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
    key = await createKey(env);
    admin = await createKey(env, "--tier", "admin");
    server = await startServer([], env);
    openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: key.secret });
    anthropic = new Anthropic({ baseURL: server.url, apiKey: key.secret });
  });
  afterAll(async () => {
    await server.stop();
    fake.stop();
  });

  const lastEventCost = () => {
    const db = new Database(dbFileOf(home), { readonly: true });
    try {
      return db
        .query<{ cost: number | null; details: string | null }, []>(
          "SELECT cost_nano_aiu AS cost, token_details AS details FROM events ORDER BY id DESC LIMIT 1",
        )
        .get();
    } finally {
      db.close();
    }
  };

  const say = [{ role: "user" as const, content: "hi" }];
  const cases: [string, () => Promise<unknown>][] = [
    ["chat", () => openai.chat.completions.create({ model: "gpt-4.1", messages: say })],
    ["chat, streamed", async () => Array.fromAsync(await openai.chat.completions.create({ model: "gpt-4.1", messages: say, stream: true }))],
    ["messages native", () => anthropic.messages.create({ model: "claude-sonnet-4.5", max_tokens: 100, messages: say })],
    [
      "messages native, streamed",
      async () => Array.fromAsync(await anthropic.messages.create({ model: "claude-sonnet-4.5", max_tokens: 100, messages: say, stream: true })),
    ],
    ["messages via chat", () => anthropic.messages.create({ model: "claude-sonnet-4", max_tokens: 100, messages: say })],
    [
      "messages via chat, streamed",
      async () => Array.fromAsync(await anthropic.messages.create({ model: "claude-sonnet-4", max_tokens: 100, messages: say, stream: true })),
    ],
    ["responses native", () => openai.responses.create({ model: "gpt-5-mini", input: "hi" })],
    ["responses native, streamed", async () => Array.fromAsync(await openai.responses.create({ model: "gpt-5-mini", input: "hi", stream: true }))],
    ["responses via chat", () => openai.responses.create({ model: "gemini-2.5-pro", input: "hi" })],
    ["responses via chat, streamed", async () => Array.fromAsync(await openai.responses.create({ model: "gemini-2.5-pro", input: "hi", stream: true }))],
  ];

  for (const [name, send] of cases) {
    test(`${name}: the event stores the cost and token details the fake sent`, async () => {
      const before = fake.nanoAiuSent;
      await send();
      const sent = fake.nanoAiuSent - before;
      expect(sent).toBeGreaterThan(0);
      const row = lastEventCost()!;
      expect(row.cost).toBe(sent);
      expect(JSON.parse(row.details!)).toContainEqual(expect.objectContaining({ token_type: "output" }));
    });
  }

  test("an answer without copilot_usage leaves the cost unknown (NULL), counted as such, never zero", async () => {
    // text-embedding-3-small: the fake's embeddings answer carries no meter, like an older backend.
    await openai.embeddings.create({ model: "text-embedding-3-small", input: "hi" });
    expect(lastEventCost()).toEqual({ cost: null, details: null });
  });

  test("usage --json, /admin/usage and the CSV add up to what the fake sent, to the nano-AIU, in credits and dollars", async () => {
    const total = fake.nanoAiuSent;
    const result = await cli(["usage", "--json", "--since", "1h"], env);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { totals: { costNanoAiu: number; credits: number; usd: number; costUnknown: number } };
    expect(report.totals.costNanoAiu).toBe(total);
    expect(report.totals.credits).toBe(total / 1e9);
    expect(report.totals.usd).toBe(total / 1e11);
    expect(report.totals.costUnknown).toBe(1);

    const table = await cli(["usage", "--since", "1h"], env);
    expect(table.stdout).toContain("CREDITS");
    expect(table.stdout).toContain((total / 1e9).toFixed(4));

    const admin_ = await fetch(`${server.url}/admin/usage?since=1h&by=model`, { headers: { authorization: `Bearer ${admin.secret}` } });
    const byModel = (await admin_.json()) as { rows: { group: string; costNanoAiu: number }[]; totals: { costNanoAiu: number } };
    expect(byModel.totals.costNanoAiu).toBe(total);
    expect(byModel.rows.find((r) => r.group === "text-embedding-3-small")?.costNanoAiu).toBe(0);

    const csv = await (await fetch(`${server.url}/admin/events.csv?since=1h`, { headers: { authorization: `Bearer ${admin.secret}` } })).text();
    const [header, ...lines] = csv.trim().split("\r\n");
    const columns = header!.split(",");
    const cost = columns.indexOf("cost_nano_aiu");
    const credits = columns.indexOf("credits");
    const cells = lines.map((line) => line.match(/("(?:[^"]|"")*"|[^,]*)(,|$)/g)!.map((cell) => cell.replace(/,$/, "")));
    expect(cells.reduce((sum, row) => sum + Number(row[cost]), 0)).toBe(total);
    expect(cells.reduce((sum, row) => sum + Number(row[credits]), 0)).toBeCloseTo(total / 1e9, 12);
    expect(cells.filter((row) => row[cost] === "")).toHaveLength(1); // the embeddings answer: unknown, not 0

    // The dashboard: the credits card, the chart's series, the by-model table, and the seat's windows.
    const { cookie } = await signIn(server.url, admin.secret);
    const html = await (await fetch(`${server.url}/dashboard?window=24h`, { headers: { cookie } })).text();
    expect(html).toMatch(new RegExp(`data-total="credits">\\s*${(total / 1e9).toFixed(4)}`));
    expect(html).toContain(`$${(total / 1e11).toFixed(4)}`);
    expect(html).toContain("Premium requests (legacy)");
    expect(html).toMatch(/data-window="default\/session"/);
    const { series } = (await (await fetch(`${server.url}/dashboard/api/usage?window=24h`, { headers: { cookie } })).json()) as {
      series: { costNanoAiu: number[]; credits: number[] };
    };
    expect(series.costNanoAiu.reduce((a, b) => a + b, 0)).toBe(total);
    expect(series.credits.reduce((a, b) => a + b, 0)).toBeCloseTo(total / 1e9, 12);
  });
});
