import { afterAll, describe, expect, test } from "bun:test";
import { startFakeUpstream } from "../fake-upstream";
import { chatStatusBecomes, chatWithKey, cleanUpAfterFile, cli, createKeyByCli, isolatedEnv, responsesWithKey, startProcess, tempDir } from "../helpers";
import { NO_POSTGRES, postgresBin, pgRows as query, startPostgres } from "../postgres";

cleanUpAfterFile();

const bin = postgresBin();
if (!bin) console.warn(`tests/postgres/serve.test.ts: ${NO_POSTGRES}`);
const server = bin ? startPostgres(bin) : undefined;
const fake = startFakeUpstream();
afterAll(() => fake.stop());

const gatewayEnv = () => isolatedEnv(tempDir(), { ...fake.env(), GH_TOKEN: fake.githubToken });

describe.skipIf(!bin)("start --database-url: one gateway serving from PostgreSQL", () => {
  test("migrates before it listens, checks keys, serves chat, Messages and Responses (a chain too), writes every event", async () => {
    const url = await server!.freshDatabase();
    const env = gatewayEnv();
    const gateway = await startProcess(["--database-url", url], env);
    const log = gateway.log();
    // No port before the migrations finished.
    expect(log.indexOf("database at schema")).toBeGreaterThan(-1);
    expect(log.indexOf("database at schema")).toBeLessThan(log.indexOf("listening on"));

    const key = await createKeyByCli({ ...env, COPILOT_API_DATABASE_URL: url });
    expect((await chatWithKey(gateway.url, "cpk_wrong", "gpt-4.1")).status).toBe(401);
    const chat = await chatWithKey(gateway.url, key.secret, "gpt-4.1");
    expect(chat.status).toBe(200);
    expect((await chat.json()).choices[0].message.content).toBeString();

    const messages = await fetch(`${gateway.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": key.secret, "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "claude-sonnet-4.5", max_tokens: 100, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(messages.status).toBe(200);
    expect((await messages.json()).type).toBe("message");

    const first = await responsesWithKey(gateway.url, key.secret, { input: "remember: blue" });
    expect(first.status).toBe(200);
    const { id } = (await first.json()) as { id: string };
    const second = await responsesWithKey(gateway.url, key.secret, { input: "what colour?", previous_response_id: id });
    expect(second.status).toBe(200);
    // The chain was expanded from PostgreSQL: the first turn went upstream again.
    expect(JSON.stringify(fake.requests.at(-1)?.body)).toContain("remember: blue");
    const fetched = await fetch(`${gateway.url}/v1/responses/${id}`, { headers: { authorization: `Bearer ${key.secret}` } });
    expect(fetched.status).toBe(200);
    expect(((await fetched.json()) as { id: string }).id).toBe(id);

    // Events are written before the answers leave.
    const events = await query<{ route: string; key_id: string; status: number }>(url, "SELECT route, key_id, status::int AS status FROM events ORDER BY id");
    expect(events.map((e) => [e.route, e.status])).toEqual([
      ["/chat/completions", 401],
      ["/chat/completions", 200],
      ["/messages", 200],
      ["/responses", 200],
      ["/responses", 200],
    ]);
    expect(events.slice(1).every((e) => e.key_id === key.id)).toBe(true);
    const [hour] = await query<{ requests: string; cost: string }>(
      url,
      `SELECT sum(requests) AS requests, sum(cost_nano_aiu) AS cost FROM usage_hourly WHERE key_id = '${key.id}'`,
    );
    expect(Number(hour?.requests)).toBe(4);
    expect(Number(hour?.cost)).toBeGreaterThan(0);

    // The usage report reads the same hourly totals: admin keys only.
    const usage = await fetch(`${gateway.url}/admin/usage`, { headers: { authorization: `Bearer ${key.secret}` } });
    expect(usage.status).toBe(403);
    const admin = await createKeyByCli({ ...env, COPILOT_API_DATABASE_URL: url }, "--tier", "admin");
    const asAdmin = await fetch(`${gateway.url}/admin/usage`, { headers: { authorization: `Bearer ${admin.secret}` } });
    expect(asAdmin.status).toBe(200);
    const report = (await asAdmin.json()) as { rows: { group: string; requests: number }[] };
    expect(report.rows.find((row) => row.group === key.id)?.requests).toBe(4);

    // Updated by the CLI: the gateway applies it (NOTIFY) — gpt-4.1 is no longer allowed.
    const updated = await cli(["keys", "update", key.id, "--models", "gpt-5-mini", "--database-url", url], env);
    expect(updated.code).toBe(0);
    expect(await chatStatusBecomes(gateway.url, key.secret, 403)).toBe(403);
    expect((await cli(["keys", "update", key.id, "--database-url", url], env)).stderr).toContain("nothing to change");

    // Revoked by the CLI: refused from the next request (NOTIFY), polled within a second otherwise.
    const revoked = await cli(["keys", "revoke", key.id, "--database-url", url], env);
    expect(revoked.code).toBe(0);
    expect(await chatStatusBecomes(gateway.url, key.secret, 401)).toBe(401);
    const listed = await cli(["keys", "list", "--all", "--json", "--database-url", url], env);
    expect(JSON.parse(listed.stdout).find((k: { id: string }) => k.id === key.id).revokedAt).toBeNumber();

    expect(await gateway.stop()).toBe(0);
  });

  test("what does not work on PostgreSQL yet is refused at start, with what to do", async () => {
    const url = await server!.freshDatabase();
    const env = gatewayEnv();
    const replicated = await cli(["start", "--port", "0", "--database-url", url, "--replicate-to", "file:///tmp/x"], env);
    expect(replicated.code).not.toBe(0);
    expect(replicated.stderr).toContain("--replicate-to does not work with --database-url yet");
    const dbPath = await cli(["start", "--port", "0", "--db-path", `${tempDir()}/x.db`], { ...env, COPILOT_API_DATABASE_URL: url });
    expect(dbPath.code).not.toBe(0);
    expect(dbPath.stderr).toContain("--db-path does not work with --database-url yet");
  });
});
