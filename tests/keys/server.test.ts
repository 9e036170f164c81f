import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { startFakeUpstream, type FakeUpstream } from "../fake-upstream";
import { cli, createKey, dbFileOf, isolatedEnv, startServer, tempDir, type CreatedKey, type RunningServer } from "../helpers";


const chat = (url: string, headers: Record<string, string>, model = "gpt-4o") =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
  });

const errorOf = async (response: Response) => ((await response.json()) as { error: { message: string; type: string; code: string } }).error;

describe("key resolution on a serving proxy", () => {
  let fake: FakeUpstream;
  let server: RunningServer;
  let env: Record<string, string>;
  let home: string;
  let full: CreatedKey;
  let limited: CreatedKey;
  let throttled: CreatedKey;

  beforeAll(async () => {
    fake = startFakeUpstream();
    home = tempDir();
    env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
    full = await createKey(env, "--label", "everything");
    limited = await createKey(env, "--models", "claude-*", "--label", "claude only");
    throttled = await createKey(env, "--rate-limit", "2");
    server = await startServer([], env);
  });
  afterAll(async () => {
    await server.stop();
    fake.stop();
  });

  test("accepts the key as a Bearer token or as x-api-key, and strips both before forwarding", async () => {
    const before = fake.requests.length;
    expect((await chat(server.url, { authorization: `Bearer ${full.secret}` })).status).toBe(200);
    expect((await chat(server.url, { "x-api-key": full.secret })).status).toBe(200);
    const forwarded = fake.requests.slice(before);
    expect(forwarded).toHaveLength(2);
    for (const request of forwarded) {
      expect(request.headers["x-api-key"]).toBeUndefined();
      expect(request.headers.authorization).toMatch(/^Bearer tid=fake-copilot-/);
      expect(JSON.stringify(request.headers)).not.toContain(full.secret);
    }
  });

  test.each([
    ["missing", {}, "missing API key"],
    ["malformed", { authorization: "Bearer sk-not-ours" }, "malformed API key"],
    ["empty", { "x-api-key": "" }, "missing API key"],
  ])("a %s key gets 401 in the OpenAI error shape", async (_what, headers, message) => {
    const response = await chat(server.url, headers as Record<string, string>);
    expect(response.status).toBe(401);
    const error = await errorOf(response);
    expect(error).toMatchObject({ type: "invalid_request_error", code: "invalid_api_key" });
    expect(error.message).toContain(message);
  });

  test("a well-formed key that was never issued gets 401 unknown", async () => {
    const stranger = await createKey(isolatedEnv(tempDir())); // a valid key of another installation
    const response = await chat(server.url, { authorization: `Bearer ${stranger.secret}` });
    expect(response.status).toBe(401);
    expect((await errorOf(response)).message).toContain("unknown API key");
  });

  test("a model outside the key's allowed models gets 403, and /models lists only allowed ones", async () => {
    const denied = await chat(server.url, { authorization: `Bearer ${limited.secret}` }, "gpt-4o");
    expect(denied.status).toBe(403);
    expect(await errorOf(denied)).toMatchObject({ code: "model_not_allowed", type: "invalid_request_error" });
    expect((await chat(server.url, { authorization: `Bearer ${limited.secret}` }, "claude-sonnet-4")).status).toBe(200);
    const models = await fetch(`${server.url}/models`, { headers: { authorization: `Bearer ${limited.secret}` } });
    expect(((await models.json()) as { data: { id: string }[] }).data.map((m) => m.id)).toEqual(["claude-sonnet-4"]);
  });

  test("a key over its rate limit gets 429 with Retry-After", async () => {
    const auth = { authorization: `Bearer ${throttled.secret}` };
    expect((await chat(server.url, auth)).status).toBe(200);
    expect((await chat(server.url, auth)).status).toBe(200);
    // Each request takes exactly one token: the third within the minute is refused.
    const third = await chat(server.url, auth);
    expect(third.status).toBe(429);
    expect(Number(third.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await errorOf(third)).toMatchObject({ code: "rate_limit_exceeded" });
  });

  test("revoking from another process while the server runs takes effect on the very next request", async () => {
    const victim = await createKey(env, "--label", "to revoke");
    const auth = { authorization: `Bearer ${victim.secret}` };
    expect((await chat(server.url, auth)).status).toBe(200); // resolved and now cached
    expect((await chat(server.url, auth)).status).toBe(200);
    const revoked = await cli(["keys", "revoke", victim.id], env);
    expect(revoked.code).toBe(0);
    const next = await chat(server.url, auth);
    expect(next.status).toBe(401);
    expect((await errorOf(next)).message).toContain(`this API key was revoked: ask the owner for a new one (${victim.id})`);
  });

  test("the secret is never stored or logged, only its hash", async () => {
    const files = [dbFileOf(home), `${dbFileOf(home)}-wal`].map((f) => readFileSync(f).toString("latin1")).join("");
    for (const key of [full, limited, throttled]) {
      expect(files).not.toContain(key.secret);
      expect(server.log()).not.toContain(key.secret);
      expect(files).toContain(new Bun.CryptoHasher("sha256").update(key.secret).digest("hex"));
    }
  });

  test("list and show never print a secret", async () => {
    const list = await cli(["keys", "list", "--all", "--json"], env);
    const shown = await cli(["keys", "show", full.id], env);
    for (const out of [list.stdout, shown.stdout]) {
      expect(out).not.toContain(full.secret);
      expect(out).not.toContain(new Bun.CryptoHasher("sha256").update(full.secret).digest("hex"));
    }
    expect(shown.stdout).toContain(full.id);
  });
});

describe("last_used_at", () => {
  test("is written in batches and flushed at shutdown", async () => {
    const fake = startFakeUpstream();
    const env = isolatedEnv(tempDir(), { ...fake.env(), GH_TOKEN: fake.githubToken });
    const key = await createKey(env);
    const server = await startServer([], env);
    expect((await chat(server.url, { authorization: `Bearer ${key.secret}` })).status).toBe(200);
    expect(await server.stop()).toBe(0);
    fake.stop();
    const shown = JSON.parse((await cli(["keys", "show", key.id, "--json"], env)).stdout) as { lastUsedAt: number | null };
    expect(shown.lastUsedAt).toBeGreaterThan(Date.now() - 60_000);
  });
});

describe("keys CLI refuses bad input and writes nothing", () => {
  test.each([
    [["keys", "create", "--tier", "owner"], "--tier owner is not one of admin, client"],
    [["keys", "create", "--models", ""], "--models is empty"],
    [["keys", "create", "--models", "gpt-4o,,x"], "has an empty entry"],
    [["keys", "create", "--models", "gpt 4o"], 'entry "gpt 4o" is not a model name or pattern'],
    [["keys", "create", "--rate-limit", "-3"], "--rate-limit -3 is not a positive number"],
    [["keys", "show", "key_nope"], "no key with id key_nope"],
    [["keys", "revoke", "key_nope"], "no key with id key_nope"],
  ])("%p", async (args, message) => {
    const env = isolatedEnv(tempDir());
    const first = await createKey(env);
    const result = await cli(args, env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(message);
    const rows = JSON.parse((await cli(["keys", "list", "--all", "--json"], env)).stdout) as { id: string; revokedAt: number | null }[];
    expect(rows.map((r) => [r.id, r.revokedAt])).toEqual([[first.id, null]]);
  });

  test("revoking twice says it was already revoked", async () => {
    const env = isolatedEnv(tempDir());
    const key = await createKey(env);
    expect((await cli(["keys", "revoke", key.id], env)).code).toBe(0);
    const again = await cli(["keys", "revoke", key.id], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`key ${key.id} was already revoked`);
  });
});

describe("startup policy", () => {
  test("on loopback with no key, requests pass as __noauth__ and a warning is logged", async () => {
    const server = await startServer([], isolatedEnv(tempDir()));
    expect(server.log()).toContain("no active API key: requests from this machine pass without one");
    expect((await fetch(`${server.url}/v1/models`)).status).toBe(503); // passed auth; no GitHub token
    await server.stop();
  });

  test("a keyless loopback server refuses requests addressed to another host name (DNS rebinding)", async () => {
    const server = await startServer([], isolatedEnv(tempDir()));
    const port = new URL(server.url).port;
    // A web page that rebinds evil.example to 127.0.0.1 sends its own name as Host.
    const rebound = await fetch(`${server.url}/v1/models`, { headers: { host: `evil.example:${port}` } });
    expect(rebound.status).toBe(403);
    expect(((await rebound.json()) as { error: { code: string } }).error.code).toBe("host_not_allowed");
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, "localhost"]) {
      expect((await fetch(`${server.url}/v1/models`, { headers: { host } })).status).toBe(503); // let through; no GitHub token
    }
    await server.stop();
  });

  test("a key created while a keyless loopback server runs closes it from the next request", async () => {
    const env = isolatedEnv(tempDir());
    const server = await startServer([], env);
    expect((await fetch(`${server.url}/v1/models`)).status).toBe(503);
    await createKey(env);
    expect((await fetch(`${server.url}/v1/models`)).status).toBe(401);
    await server.stop();
  });

  test("a non-loopback listener with no active key refuses to start; --no-auth or a key lets it", async () => {
    const env = isolatedEnv(tempDir());
    const refused = await cli(["start", "--host", "0.0.0.0", "--port", "0"], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("refusing to listen on 0.0.0.0 with no active API key");
    expect(refused.stderr).not.toContain("listening on");

    const open = await startServer(["--host", "0.0.0.0", "--no-auth"], env);
    expect(open.log()).toContain("--no-auth: API keys are not checked");
    const port = new URL(open.url).port;
    expect((await fetch(`http://127.0.0.1:${port}/v1/models`)).status).toBe(503);
    await open.stop();

    await createKey(env);
    const keyed = await startServer(["--host", "0.0.0.0"], env);
    expect((await fetch(`http://127.0.0.1:${new URL(keyed.url).port}/v1/models`)).status).toBe(401);
    await keyed.stop();
  });
});
