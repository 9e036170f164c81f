import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openStore } from "~/db";
import { insertKey } from "~/features/keys/queries";
import { KeyResolver } from "~/features/keys/resolver";
import { generateSecret, hashSecret } from "~/features/keys/secret";
import { startFakeUpstream } from "../fake-upstream";
import { cleanUpAfterFile, cli, createKey, dbFileOf, isolatedEnv, startServer, tempDir } from "../helpers";

cleanUpAfterFile();

const chat = (url: string, secret: string) =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
    body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }),
  });

describe("an expired key", () => {
  test("the resolver compares expiry with its clock on every request, a cached key included", () => {
    const store = openStore({ path: join(tempDir(), "keys.db") });
    try {
      const secret = generateSecret();
      const expiresAt = Date.UTC(2026, 11, 1, 9, 0, 0);
      insertKey(store.db, { id: "key_soon", hash: hashSecret(secret), tier: "client", label: "", allowedModels: ["*"], rateLimit: null, expiresAt });
      let now = expiresAt - 60_000;
      const resolver = new KeyResolver(store, { authDisabled: false, loopbackListener: true }, () => now);
      expect(resolver.resolve(secret)).toMatchObject({ key: { id: "key_soon", expiresAt } }); // now cached
      now = expiresAt - 1;
      expect("key" in resolver.resolve(secret)).toBe(true);
      now = expiresAt; // the database is not touched: the cached entry is refused by time alone
      expect(resolver.resolve(secret)).toEqual({ reason: "expired", keyId: "key_soon", expiredAt: expiresAt });
      now = expiresAt + 86_400_000;
      expect(resolver.resolve(secret)).toMatchObject({ reason: "expired" });
    } finally {
      store.close();
    }
  });

  test("a running server refuses it from its expiry time with 401 saying when, and records the refusal under its id", async () => {
    const fake = startFakeUpstream();
    const home = tempDir();
    const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
    // Expires a moment from now: the first request is answered (and the key cached), the one after its time is not.
    const expiresAt = Date.now() + 2_000;
    const key = await createKey(env, "--expires", new Date(expiresAt).toISOString());
    const other = await createKey(env);
    const server = await startServer([], env);
    try {
      if (Date.now() < expiresAt) expect((await chat(server.url, key.secret)).status).toBe(200);
      await Bun.sleep(Math.max(0, expiresAt - Date.now() + 20));
      const refused = await chat(server.url, key.secret);
      expect(refused.status).toBe(401);
      const error = ((await refused.json()) as { error: { message: string; code: string } }).error;
      expect(error.code).toBe("invalid_api_key");
      expect(error.message).toContain(`this API key expired at ${new Date(expiresAt).toISOString().replace("T", " ").slice(0, 19)} UTC`);
      expect(error.message).toContain(`keys update ${key.id} --expires`);
      expect(error.message).toContain(`(${key.id})`);
      expect((await chat(server.url, other.secret)).status).toBe(200);
      // Extending it from the CLI lets the same secret in again at once.
      expect((await cli(["keys", "update", key.id, "--expires", "1d"], env)).code).toBe(0);
      expect((await chat(server.url, key.secret)).status).toBe(200);
      expect(fake.requests.filter((r) => r.path === "/chat/completions").length).toBeGreaterThanOrEqual(2);
    } finally {
      expect(await server.stop()).toBe(0);
      fake.stop();
    }
    const db = new Database(dbFileOf(home), { readonly: true });
    const events = db.query<{ status: number; error: string | null }, [string]>("SELECT status, error FROM events WHERE key_id = ? ORDER BY id").all(key.id);
    db.close();
    expect(events.filter((e) => e.status === 401)).toEqual([{ status: 401, error: "unauthorized" }]);
    expect(events.at(-1)).toEqual({ status: 200, error: null });
  });

  test("keys list says expired", async () => {
    const home = tempDir();
    const env = isolatedEnv(home);
    const key = await createKey(env, "--expires", "1h");
    const db = new Database(dbFileOf(home));
    db.run("UPDATE keys SET expires_at = ? WHERE id = ?", [Date.now() - 1000, key.id]);
    db.close();
    const list = await cli(["keys", "list"], env);
    expect(list.stdout).toMatch(new RegExp(`${key.id}.*expired`));
  });
});
