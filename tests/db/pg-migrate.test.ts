import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { fromSources, loadPgMigrations, type Migration, readMigrationFolder } from "~/db/migrations";
import { splitAtBreakpoints } from "~/db/migrations/split";
import { connectPostgres, type PgConnection } from "~/db/pg/connect";
import { readPgLedger } from "~/db/pg/ledger";
import { applyPgMigrations, planPgMigrations } from "~/db/pg/runner";
import { cleanUpAfterFile, type Fixture, tempDir, writeMigrations } from "../helpers";
import { NO_POSTGRES, postgresBin, startPostgres } from "../postgres";

cleanUpAfterFile();

const bin = postgresBin();
if (!bin) console.warn(`tests/db/pg-migrate.test.ts: ${NO_POSTGRES}`);
const server = bin ? startPostgres(bin) : undefined;

/** A drizzle-kit folder of Postgres fixtures, loaded the way COPILOT_API_PG_MIGRATIONS_DIR is. */
function pgFixtures(fixtures: Fixture[]): Migration[] {
  const dir = writeMigrations(tempDir(), fixtures);
  return fromSources(readMigrationFolder(dir), dir, splitAtBreakpoints);
}

async function fresh(): Promise<PgConnection> {
  return connectPostgres(await server!.freshDatabase());
}

async function tables(conn: PgConnection): Promise<string[]> {
  const rows = await conn.db.execute<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1" as never);
  return rows.map((r) => r.name);
}

const ONE: Fixture = { tag: "0000_one", sql: 'CREATE TABLE "one" ("id" bigint PRIMARY KEY);' };
const TWO: Fixture = { tag: "0001_two", sql: 'CREATE TABLE "two" ("id" bigint PRIMARY KEY);\n--> statement-breakpoint\nINSERT INTO "one" VALUES (1);' };

describe.skipIf(!bin)("the Postgres migration runner", () => {
  test("applies drizzle-pg/ in order, one ledger row with its sha256 each, and nothing the second time", async () => {
    const conn = await fresh();
    try {
      const migrations = loadPgMigrations({});
      expect(migrations.length).toBeGreaterThan(0);
      const applied = await applyPgMigrations(conn.db, migrations);
      expect(applied.map((m) => m.tag)).toEqual(migrations.map((m) => m.tag));
      const ledger = await readPgLedger(conn.db);
      expect(ledger.map((r) => [r.version, r.tag, r.sha256])).toEqual(migrations.map((m) => [m.version, m.tag, m.hash]));
      expect(await tables(conn)).toContain("keys");
      expect(await applyPgMigrations(conn.db, migrations)).toEqual([]);
      const plan = await planPgMigrations(conn.db, migrations);
      expect([plan.dbVersion, plan.pending.length, plan.modified.length]).toEqual([migrations.length, 0, 0]);
    } finally {
      await conn.close();
    }
  });

  test("a failing statement rolls its whole migration back, ledger row included", async () => {
    const conn = await fresh();
    try {
      const broken = pgFixtures([ONE, { tag: "0001_two", sql: 'CREATE TABLE "two" ("id" bigint);\n--> statement-breakpoint\nINSERT INTO "nope" VALUES (1);' }]);
      const error = await applyPgMigrations(conn.db, broken).catch((e: Error) => e);
      expect(String(error)).toContain("0001_two.sql failed at statement 2 (line 3)");
      expect(await tables(conn)).toEqual(["_migrations", "one"]);
      expect((await readPgLedger(conn.db)).map((r) => r.tag)).toEqual(["0000_one"]);
    } finally {
      await conn.close();
    }
  });

  test("refuses, writing nothing, a migration edited after it was applied", async () => {
    const conn = await fresh();
    try {
      await applyPgMigrations(conn.db, pgFixtures([ONE]));
      const edited = pgFixtures([{ ...ONE, sql: 'CREATE TABLE "one" ("id" bigint PRIMARY KEY, "x" text);' }, TWO]);
      const error = await applyPgMigrations(conn.db, edited).catch((e: Error) => e);
      expect(String(error)).toContain("0000_one.sql was changed after it was applied: its sha256 is");
      expect(await tables(conn)).toEqual(["_migrations", "one"]);
      expect((await readPgLedger(conn.db)).length).toBe(1);
    } finally {
      await conn.close();
    }
  });

  test("refuses, writing nothing, a database newer than this build", async () => {
    const conn = await fresh();
    try {
      await applyPgMigrations(conn.db, pgFixtures([ONE, TWO]));
      const error = await applyPgMigrations(conn.db, pgFixtures([ONE])).catch((e: Error) => e);
      expect(String(error)).toContain("database schema 2 is newer than this build (1)");
      expect((await readPgLedger(conn.db)).length).toBe(2);
    } finally {
      await conn.close();
    }
  });

  test("refuses a migration that opens its own transaction or builds an index CONCURRENTLY", async () => {
    const conn = await fresh();
    try {
      for (const sql of ["BEGIN;\n--> statement-breakpoint\nCREATE TABLE x (id int);", 'CREATE INDEX CONCURRENTLY "i" ON "one" ("id");']) {
        const error = await applyPgMigrations(conn.db, pgFixtures([ONE, { tag: "0001_bad", sql }])).catch((e: Error) => e);
        expect(String(error)).toMatch(/0001_bad\.sql statement 1 \(line 1\): .*(not allowed in a migration|cannot run inside a transaction)/);
        expect(await tables(conn)).toEqual([]);
      }
    } finally {
      await conn.close();
    }
  });

  test("two gateways migrating at once serialise on the advisory lock: both succeed, each migration applied once", async () => {
    const url = await server!.freshDatabase();
    // A migration slow enough that both runners are inside it together without the lock
    // (then the second CREATE TABLE fails on the first one's uncommitted table).
    const slow = pgFixtures([{ tag: "0000_slow", sql: 'CREATE TABLE "one" ("id" bigint PRIMARY KEY);\n--> statement-breakpoint\nSELECT pg_sleep(0.5);' }, TWO]);
    const [a, b] = await Promise.all([connectPostgres(url), connectPostgres(url)]);
    try {
      const [fromA, fromB] = await Promise.all([applyPgMigrations(a.db, slow), applyPgMigrations(b.db, slow)]);
      expect([...fromA, ...fromB].map((m) => m.tag).sort()).toEqual(["0000_slow", "0001_two"]);
      expect((await readPgLedger(a.db)).map((r) => r.version)).toEqual([1, 2]);
      const [row] = await a.db.execute<{ n: number }>('SELECT count(*)::int AS n FROM "one"' as never);
      expect(row?.n).toBe(1);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

test("the Postgres series is embedded from drizzle-pg/", () => {
  expect(loadPgMigrations({}).map((m) => m.file)).toEqual(
    readMigrationFolder(join(import.meta.dir, "..", "..", "drizzle-pg")).map((s) => `drizzle-pg/${s.tag}.sql`),
  );
});
