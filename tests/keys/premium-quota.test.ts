import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Hono } from "hono";
import type { AppEnv } from "~/app-env";
import { openStore, type Store } from "~/db";
import { EventRecorder } from "~/features/events";
import { newDraft } from "~/features/events/draft";
import { PremiumUsage, premiumQuota } from "~/features/keys";
import { insertKey } from "~/features/keys/queries";
import { NO_AUTH_KEY, type ResolvedKey } from "~/features/keys/resolver";
import { startFakeUpstream } from "../fake-upstream";
import { chatWithKey, cleanUpAfterFile, createKey, dbFileOf, isolatedEnv, seedUsageHour, startServer, tempDir } from "../helpers";

cleanUpAfterFile();

const HOUR = 3_600_000;

const seedPremium = (file: string, keyId: string, hour: number, premium: number, model = "claude-sonnet-4") =>
  seedUsageHour(file, { hour, keyId, model, column: "premium_requests", value: premium });

const chat = (url: string, secret: string) => chatWithKey(url, secret, "claude-sonnet-4");

describe("--premium-quota on a running server", () => {
  test("a key that used its quota this month gets 429 saying quota, use and reset, with Retry-After; last month's use does not count", async () => {
    const fake = startFakeUpstream();
    const home = tempDir();
    const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
    const spent = await createKey(env, "--premium-quota", "3");
    const within = await createKey(env, "--premium-quota", "3");
    const unlimited = await createKey(env);
    const now = Date.now();
    const hour = now - (now % HOUR);
    const d = new Date(now);
    const lastMonth = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 20);
    const nextMonth = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    seedPremium(dbFileOf(home), spent.id, hour, 2);
    seedPremium(dbFileOf(home), spent.id, hour, 1.25, "gemini-2.5-pro");
    seedPremium(dbFileOf(home), within.id, hour, 2.67);
    seedPremium(dbFileOf(home), within.id, lastMonth, 500);
    seedPremium(dbFileOf(home), unlimited.id, hour, 10_000);
    const server = await startServer([], env);
    try {
      const forwarded = () => fake.requests.filter((r) => r.path.endsWith("/chat/completions")).length;
      const before = forwarded();
      const refused = await chat(server.url, spent.secret);
      expect(refused.status).toBe(429);
      const error = ((await refused.json()) as { error: { message: string; type: string; code: string } }).error;
      expect(error).toMatchObject({ type: "rate_limit_error", code: "premium_quota_exceeded" });
      expect(error.message).toContain(`premium request quota of key ${spent.id} reached: 3.25 of 3 premium requests used this month (UTC)`);
      expect(error.message).toContain(`it resets at ${new Date(nextMonth).toISOString().slice(0, 10)} 00:00:00 UTC`);
      expect(error.message).toContain(`keys update ${spent.id} --premium-quota`);
      const retryAfter = Number(refused.headers.get("retry-after"));
      expect(Math.abs(retryAfter - (nextMonth - Date.now()) / 1000)).toBeLessThan(60);
      expect(refused.headers.get("x-should-retry")).toBe("false");
      expect(forwarded()).toBe(before); // never forwarded (the catalog's own GET /models may come and go)

      expect((await chat(server.url, within.secret)).status).toBe(200);
      expect((await chat(server.url, unlimited.secret)).status).toBe(200);
    } finally {
      expect(await server.stop()).toBe(0);
      fake.stop();
    }
    const db = new Database(dbFileOf(home), { readonly: true });
    const events = db.query<{ status: number; error: string | null }, [string]>("SELECT status, error FROM events WHERE key_id = ?").all(spent.id);
    db.close();
    expect(events).toEqual([{ status: 429, error: "quota_exceeded" }]);
  });
});

describe("--premium-quota under concurrency", () => {
  test("200 concurrent requests on a quota of 1 and of 10 pass it by nothing: each holds its cost until its event is committed", async () => {
    const fake = startFakeUpstream();
    const home = tempDir();
    const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
    const one = await createKey(env, "--premium-quota", "1");
    const ten = await createKey(env, "--premium-quota", "10");
    const server = await startServer([], env);
    const passed: Record<string, number> = {};
    try {
      for (const key of [one, ten]) {
        const answers = await Promise.all(Array.from({ length: 200 }, () => chat(server.url, key.secret)));
        passed[key.id] = answers.filter((a) => a.status === 200).length;
        const refused = answers.filter((a) => a.status === 429);
        expect(passed[key.id]! + refused.length).toBe(200);
        // Those refused while the quota was only held by requests in flight are told to retry soon.
        for (const answer of refused) expect(((await answer.json()) as { error: { code: string } }).error.code).toBe("premium_quota_exceeded");
        for (const answer of answers.filter((a) => a.status === 200)) await answer.text();
      }
      // Every hold was released with its event: the quota is now reached by use alone.
      const after = await chat(server.url, ten.secret);
      expect(after.status).toBe(429);
      expect(after.headers.get("x-should-retry")).toBe("false");
    } finally {
      expect(await server.stop()).toBe(0);
      fake.stop();
    }
    // claude-sonnet-4 costs 1 premium request: no overshoot at all.
    expect(passed).toEqual({ [one.id]: 1, [ten.id]: 10 });
    const db = new Database(dbFileOf(home), { readonly: true });
    const used = db
      .query<{ key_id: string; premium: number }, []>("SELECT key_id, SUM(premium_requests) AS premium FROM usage_hourly GROUP BY key_id ORDER BY premium")
      .all();
    db.close();
    expect(used).toEqual([
      { key_id: one.id, premium: 1 },
      { key_id: ten.id, premium: 10 },
    ]);
  });
});

describe("premium usage this month, with injected clocks", () => {
  const newStore = () => openStore({ path: join(tempDir(), "quota.db") });
  const addKey = (store: Store, id: string) =>
    insertKey(store.db, { id, hash: id, tier: "client", label: "", allowedModels: ["*"], rateLimit: null, premiumQuota: 2 });

  test("the recorder's commits keep a cached sum current; the month turning starts again from zero; another process's writes are read after the TTL", async () => {
    const store = newStore();
    try {
      addKey(store, "key_a");
      let wall = Date.UTC(2026, 10, 30, 23, 0, 0);
      let mono = 0;
      const usage = new PremiumUsage(store, { now: () => wall, monotonic: () => mono, ttlMs: 5_000 });
      const recorder = new EventRecorder(store, { onCommitted: (events) => usage.committed(events) });
      const event = { ts: wall, keyId: "key_a", route: "/chat/completions", status: 200, latencyMs: 5, premiumRequests: 1 };
      expect(usage.used("key_a")).toBe(0);
      recorder.record(event);
      recorder.record({ ...event, premiumRequests: 0.33 });
      recorder.record({ ...event, premiumRequests: 0 });
      recorder.flush();
      expect(usage.used("key_a")).toBe(1.33); // no re-read: still within the TTL, kept by the commit hook

      seedPremium(store.path, "key_a", wall - (wall % HOUR), 5, "other-model"); // another process
      expect(usage.used("key_a")).toBe(1.33);
      mono += 5_000;
      expect(usage.used("key_a")).toBe(6.33);

      wall = Date.UTC(2026, 11, 1, 0, 0, 0); // December, UTC
      expect(usage.used("key_a")).toBe(0);
      recorder.record({ ...event, ts: Date.UTC(2026, 10, 30, 23, 59) }); // a November request finishing late
      recorder.flush();
      expect(usage.used("key_a")).toBe(0);
      recorder.stop();
    } finally {
      store.close();
    }
  });

  test("the middleware answers 429 until the first of next month (UTC), then lets the key through", async () => {
    const store = newStore();
    try {
      addKey(store, "key_b");
      seedPremium(store.path, "key_b", Date.UTC(2026, 10, 30, 23), 2);
      let wall = Date.UTC(2026, 10, 30, 23, 59, 30);
      const usage = new PremiumUsage(store, { now: () => wall, ttlMs: 0 });
      const key: ResolvedKey = { ...NO_AUTH_KEY, id: "key_b", tier: "client", premiumQuota: 2 };
      const draft = newDraft();
      const app = new Hono<AppEnv>();
      app.use(async (c, next) => {
        c.set("apiKey", key);
        c.set("event", draft);
        await next();
      });
      app.use(premiumQuota(usage));
      app.get("/x", (c) => c.text("ok"));

      const refused = await app.request("/x");
      expect(refused.status).toBe(429);
      expect(refused.headers.get("retry-after")).toBe("30");
      expect(((await refused.json()) as { error: { message: string } }).error.message).toContain(
        "2 of 2 premium requests used this month (UTC); it resets at 2026-12-01 00:00:00 UTC",
      );
      expect(draft.error).toBe("quota_exceeded");

      wall = Date.UTC(2026, 11, 1);
      expect((await app.request("/x")).status).toBe(200);
      key.premiumQuota = null;
      wall = Date.UTC(2026, 10, 30, 23, 59, 30);
      expect((await app.request("/x")).status).toBe(200); // no quota: never counted
    } finally {
      store.close();
    }
  });
});
