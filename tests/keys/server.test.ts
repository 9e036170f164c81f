import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { type FakeUpstream, startFakeUpstream } from "../fake-upstream";
import { type CreatedKey, chat, cleanUpAfterFile, cli, createKey, dbFileOf, errorOf, isolatedEnv, type RunningServer, startServer, tempDir } from "../helpers";

cleanUpAfterFile();

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
    expect((await chat(server.url, {}, { authorization: `Bearer ${full.secret}` })).status).toBe(200);
    expect((await chat(server.url, {}, { "x-api-key": full.secret })).status).toBe(200);
    // Only the chat requests: the model catalog's own GET /models may land in between.
    const forwarded = fake.requests.slice(before).filter((r) => r.path === "/chat/completions");
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
    const response = await chat(server.url, {}, headers as Record<string, string>);
    expect(response.status).toBe(401);
    const error = await errorOf(response);
    expect(error).toMatchObject({ type: "invalid_request_error", code: "invalid_api_key" });
    expect(error.message).toContain(message);
  });

  test("a well-formed key that was never issued gets 401 unknown", async () => {
    const stranger = await createKey(isolatedEnv(tempDir())); // a valid key of another installation
    const response = await chat(server.url, {}, { authorization: `Bearer ${stranger.secret}` });
    expect(response.status).toBe(401);
    expect((await errorOf(response)).message).toContain("unknown API key");
  });

  test("a model outside the key's allowed models gets 403, and /models lists only allowed ones", async () => {
    const denied = await chat(server.url, { model: "gpt-4o" }, { authorization: `Bearer ${limited.secret}` });
    expect(denied.status).toBe(403);
    expect(await errorOf(denied)).toMatchObject({ code: "model_not_allowed", type: "invalid_request_error" });
    expect((await chat(server.url, { model: "claude-sonnet-4" }, { authorization: `Bearer ${limited.secret}` })).status).toBe(200);
    const models = await fetch(`${server.url}/models`, { headers: { authorization: `Bearer ${limited.secret}` } });
    expect(((await models.json()) as { data: { id: string }[] }).data.map((m) => m.id)).toEqual([
      "claude-sonnet-4.5",
      "claude-opus-4.1",
      "claude-haiku-4.5",
      "claude-sonnet-4",
    ]);
  });

  test("a key over its rate limit gets 429 with Retry-After", async () => {
    const auth = { authorization: `Bearer ${throttled.secret}` };
    expect((await chat(server.url, {}, auth)).status).toBe(200);
    expect((await chat(server.url, {}, auth)).status).toBe(200);
    // Each request takes exactly one token: the third within the minute is refused.
    const third = await chat(server.url, {}, auth);
    expect(third.status).toBe(429);
    expect(Number(third.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await errorOf(third)).toMatchObject({ code: "rate_limit_exceeded" });
  });

  test("revoking from another process while the server runs takes effect on the very next request", async () => {
    const victim = await createKey(env, "--label", "to revoke");
    const auth = { authorization: `Bearer ${victim.secret}` };
    expect((await chat(server.url, {}, auth)).status).toBe(200); // resolved and now cached
    expect((await chat(server.url, {}, auth)).status).toBe(200);
    const revoked = await cli(["keys", "revoke", victim.id], env);
    expect(revoked.code).toBe(0);
    const next = await chat(server.url, {}, auth);
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
    expect((await chat(server.url, {}, { authorization: `Bearer ${key.secret}` })).status).toBe(200);
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
    [["keys", "create", "--rate-limit", "-3"], "--rate-limit -3 is not a positive whole number"],
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
    expect(server.log()).toContain("no API key yet: requests from this machine pass without one");
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

/** The events a stopped server left (its final flush included), oldest first. */
function eventsOf(home: string): { key_id: string; status: number; error: string | null }[] {
  const db = new Database(dbFileOf(home), { readonly: true });
  try {
    return db.query<{ key_id: string; status: number; error: string | null }, []>("SELECT key_id, status, error FROM events ORDER BY id").all();
  } finally {
    db.close();
  }
}

describe("revoking every key never opens a server", () => {
  test("after the last key is revoked, the revoked key, a garbage key and no key all get 401; the revoked one is recorded under its id", async () => {
    const fake = startFakeUpstream();
    const home = tempDir();
    const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
    const only = await createKey(env, "--tier", "admin");
    const server = await startServer([], env);
    const auth = { authorization: `Bearer ${only.secret}` };
    expect((await chat(server.url, {}, auth)).status).toBe(200);
    expect((await cli(["keys", "revoke", only.id], env)).code).toBe(0);

    const revoked = await chat(server.url, {}, auth);
    expect(revoked.status).toBe(401);
    expect((await errorOf(revoked)).message).toContain(`this API key was revoked: ask the owner for a new one (${only.id})`);
    const garbage = await chat(server.url, {}, { authorization: "Bearer sk-garbage" });
    expect(garbage.status).toBe(401);
    expect((await errorOf(garbage)).message).toContain("malformed API key");
    const stranger = await createKey(isolatedEnv(tempDir()));
    expect((await chat(server.url, {}, { "x-api-key": stranger.secret })).status).toBe(401);
    const none = await chat(server.url);
    expect(none.status).toBe(401);
    expect(await errorOf(none)).toMatchObject({ code: "invalid_api_key" });
    expect((await errorOf(await chat(server.url, {}))).message).toContain("no active API key, so every request is refused");
    expect((await errorOf(await chat(server.url, {}))).message).toContain("bun run cli keys create");
    for (const headers of [auth, {}]) {
      expect((await fetch(`${server.url}/admin/usage`, { headers })).status).toBe(401);
      expect((await fetch(`${server.url}/v1/models`, { headers })).status).toBe(401);
    }
    const forwarded = fake.requests.filter((r) => r.path.endsWith("/chat/completions")).length;
    expect(forwarded).toBe(1); // only the request made before the revocation

    expect(await server.stop()).toBe(0);
    fake.stop();
    const events = eventsOf(home);
    expect(events.filter((e) => e.key_id === only.id).map((e) => e.status)).toEqual([200, 401, 401]); // chat; then chat and /v1/models with the revoked key (/admin is not an event route)
    expect(events.some((e) => e.key_id === "__noauth__" && e.status < 400)).toBe(false);
  });

  test("a loopback server started with every key revoked says so and refuses requests without a key", async () => {
    const env = isolatedEnv(tempDir());
    const key = await createKey(env);
    expect((await cli(["keys", "revoke", key.id], env)).code).toBe(0);
    const server = await startServer([], env);
    expect(server.log()).toContain("no active API key (all 1 revoked): every request is refused with 401");
    expect(server.log()).not.toContain("pass without one");
    expect((await fetch(`${server.url}/v1/models`)).status).toBe(401);
    expect((await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${key.secret}` } })).status).toBe(401);
    // A new key works at once, and only it does.
    const fresh = await createKey(env);
    expect((await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${fresh.secret}` } })).status).toBe(503); // passed; no GitHub token
    expect((await fetch(`${server.url}/v1/models`)).status).toBe(401);
    await server.stop();
  });

  test("a non-loopback listener with every key revoked refuses to start, like one with none", async () => {
    const env = isolatedEnv(tempDir());
    const key = await createKey(env);
    expect((await cli(["keys", "revoke", key.id], env)).code).toBe(0);
    const refused = await cli(["start", "--host", "0.0.0.0", "--port", "0"], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("refusing to listen on 0.0.0.0 with no active API key (all 1 revoked)");
    expect(refused.stderr).not.toContain("listening on");
  });

  test("a keyless loopback server takes a placeholder as no key, but checks anything shaped like a copilot-api key", async () => {
    const server = await startServer([], isolatedEnv(tempDir()));
    expect((await fetch(`${server.url}/v1/models`)).status).toBe(503); // no key: passes (no GitHub token)
    // What people type when an SDK demands a key and they were told none is needed.
    for (const placeholder of ["Bearer dummy", "Bearer sk-anything", "Bearer x"]) {
      expect((await fetch(`${server.url}/v1/models`, { headers: { authorization: placeholder } })).status).toBe(503);
    }
    expect((await fetch(`${server.url}/v1/models`, { headers: { "x-api-key": "dummy" } })).status).toBe(503);
    // Still behind the host guard: a placeholder is no key, not a key.
    expect((await fetch(`${server.url}/v1/models`, { headers: { authorization: "Bearer dummy", host: "evil.example" } })).status).toBe(403);
    const garbage = await fetch(`${server.url}/v1/models`, { headers: { authorization: "Bearer cpk_typo" } });
    expect(garbage.status).toBe(401);
    const message = (await errorOf(garbage)).message;
    expect(message).toContain("malformed API key");
    expect(message).toContain("this server has no key yet, so from this machine a request without any key passes");
    const stranger = await createKey(isolatedEnv(tempDir()));
    expect((await fetch(`${server.url}/v1/models`, { headers: { "x-api-key": stranger.secret } })).status).toBe(401);
    await server.stop();
  });

  test("--no-auth checks nothing, a revoked key included (documented)", async () => {
    const env = isolatedEnv(tempDir());
    const key = await createKey(env);
    expect((await cli(["keys", "revoke", key.id], env)).code).toBe(0);
    const server = await startServer(["--no-auth"], env);
    expect(server.log()).toContain("a key sent is ignored");
    expect((await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${key.secret}` } })).status).toBe(503);
    await server.stop();
  });
});

describe("requests that pass without a key: host and cross-site guards", () => {
  const post = (url: string, headers: Record<string, string>) =>
    fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      // What a page can send without a preflight: a "simple" text/plain POST.
      headers: { "content-type": "text/plain", ...headers },
      body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }),
    });

  let fake: FakeUpstream;
  beforeAll(() => {
    fake = startFakeUpstream();
  });
  afterAll(() => fake.stop());
  const forwardedSince = (before: number) => fake.requests.slice(before).filter((r) => r.path.endsWith("/chat/completions")).length;

  test("--no-auth on loopback refuses a Host that is not this machine (DNS rebinding)", async () => {
    const server = await startServer(["--no-auth"], isolatedEnv(tempDir()));
    const port = new URL(server.url).port;
    for (const path of ["/v1/models", "/admin/usage"]) {
      const rebound = await fetch(`${server.url}${path}`, { headers: { host: `evil.example:${port}` } });
      expect(rebound.status).toBe(403);
      const error = await errorOf(rebound);
      expect(error.code).toBe("host_not_allowed");
      expect(error.message).toContain("--no-auth");
    }
    expect((await fetch(`${server.url}/admin/usage`, { headers: { host: `localhost:${port}` } })).status).toBe(200);
    await server.stop();
  });

  test("--no-auth on a non-loopback listener serves any Host name (the operator chose it)", async () => {
    const server = await startServer(["--no-auth", "--host", "0.0.0.0"], isolatedEnv(tempDir()));
    const port = new URL(server.url).port;
    expect((await fetch(`http://127.0.0.1:${port}/admin/usage`, { headers: { host: `gateway.lan:${port}` } })).status).toBe(200);
    await server.stop();
  });

  test.each([
    ["keyless (no key yet)", [] as string[]],
    ["--no-auth", ["--no-auth"]],
  ])("%s: a cross-site page's request is refused with 403 and never forwarded", async (_mode, args) => {
    const server = await startServer(args, isolatedEnv(tempDir(), { ...fake.env(), GH_TOKEN: fake.githubToken }));
    const before = fake.requests.length;
    const crossSite: Record<string, string>[] = [
      { origin: "https://evil.example" },
      { origin: "null" }, // sandboxed frames and file:// pages
      { origin: "http://localhost.evil.example" },
      { "sec-fetch-site": "cross-site" },
      { origin: "http://localhost:3000", "sec-fetch-site": "cross-site" },
    ];
    for (const headers of crossSite) {
      const response = await post(server.url, headers);
      expect(response.status).toBe(403);
      const error = await errorOf(response);
      expect(error).toMatchObject({ type: "invalid_request_error", code: "cross_site_request" });
      expect(error.message).toContain("bun run cli keys create");
    }
    expect((await fetch(`${server.url}/admin/usage`, { headers: { origin: "https://evil.example" } })).status).toBe(403);
    expect(forwardedSince(before)).toBe(0);

    // Programs and loopback pages still pass.
    const local: Record<string, string>[] = [
      {},
      { origin: "http://localhost:3000" },
      { origin: "http://127.0.0.1:8080", "sec-fetch-site": "same-site" },
      { origin: "http://[::1]:5173" },
    ];
    for (const headers of local) {
      expect((await chat(server.url, {}, headers)).status).toBe(200);
    }
    expect(forwardedSince(before)).toBe(4);
    await server.stop();
  });

  test("requests with a key are not affected by Origin", async () => {
    const env = isolatedEnv(tempDir(), { ...fake.env(), GH_TOKEN: fake.githubToken });
    const key = await createKey(env);
    const server = await startServer([], env);
    expect((await chat(server.url, {}, { authorization: `Bearer ${key.secret}`, origin: "https://app.example", "sec-fetch-site": "cross-site" })).status).toBe(
      200,
    );
    expect((await chat(server.url, {}, { origin: "https://app.example" })).status).toBe(401);
    await server.stop();
  });
});
