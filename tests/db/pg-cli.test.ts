import { describe, expect, test } from "bun:test";
import postgres from "postgres";
import { loadPgMigrations } from "~/db/migrations";
import { cleanUpAfterFile, cli, cliProcess, isolatedEnv, tempDir } from "../helpers";
import { NO_POSTGRES, postgresBin, startPostgres } from "../postgres";

cleanUpAfterFile();

const bin = postgresBin();
if (!bin) console.warn(`tests/db/pg-cli.test.ts: ${NO_POSTGRES}`);
const server = bin ? startPostgres(bin) : undefined;

/** A URL with a password (the test server trusts every local user), to prove it is never printed. */
async function urlWithPassword(): Promise<string> {
  return (await server!.freshDatabase()).replace("postgres@", "postgres:s3cret-pw@");
}

describe.skipIf(!bin)("db commands on a Postgres store (--database-url, COPILOT_API_DATABASE_URL)", () => {
  const count = loadPgMigrations({}).length;

  test("status shows the pending series, migrate applies it (two at once, each migration once), verify passes, then catches drift", async () => {
    const url = await urlWithPassword();
    const env = isolatedEnv(tempDir());
    const before = await cli(["db", "status", "--json", "--database-url", url], env);
    expect(before.code).toBe(0);
    expect(JSON.parse(before.stdout)).toMatchObject({ schemaVersion: 0, buildVersion: count, applied: [] });
    expect(before.stdout).not.toContain("s3cret-pw");

    const both = await Promise.all([
      cliProcess(["db", "migrate", "--database-url", url], env),
      cliProcess(["db", "migrate"], { ...env, COPILOT_API_DATABASE_URL: url }),
    ]);
    for (const run of both) expect(run.code).toBe(0);
    expect(`${both[0].stdout}${both[0].stderr}${both[1].stdout}${both[1].stderr}`).not.toContain("s3cret-pw");

    const after = await cli(["db", "status", "--json", "--database-url", url], env);
    expect(JSON.parse(after.stdout)).toMatchObject({ schemaVersion: count, pending: [], modified: [] });
    const verified = await cli(["db", "verify", "--database-url", url], env);
    expect(verified.code).toBe(0);

    const sql = postgres(url, { max: 1, onnotice: () => {} });
    await sql.unsafe('ALTER TABLE "keys" ADD COLUMN "by_hand" text');
    const [ledger] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM _migrations`;
    await sql.end();
    expect(ledger?.n).toBe(count);
    const drifted = await cli(["db", "verify", "--database-url", url], env);
    expect(drifted.code).not.toBe(0);
    expect(drifted.stderr).toContain("schema drift: keys: column by_hand is declared as (absent) but the database has text");
  });

  test("db backup on Postgres refuses and names pg_dump", async () => {
    const url = await urlWithPassword();
    const env = isolatedEnv(tempDir());
    const backup = await cli(["db", "backup", "--database-url", url], env);
    expect(backup.code).not.toBe(0);
    expect(backup.stderr).toContain("pg_dump");
  });

  test("a URL that reaches no server fails with a remedy and without the password", async () => {
    const env = isolatedEnv(tempDir());
    const result = await cli(["db", "status", "--database-url", "postgres://u:s3cret-pw@127.0.0.1:1/x"], env);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("cannot connect to postgres://u:***@127.0.0.1:1/x");
    expect(result.stderr).not.toContain("s3cret-pw");
  });
});
