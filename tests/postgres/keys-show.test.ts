// `keys show --database-url`: one key from the shared store, printed as on SQLite.
import { describe, expect, test } from "bun:test";
import { cleanUpAfterFile, cli, createKey, isolatedEnv, tempDir } from "../helpers";
import { NO_POSTGRES, pgRows, postgresBin, startPostgres } from "../postgres";

cleanUpAfterFile();

const bin = postgresBin();
if (!bin) console.warn(`tests/postgres/keys-show.test.ts: ${NO_POSTGRES}`);
const server = bin ? startPostgres(bin) : undefined;

/** This hour, as usage_hourly keys it. */
const thisHour = () => Math.floor(Date.now() / 3_600_000) * 3_600_000;

describe.skipIf(!bin)("keys show --database-url", () => {
  test("prints the key and what it used this month, the same fields and table as on SQLite; a revoked key too; an unknown id says what to do", async () => {
    const url = await server!.freshDatabase();
    const pgEnv = isolatedEnv(tempDir(), { COPILOT_API_DATABASE_URL: url });
    const sqliteEnv = isolatedEnv(tempDir());
    const args = ["--label", "team-a", "--budget", "5usd", "--premium-quota", "40", "--rate-limit", "30"];
    const onPg = await createKey(pgEnv, ...args);
    const onSqlite = await createKey(sqliteEnv, ...args);
    // Used this month (two models) and last month (not counted).
    await pgRows(
      url,
      `INSERT INTO usage_hourly (hour, key_id, model, requests, premium_requests, cost_nano_aiu) VALUES
         (${thisHour()}, '${onPg.id}', 'gpt-4.1', 3, 1.5, 250000000000),
         (${thisHour()}, '${onPg.id}', 'claude-sonnet-4.5', 1, 1, 50000000000),
         (${thisHour() - 40 * 86_400_000}, '${onPg.id}', 'gpt-4.1', 9, 9, 900000000000)`,
    );

    const shown = await cli(["keys", "show", onPg.id, "--json"], pgEnv);
    expect(shown.code).toBe(0);
    const view = JSON.parse(shown.stdout) as Record<string, unknown>;
    expect(view).toMatchObject({
      id: onPg.id,
      label: "team-a",
      tier: "client",
      rateLimit: 30,
      premiumQuota: 40,
      budgetNanoAiu: 500_000_000_000,
      premiumUsedThisMonth: 2.5,
      spentThisMonthNanoAiu: 300_000_000_000,
      revokedAt: null,
      credentialId: null,
    });
    expect(shown.stdout).not.toContain(onPg.secret);
    expect(shown.stdout).not.toContain("hash");
    const sqliteView = JSON.parse((await cli(["keys", "show", onSqlite.id, "--json"], sqliteEnv)).stdout) as Record<string, unknown>;
    expect(Object.keys(view)).toEqual(Object.keys(sqliteView));

    // The table: the same header, this month's use against the key's limits.
    const table = await cli(["keys", "show", onPg.id], pgEnv);
    const sqliteTable = await cli(["keys", "show", onSqlite.id], sqliteEnv);
    const header = (text: string) => text.split("\n")[0]!.split(/\s{2,}/);
    expect(header(table.stdout)).toEqual(header(sqliteTable.stdout));
    expect(table.stdout).toContain(onPg.id);
    expect(table.stdout).toContain("300.0000 of 500.0000");
    expect(table.stdout).toContain("2.5 of 40");

    // A revoked key is shown (as revoked); an unknown id is an error with a remedy.
    expect((await cli(["keys", "revoke", onPg.id], pgEnv)).code).toBe(0);
    expect((await cli(["keys", "show", onPg.id], pgEnv)).stdout).toContain("revoked");
    const unknown = await cli(["keys", "show", "key_nope"], pgEnv);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("no key with id key_nope");
  });
});
