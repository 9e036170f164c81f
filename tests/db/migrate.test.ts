import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { openStore } from "~/db";
import { automaticBackups } from "~/db/backup";
import { applyMigrations, fromSources, type Migration, readLedger, userVersion } from "~/db/migrations";
import { openDatabase } from "~/db/open";
import { AppError } from "~/lib/errors";
import { cleanUpAfterFile, type Fixture, tempDir } from "../helpers";

cleanUpAfterFile();

const PLACEHOLDER: Fixture = { tag: "0000_placeholder", sql: "-- Custom SQL migration file, put your code below! --" };
const FAMILY: Fixture = {
  tag: "0001_family",
  sql: `CREATE TABLE \`parents\` (\`id\` integer PRIMARY KEY NOT NULL, \`name\` text NOT NULL);
--> statement-breakpoint
CREATE TABLE \`children\` (\`id\` integer PRIMARY KEY NOT NULL, \`parent_id\` integer NOT NULL REFERENCES \`parents\`(\`id\`) ON DELETE CASCADE);
--> statement-breakpoint
INSERT INTO parents VALUES (1, 'a'), (2, 'b');
--> statement-breakpoint
INSERT INTO children VALUES (10, 1), (11, 1), (12, 2);`,
};
/** What drizzle-kit 0.31 writes when a column change forces SQLite's table rebuild. */
const REBUILD_PARENTS: Fixture = {
  tag: "0002_rebuild_parents",
  sql: `PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE \`__new_parents\` (\`id\` integer PRIMARY KEY NOT NULL, \`name\` text NOT NULL, \`nick\` text DEFAULT 'none' NOT NULL);
--> statement-breakpoint
INSERT INTO \`__new_parents\`("id", "name") SELECT "id", "name" FROM \`parents\`;--> statement-breakpoint
DROP TABLE \`parents\`;--> statement-breakpoint
ALTER TABLE \`__new_parents\` RENAME TO \`parents\`;--> statement-breakpoint
PRAGMA foreign_keys=ON;`,
};

const build = (...fixtures: Fixture[]): Migration[] => fromSources(fixtures, "drizzle");

function freshDb(): { path: string; sqlite: Database } {
  const path = join(tempDir(), "data", "copilot-api.db");
  return { path, sqlite: openDatabase(path, { create: true }).sqlite };
}

/** Everything a migration could touch: schema, user_version, ledger and rows. */
function snapshot(sqlite: Database) {
  const tables = sqlite.query<{ name: string; sql: string }, []>("SELECT name, sql FROM sqlite_schema ORDER BY name").all();
  const rows = Object.fromEntries(
    tables.filter((t) => t.sql?.startsWith("CREATE TABLE")).map((t) => [t.name, sqlite.query(`SELECT * FROM "${t.name}" ORDER BY rowid`).all()]),
  );
  return { tables, rows, userVersion: userVersion(sqlite) };
}

function errorOf(fn: () => unknown): AppError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error("expected an AppError, nothing was thrown");
}

describe("migration runner", () => {
  test("applies each migration in order, setting user_version and the ledger in the same transaction", () => {
    const { sqlite } = freshDb();
    const migrations = build(PLACEHOLDER, FAMILY);
    expect(applyMigrations(sqlite, migrations).map((m) => m.version)).toEqual([1, 2]);
    expect(userVersion(sqlite)).toBe(2);
    expect(readLedger(sqlite).map((r) => [r.version, r.tag, r.sha256])).toEqual([
      [1, "0000_placeholder", migrations[0]!.hash],
      [2, "0001_family", migrations[1]!.hash],
    ]);
    expect(sqlite.query("SELECT count(*) AS n FROM children").get()).toEqual({ n: 3 });
    // Nothing pending: a second run applies nothing.
    expect(applyMigrations(sqlite, migrations)).toEqual([]);
    // Foreign keys are back on for the connection afterwards.
    expect(sqlite.query("PRAGMA foreign_keys").get()).toEqual({ foreign_keys: 1 });
  });

  test("runs every statement of a chunk that has no breakpoints", () => {
    const { sqlite } = freshDb();
    applyMigrations(sqlite, build({ tag: "0000_many", sql: "CREATE TABLE a (x); CREATE TABLE b (x); INSERT INTO b VALUES (1); INSERT INTO b VALUES (2);" }));
    expect(sqlite.query("SELECT count(*) AS n FROM b").get()).toEqual({ n: 2 });
  });

  test("a failing migration rolls back completely and names file, statement and SQLite's message", () => {
    const { sqlite } = freshDb();
    applyMigrations(sqlite, build(PLACEHOLDER, FAMILY));
    const before = snapshot(sqlite);
    const ledgerBefore = readLedger(sqlite);
    const failing: Fixture = {
      tag: "0002_breaks",
      sql: "CREATE TABLE extra (id integer);\n--> statement-breakpoint\nINSERT INTO parents VALUES (3, 'c');\n--> statement-breakpoint\nINSERT INTO nowhere VALUES (1);",
    };
    const error = errorOf(() => applyMigrations(sqlite, build(PLACEHOLDER, FAMILY, failing)));
    expect(error.message).toContain("drizzle/0002_breaks.sql");
    expect(error.message).toContain("statement 3 (line 5)");
    expect(error.message).toContain("no such table: nowhere");
    expect(error.message).toContain("INSERT INTO nowhere VALUES (1)");
    expect(snapshot(sqlite)).toEqual(before);
    expect(readLedger(sqlite)).toEqual(ledgerBefore);
    expect(sqlite.inTransaction).toBe(false);
  });

  test("a table rebuild keeps every ON DELETE CASCADE child row", () => {
    const { sqlite } = freshDb();
    applyMigrations(sqlite, build(PLACEHOLDER, FAMILY, REBUILD_PARENTS));
    expect(sqlite.query("SELECT count(*) AS n FROM children").get()).toEqual({ n: 3 });
    expect(sqlite.query("SELECT nick FROM parents WHERE id = 1").get()).toEqual({ nick: "none" });
    expect(sqlite.query("PRAGMA foreign_key_check").all()).toEqual([]);
  });

  test("control: the same rebuild run naively inside a transaction with foreign keys on loses the children", () => {
    const { sqlite } = freshDb();
    applyMigrations(sqlite, build(PLACEHOLDER, FAMILY));
    sqlite.run("PRAGMA foreign_keys = ON");
    sqlite.transaction(() => {
      for (const s of build(REBUILD_PARENTS)[0]!.statements) sqlite.run(s.sql);
    })();
    expect(sqlite.query("SELECT count(*) AS n FROM children").get()).toEqual({ n: 0 });
  });

  test("a migration that leaves foreign key violations is rolled back, naming the table", () => {
    const { sqlite } = freshDb();
    applyMigrations(sqlite, build(PLACEHOLDER, FAMILY));
    const before = snapshot(sqlite);
    const orphan: Fixture = { tag: "0002_orphan", sql: "INSERT INTO children VALUES (99, 404);" };
    const error = errorOf(() => applyMigrations(sqlite, build(PLACEHOLDER, FAMILY, orphan)));
    expect(error.message).toContain("drizzle/0002_orphan.sql leaves 1 foreign key violation(s): children row 99 → parents");
    expect(snapshot(sqlite)).toEqual(before);
  });

  test("an applied migration whose file changed is refused, naming the file, and nothing is written", () => {
    const { sqlite } = freshDb();
    applyMigrations(sqlite, build(PLACEHOLDER, FAMILY));
    const before = snapshot(sqlite);
    const edited = { ...FAMILY, sql: FAMILY.sql.replace("'b'", "'B'") };
    const error = errorOf(() => applyMigrations(sqlite, build(PLACEHOLDER, edited, REBUILD_PARENTS)));
    expect(error.message).toContain("drizzle/0001_family.sql was changed after it was applied");
    expect(error.hint).toContain("nothing was written");
    expect(snapshot(sqlite)).toEqual(before);
  });

  test("a migration inserted before applied ones (a reordered journal) is refused", () => {
    const { sqlite } = freshDb();
    applyMigrations(sqlite, build(PLACEHOLDER, FAMILY));
    const sneaky: Fixture = { tag: "0001_sneaky", sql: "CREATE TABLE sneaky (x);" };
    const error = errorOf(() => applyMigrations(sqlite, build(PLACEHOLDER, sneaky, FAMILY)));
    expect(error.message).toContain("drizzle/0001_sneaky.sql was changed after it was applied: the ledger says version 2 was 0001_family");
  });

  test("a database newer than the build is refused and nothing is written", () => {
    const { sqlite } = freshDb();
    applyMigrations(sqlite, build(PLACEHOLDER, FAMILY));
    sqlite.run("PRAGMA user_version = 5");
    const before = snapshot(sqlite);
    const error = errorOf(() => applyMigrations(sqlite, build(PLACEHOLDER, FAMILY, REBUILD_PARENTS)));
    expect(error.message).toBe("database schema 5 is newer than this build (3)");
    expect(snapshot(sqlite)).toEqual(before);
  });

  test.each([
    ["PRAGMA journal_mode=DELETE;", "is not allowed in a migration"],
    ["BEGIN;\nCREATE TABLE t (x);\nCOMMIT;", "BEGIN is not allowed in a migration"],
    ["SAVEPOINT a; CREATE TABLE t (x); RELEASE a;", "SAVEPOINT is not allowed in a migration"],
    ["VACUUM;", "VACUUM is not allowed in a migration"],
  ])("refuses %p before applying anything", (sql, message) => {
    const { sqlite } = freshDb();
    const error = errorOf(() => applyMigrations(sqlite, build(PLACEHOLDER, FAMILY, { tag: "0002_bad", sql })));
    expect(error.message).toContain("drizzle/0002_bad.sql statement 1 (line 1)");
    expect(error.message).toContain(message);
    // Validation happens before the first transaction: even the good migrations were not applied.
    expect(userVersion(sqlite)).toBe(0);
  });

  test("backs up a database that has a schema before migrating it, 0600, keeping the newest five", () => {
    const home = tempDir();
    const path = join(home, "copilot-api.db");
    const fixtures: Fixture[] = [PLACEHOLDER, FAMILY];
    openStore({ path, migrations: build(...fixtures) }).close();
    expect(automaticBackups(path)).toEqual([]); // a new database has nothing to lose
    for (let i = 0; i < 7; i++) {
      fixtures.push({ tag: `000${fixtures.length}_step`, sql: `CREATE TABLE step${i} (x);` });
      openStore({ path, migrations: build(...fixtures) }).close();
    }
    const backups = automaticBackups(path);
    expect(backups).toHaveLength(5);
    for (const file of backups) expect(statSync(file).mode & 0o777).toBe(0o600);
    // The newest backup holds the schema as it was before the last migration.
    const newest = new Database(backups.at(-1)!, { readonly: true });
    expect(userVersion(newest)).toBe(fixtures.length - 1);
    expect(newest.query("SELECT count(*) AS n FROM children").get()).toEqual({ n: 3 });
    newest.close();
  });
});
