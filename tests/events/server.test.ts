import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type FakeUpstream, startFakeUpstream, USAGE } from "../fake-upstream";
import { cleanUpAfterFile, cli, createKey, dbFileOf, isolatedEnv, type RunningServer, startServer, tempDir } from "../helpers";

cleanUpAfterFile();

interface EventRow {
  key_id: string;
  route: string;
  model: string | null;
  upstream_model: string | null;
  stream: number;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  usage_unknown: number;
  status: number;
  latency_ms: number;
  error: string | null;
}

/** Waits until the server has written at least n events (it batches every 200 ms), then returns them all. */
async function eventsAfter(home: string, n: number): Promise<EventRow[]> {
  const db = new Database(dbFileOf(home), { readonly: true });
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const rows = db.query<EventRow, []>("SELECT * FROM events ORDER BY id").all();
      if (rows.length >= n || Date.now() > deadline) return rows;
      await Bun.sleep(50);
    }
  } finally {
    db.close();
  }
}

describe("events for proxied requests", () => {
  let fake: FakeUpstream;
  let server: RunningServer;
  let home: string;
  let key: { id: string; secret: string };
  let admin: { id: string; secret: string };
  let seen = 0;
  const auth = () => ({ authorization: `Bearer ${key.secret}`, "content-type": "application/json" });

  /** Sends one request and returns the event it left. */
  async function oneEvent(send: () => Promise<Response>): Promise<EventRow> {
    const response = await send();
    await response.text().catch(() => "");
    seen += 1;
    const rows = await eventsAfter(home, seen);
    expect(rows).toHaveLength(seen);
    return rows.at(-1)!;
  }

  beforeAll(async () => {
    fake = startFakeUpstream();
    home = tempDir();
    const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
    key = await createKey(env, "--models", "gpt-4o,endless,error-*", "--rate-limit", "1000");
    admin = await createKey(env, "--tier", "admin");
    server = await startServer([], env);
  });
  afterAll(async () => {
    await server.stop();
    fake.stop();
  });

  const chat = (body: object, init: RequestInit = {}) =>
    fetch(`${server.url}/v1/chat/completions`, { method: "POST", headers: auth(), body: JSON.stringify(body), ...init });

  test("a successful completion records key, model, tokens and status", async () => {
    const row = await oneEvent(() => chat({ model: "gpt-4o", messages: [] }));
    expect(row).toMatchObject({
      key_id: key.id,
      route: "/chat/completions",
      model: "gpt-4o",
      upstream_model: "gpt-4o",
      stream: 0,
      prompt_tokens: USAGE.prompt_tokens,
      completion_tokens: USAGE.completion_tokens,
      usage_unknown: 0,
      status: 200,
      error: null,
    });
    expect(row.latency_ms).toBeGreaterThanOrEqual(0);
  });

  test("a completed stream records the usage block from its last chunk", async () => {
    const row = await oneEvent(() => chat({ model: "gpt-4o", stream: true, messages: [] }));
    expect(row).toMatchObject({ stream: 1, prompt_tokens: 11, completion_tokens: 7, usage_unknown: 0, status: 200, error: null });
  });

  test("a stream the client abandons halfway is recorded as client_aborted", async () => {
    const row = await oneEvent(async () => {
      const abort = new AbortController();
      const response = await chat({ model: "endless", stream: true, messages: [] }, { signal: abort.signal });
      await response.body!.getReader().read();
      abort.abort();
      return new Response("");
    });
    expect(row).toMatchObject({ model: "endless", stream: 1, status: 200, error: "client_aborted", usage_unknown: 1, prompt_tokens: null });
    // The log blames the side that hung up: the client, not Copilot.
    expect(server.log()).not.toContain("Copilot's stream broke off");
    expect(server.log()).toContain("the client's connection closed after");
  });

  test("an upstream error keeps its status and is tagged upstream_error; Copilot's own 429 is upstream_rate_limited", async () => {
    const failed = await oneEvent(() => chat({ model: "error-500", messages: [] }));
    expect(failed).toMatchObject({ status: 500, error: "upstream_error", usage_unknown: 1 });
    const limited = await oneEvent(() => chat({ model: "error-429", messages: [] }));
    expect(limited).toMatchObject({ status: 429, error: "upstream_rate_limited", usage_unknown: 1 });
  });

  test.each([
    ["no key", () => ({ "content-type": "application/json" }), { model: "gpt-4o" }, 401, "unauthorized", "__unauthenticated__"],
    ["a model outside the key", auth, { model: "claude-sonnet-4" }, 403, "forbidden", "key"],
    ["invalid JSON", auth, "{oops", 400, "bad_request", "key"],
  ])("our own refusal (%s) is recorded too", async (_what, headers, body, status, error, who) => {
    const row = await oneEvent(() =>
      fetch(`${server.url}/chat/completions`, {
        method: "POST",
        headers: headers(),
        body: typeof body === "string" ? body : JSON.stringify({ ...body, messages: [] }),
      }),
    );
    expect(row).toMatchObject({ status, error, key_id: who === "key" ? key.id : who, usage_unknown: 0 });
  });

  test("/models and /embeddings are recorded; /healthz and unknown routes are not", async () => {
    await fetch(`${server.url}/healthz`);
    await fetch(`${server.url}/v1/nothing`, { headers: auth() });
    const models = await oneEvent(() => fetch(`${server.url}/v1/models`, { headers: auth() }));
    expect(models).toMatchObject({ route: "/models", status: 200, usage_unknown: 0 });
    const embeddings = await oneEvent(() =>
      fetch(`${server.url}/embeddings`, { method: "POST", headers: auth(), body: JSON.stringify({ model: "gpt-4o", input: "x" }) }),
    );
    expect(embeddings).toMatchObject({ route: "/embeddings", prompt_tokens: 3, completion_tokens: null, usage_unknown: 0 });
  });

  test("GET /admin/usage answers admin keys only, with the same report as the CLI", async () => {
    const client = await fetch(`${server.url}/admin/usage`, { headers: auth() });
    expect(client.status).toBe(403);
    const response = await fetch(`${server.url}/admin/usage?since=1h&by=key`, { headers: { authorization: `Bearer ${admin.secret}` } });
    expect(response.status).toBe(200);
    const report = (await response.json()) as { by: string; rows: { group: string; requests: number }[]; totals: { requests: number } };
    expect(report.by).toBe("key");
    expect(report.rows.find((r) => r.group === key.id)?.requests).toBeGreaterThanOrEqual(8);
    const bad = await fetch(`${server.url}/admin/usage?since=forever`, { headers: { authorization: `Bearer ${admin.secret}` } });
    expect(bad.status).toBe(400);

    // The CLI, in another process while the server runs, reads the same numbers.
    const env = isolatedEnv(home);
    const viaCli = JSON.parse((await cli(["usage", "--since", "1h", "--by", "key", "--json"], env)).stdout) as typeof report;
    expect(viaCli.rows).toEqual(report.rows);
    const table = await cli(["usage", "--since", "1h", "--by", "model"], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^MODEL\s+REQUESTS\s+ERRORS/m);
    expect(table.stdout).toMatch(/^gpt-4o\s+\d+/m);
    expect(table.stdout).toMatch(/^TOTAL\s+\d+/m);
    for (const [args, message] of [
      [["--since", "soon"], "--since soon is not a window"],
      [["--by", "color"], "--by color is not one of key, model, day"],
    ] as const) {
      const refused = await cli(["usage", ...args], env);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(message);
    }
  });
});

describe("recording never costs a request", () => {
  test("no event is lost on SIGTERM", async () => {
    const fake = startFakeUpstream();
    const home = tempDir();
    const server = await startServer([], isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken }));
    const body = JSON.stringify({ model: "gpt-4o", messages: [] });
    for (let i = 0; i < 60; i++) {
      const response = await fetch(`${server.url}/chat/completions`, { method: "POST", body, headers: { "content-type": "application/json" } });
      expect(response.status).toBe(200);
    }
    expect(await server.stop()).toBe(0); // straight away: the last batch is still in memory
    fake.stop();
    const db = new Database(dbFileOf(home), { readonly: true });
    expect(db.query("SELECT count(*) AS n, sum(prompt_tokens) AS p FROM events").get()).toEqual({ n: 60, p: 60 * USAGE.prompt_tokens });
    expect(db.query("SELECT sum(requests) AS n FROM usage_hourly").get()).toEqual({ n: 60 });
    db.close();
  });

  test("when the database cannot be written, events are dropped and counted, requests still succeed, and /healthz says degraded (503)", async () => {
    const fake = startFakeUpstream();
    const home = tempDir();
    const server = await startServer([], isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken }));
    const healthy = await fetch(`${server.url}/healthz`);
    expect(healthy.status).toBe(200);
    expect(await healthy.json()).toEqual({
      status: "ok",
      eventsDropped: 0,
      eventsNotStored: 0,
      reasons: [],
      windows: [{ seat: "default", exhausted: null, windows: {} }],
    });
    const writer = new Database(dbFileOf(home));
    writer.run("CREATE TRIGGER refuse_events BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk says no'); END");
    writer.close();
    for (let i = 0; i < 5; i++) {
      expect((await fetch(`${server.url}/v1/models`)).status).toBe(200);
    }
    // Every event is committed before its answer leaves: the five are already counted.
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(503);
    const body = (await health.json()) as { status: string; eventsDropped: number; reasons: string[] };
    expect(body.status).toBe("degraded");
    expect(body.eventsDropped).toBe(5);
    expect(body.reasons.join("\n")).toContain("the last event write failed: disk says no");
    expect(body.reasons.join("\n")).toMatch(/events were dropped \d+ s ago \(disk says no\); 5 dropped since start/);
    expect(server.log()).toMatch(/dropped events: \d+ so far \(disk says no\); requests are unaffected/);
    expect(await server.stop()).toBe(0);
    fake.stop();
  });
});

describe("failed authentication cannot fill the disk", () => {
  test("past 60 a minute, 401s are counted in usage_hourly and /healthz but not stored as event rows", async () => {
    const fake = startFakeUpstream();
    const home = tempDir();
    const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
    await createKey(env);
    const server = await startServer([], env);
    const total = 200;
    let next = 0;
    const worker = async () => {
      while (next < total) {
        next += 1;
        const response = await fetch(`${server.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
        await response.text();
        expect(response.status).toBe(401);
      }
    };
    await Promise.all(Array.from({ length: 10 }, worker));
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok", eventsNotStored: total - 60 });
    expect(server.log()).toContain(
      "refused requests (__unauthenticated__): more than 60 a minute; the rest are counted in usage_hourly but not stored as event rows",
    );
    expect(await server.stop()).toBe(0);
    fake.stop();
    const db = new Database(dbFileOf(home), { readonly: true });
    expect(db.query("SELECT count(*) AS n FROM events WHERE error = 'unauthorized'").get()).toEqual({ n: 60 });
    expect(db.query("SELECT sum(requests) AS n FROM usage_hourly WHERE key_id = '__unauthenticated__'").get()).toEqual({ n: total });
    db.close();
  });
});

describe("refused requests of a valid key cannot fill the disk", () => {
  test("past 60 a minute per key, 403s (model not allowed) are counted in usage_hourly but not stored as event rows; another key's refusals still are", async () => {
    const fake = startFakeUpstream();
    const home = tempDir();
    const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
    const flooding = await createKey(env, "--models", "gpt-4.1");
    const other = await createKey(env, "--models", "gpt-4.1");
    const server = await startServer([], env);
    const refusedRequest = (secret: string) =>
      fetch(`${server.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
        body: JSON.stringify({ model: "claude-sonnet-4", messages: [{ role: "user", content: "hi" }] }),
      });
    const total = 200;
    let next = 0;
    const worker = async () => {
      while (next < total) {
        next += 1;
        const response = await refusedRequest(flooding.secret);
        await response.text();
        expect(response.status).toBe(403);
      }
    };
    await Promise.all(Array.from({ length: 10 }, worker));
    expect((await refusedRequest(other.secret)).status).toBe(403);
    const health = await fetch(`${server.url}/healthz`);
    expect(await health.json()).toMatchObject({ status: "ok", eventsNotStored: total - 60 });
    expect(server.log()).toContain(`refused requests (${flooding.id}): more than 60 a minute`);
    expect(await server.stop()).toBe(0);
    fake.stop();
    const db = new Database(dbFileOf(home), { readonly: true });
    const rows = (keyId: string) => db.query<{ n: number }, [string]>("SELECT count(*) AS n FROM events WHERE key_id = ? AND error = 'forbidden'").get(keyId);
    expect(rows(flooding.id)).toEqual({ n: 60 });
    expect(rows(other.id)).toEqual({ n: 1 });
    const hourly = db.query("SELECT sum(requests) AS n, sum(errors) AS e FROM usage_hourly WHERE key_id = ?").get(flooding.id);
    expect(hourly).toEqual({ n: total, e: total });
    db.close();
  });
});
