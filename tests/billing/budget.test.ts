import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { startFakeUpstream } from "../fake-upstream";
import { chatWithKey, cleanUpAfterFile, cli, createKey, dbFileOf, isolatedEnv, seedUsageHour, startServer, tempDir } from "../helpers";

cleanUpAfterFile();

const HOUR = 3_600_000;

const seedSpent = (file: string, keyId: string, nanoAiu: number, at = Date.now()) =>
  seedUsageHour(file, { hour: at - (at % HOUR), keyId, model: "gpt-4.1", column: "cost_nano_aiu", value: nanoAiu });

function spent(file: string, keyId: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return db.query<{ n: number }, [string]>("SELECT coalesce(sum(cost_nano_aiu), 0) AS n FROM usage_hourly WHERE key_id = ?").get(keyId)!.n;
  } finally {
    db.close();
  }
}

const chat = (url: string, secret: string) => chatWithKey(url, secret, "gpt-4.1");

describe("--budget: AI credits per key and calendar month", () => {
  test("a key that spent its budget gets 429 budget_exceeded (budget, spent, reset, Retry-After) in its protocol's shape; last month's spend does not count", async () => {
    const fake = startFakeUpstream();
    const home = tempDir();
    const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
    const done = await createKey(env, "--budget", "5usd");
    const fresh = await createKey(env, "--budget", "500credits");
    const now = Date.now();
    const d = new Date(now);
    const nextMonth = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    seedSpent(dbFileOf(home), done.id, 5e11);
    seedSpent(dbFileOf(home), fresh.id, 9e12, Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 10));
    const shown = JSON.parse((await cli(["keys", "show", done.id, "--json"], env)).stdout) as { budgetNanoAiu: number };
    expect(shown.budgetNanoAiu).toBe(5e11);
    const server = await startServer([], env);
    try {
      const sent = () => fake.requests.filter((r) => r.method === "POST").length;
      const before = sent();
      const refused = await chat(server.url, done.secret);
      expect(refused.status).toBe(429);
      const error = ((await refused.json()) as { error: { message: string; type: string; code: string } }).error;
      expect(error).toMatchObject({ type: "rate_limit_error", code: "budget_exceeded" });
      expect(error.message).toContain(`budget of key ${done.id} reached: 500.0000 credits ($5.0000) spent of 500.0000 credits ($5.0000) this month (UTC)`);
      expect(error.message).toContain(`resets at ${new Date(nextMonth).toISOString().slice(0, 10)} 00:00:00 UTC`);
      expect(error.message).toContain(`keys update ${done.id} --budget`);
      expect(Math.abs(Number(refused.headers.get("retry-after")) - (nextMonth - Date.now()) / 1000)).toBeLessThan(60);
      expect(refused.headers.get("x-should-retry")).toBe("false");

      const anthropic = new Anthropic({ baseURL: server.url, apiKey: done.secret, maxRetries: 0 });
      const claude = await anthropic.messages
        .create({ model: "claude-sonnet-4.5", max_tokens: 10, messages: [{ role: "user", content: "hi" }] })
        .catch((e) => e);
      expect(claude).toBeInstanceOf(Anthropic.RateLimitError);
      expect((claude as InstanceType<typeof Anthropic.RateLimitError>).error).toMatchObject({ type: "error", error: { type: "rate_limit_error" } });
      expect(sent()).toBe(before); // never forwarded

      expect((await chat(server.url, fresh.secret)).status).toBe(200);
    } finally {
      expect(await server.stop()).toBe(0);
      fake.stop();
    }
    const db = new Database(dbFileOf(home), { readonly: true });
    const errors = db.query<{ error: string }, [string]>("SELECT error FROM events WHERE key_id = ?").all(done.id);
    db.close();
    expect(errors).toEqual([{ error: "budget_exceeded" }, { error: "budget_exceeded" }]);
  });

  test("64 concurrent requests on a key near its budget: each holds its model's recent cost until settled, so the overshoot stays under one request's cost", async () => {
    const fake = startFakeUpstream();
    const home = tempDir();
    const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
    const warm = await createKey(env);
    const near = await createKey(env, "--budget", "1credits");
    const server = await startServer([], env);
    let passed = 0;
    let perRequest = 0;
    try {
      // One request teaches the gateway what gpt-4.1 costs (the estimate a hold takes).
      const before = fake.nanoAiuSent;
      expect((await chat(server.url, warm.secret)).status).toBe(200);
      perRequest = fake.nanoAiuSent - before;
      // 4.5 requests' worth left of the budget.
      seedSpent(dbFileOf(home), near.id, 1e9 - 4.5 * perRequest);
      const answers = await Promise.all(Array.from({ length: 64 }, () => chat(server.url, near.secret)));
      passed = answers.filter((a) => a.status === 200).length;
      for (const answer of answers) {
        if (answer.status === 200) await answer.text();
        else expect(((await answer.json()) as { error: { code: string } }).error.code).toBe("budget_exceeded");
      }
      // Settled: the budget is now reached by what was spent alone.
      const after = await chat(server.url, near.secret);
      expect(after.status).toBe(429);
      expect(after.headers.get("x-should-retry")).toBe("false");
    } finally {
      expect(await server.stop()).toBe(0);
      fake.stop();
    }
    const overshoot = spent(dbFileOf(home), near.id) - 1e9;
    console.log(
      `budget 1 credit, 4.5 requests left, 64 concurrent: ${passed} passed, overshoot ${overshoot} nano-AIU (${overshoot / perRequest} of one request's cost)`,
    );
    expect(passed).toBe(5);
    expect(overshoot).toBeGreaterThan(0);
    expect(overshoot).toBeLessThan(perRequest);
  });
});
