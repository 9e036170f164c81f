import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { diffShapes, shapeOfDatabase, shapeOfSchema } from "~/db/introspect";
import {
  applyMigrations,
  checkMigrations,
  fromSources,
  isForeignKeysPragma,
  type Migration,
  readMigrationFolder,
  repairRebuilds,
  userVersion,
} from "~/db/migrations";
import { openDatabase } from "~/db/open";
import { AppError } from "~/lib/errors";
import { cleanUpAfterFile, cli, dbFileOf, type Fixture, isolatedEnv, ROOT, tempDir, writeMigrations } from "../helpers";

cleanUpAfterFile();

/**
 * drizzle-kit 0.31's table rebuild, end to end: the exact change of issue 15
 * (in keys, make label nullable and add owner NOT NULL DEFAULT 'nobody') made
 * to a scratch copy of schema.ts and drizzle/, never to the repo's own.
 */

const scratches: string[] = [];
afterAll(() => {
  for (const dir of scratches) rmSync(dir, { recursive: true, force: true });
});

/** A copy of drizzle/ and schema.ts under .tmp/ (drizzle-kit 0.31 mangles absolute --out paths). */
function scratchCopy(edit: (schema: string) => string): { dir: string; out: string; schema: string } {
  const dir = join(ROOT, ".tmp", `rebuild-${process.pid}-${Math.random().toString(16).slice(2)}`);
  scratches.push(dir);
  mkdirSync(dir, { recursive: true });
  cpSync(join(ROOT, "drizzle"), join(dir, "drizzle"), { recursive: true });
  const original = readFileSync(join(ROOT, "src", "db", "schema.ts"), "utf8");
  const edited = edit(original);
  expect(edited).not.toBe(original);
  writeFileSync(join(dir, "schema.ts"), edited);
  return { dir, out: join(dir, "drizzle"), schema: join(dir, "schema.ts") };
}

const ADD_OWNER = (s: string) =>
  s.replace('label: text("label").notNull().default(""),', 'label: text("label").default(""),\n    owner: text("owner").notNull().default("nobody"),');
const DROP_RATE_LIMIT = (s: string) =>
  s
    .replace('label: text("label").notNull().default(""),', 'label: text("label").default(""),')
    .replace('rateLimit: integer("rate_limit"),', "")
    .replace(/\n\s*check\("keys_rate_limit_positive"[^\n]*\n/, "\n");

function run(cmd: string[], env: Record<string, string | undefined> = process.env) {
  const result = Bun.spawnSync([process.execPath, ...cmd], { cwd: ROOT, stdin: "ignore", env: { ...env, FORCE_COLOR: "0" } });
  return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

const generate = (c: { out: string; schema: string }, name: string, script = ["run", "scripts/db-generate.ts"]) =>
  run([...script, "--dialect", "sqlite", "--schema", relative(ROOT, c.schema), "--out", relative(ROOT, c.out), "--name", name]);
const rawDrizzleKit = ["x", "drizzle-kit", "generate"];

const migrationsOf = (out: string): Migration[] => fromSources(readMigrationFolder(out), relative(ROOT, out));

const KEY_ROWS = [
  {
    id: "k1",
    hash: "h1",
    tier: "admin",
    label: "first",
    allowed_models: '["*"]',
    rate_limit: null,
    created_at: 1,
    last_used_at: 5,
    revoked_at: null,
    premium_quota: 300,
    expires_at: null,
    credential_id: null,
    budget_nano_aiu: null,
  },
  {
    id: "k2",
    hash: "h2",
    tier: "client",
    label: "",
    allowed_models: '["gpt-*","claude-*"]',
    rate_limit: 60,
    created_at: 2,
    last_used_at: null,
    revoked_at: 9,
    premium_quota: null,
    expires_at: 7,
    credential_id: null,
    budget_nano_aiu: null,
  },
  {
    id: "k3",
    hash: "h3",
    tier: "client",
    label: "third",
    allowed_models: "[]",
    rate_limit: 1,
    created_at: 3,
    last_used_at: null,
    revoked_at: null,
    premium_quota: null,
    expires_at: null,
    credential_id: null,
    budget_nano_aiu: null,
  },
];

function insertKeys(sqlite: Database): void {
  const insert = sqlite.query(
    "INSERT INTO keys (id, hash, tier, label, allowed_models, rate_limit, created_at, last_used_at, revoked_at, premium_quota, expires_at, credential_id, budget_nano_aiu) VALUES ($id, $hash, $tier, $label, $allowed_models, $rate_limit, $created_at, $last_used_at, $revoked_at, $premium_quota, $expires_at, $credential_id, $budget_nano_aiu)",
  );
  for (const row of KEY_ROWS) insert.run(row);
}

/** A real database file at the repo's current schema (all of drizzle/), holding three keys. */
function databaseWithKeys(): { path: string; sqlite: Database } {
  const path = join(tempDir(), "data", "copilot-api.db");
  const { sqlite } = openDatabase(path, { create: true });
  applyMigrations(sqlite, migrationsOf(join(ROOT, "drizzle")));
  insertKeys(sqlite);
  return { path, sqlite };
}

const keysOf = (sqlite: Database) => sqlite.query<Record<string, unknown>, []>("SELECT * FROM keys ORDER BY id").all();

function errorOf(fn: () => unknown): AppError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error("expected an AppError, nothing was thrown");
}

/** The migrations this build carries, and the tag prefix the next generated one gets. */
const BUILT = readMigrationFolder(join(ROOT, "drizzle")).length;
const next = (offset = 0) => String(BUILT + offset).padStart(4, "0");
/** The 1-based line of a file's text where `needle` first appears. */
const lineOf = (text: string, needle: string) => text.slice(0, text.indexOf(needle)).split("\n").length;
/** The keys table's columns at this build's schema, quoted as drizzle-kit writes them. */
function keyColumns(): string {
  const { sqlite } = databaseWithKeys();
  const names = sqlite
    .query<{ name: string }, []>("SELECT name FROM pragma_table_info('keys')")
    .all()
    .map((c) => `"${c.name}"`);
  sqlite.close();
  return names.join(", ");
}

describe("drizzle-kit table rebuilds", () => {
  test("the issue's change through the real db:generate: repaired, and on a database with rows every key keeps its data and gets the default", async () => {
    const copy = scratchCopy(ADD_OWNER);
    const generated = generate(copy, "keys_owner");
    expect(generated.code).toBe(0);
    const file = `${relative(ROOT, copy.out)}/${next()}_keys_owner.sql`;
    const sql = readFileSync(join(copy.out, `${next()}_keys_owner.sql`), "utf8");
    const insertLine = lineOf(sql, "INSERT INTO `__new_keys`");
    expect(generated.stdout).toContain(`repaired ${file} line ${insertLine}: the rebuild of keys no longer copies "owner"`);
    expect(sql).toContain("CREATE TABLE `__new_keys`");
    const columns = keyColumns();
    expect(sql).toContain(`INSERT INTO \`__new_keys\`(${columns}) SELECT ${columns} FROM \`keys\``);

    const { sqlite } = databaseWithKeys();
    expect(applyMigrations(sqlite, migrationsOf(copy.out)).map((m) => m.tag)).toEqual([`${next()}_keys_owner`]);
    expect(keysOf(sqlite)).toEqual(KEY_ROWS.map((row) => ({ ...row, owner: "nobody" })));
    // The result is exactly what the edited schema declares, and db:check agrees the folder carries it.
    const edited = (await import(copy.schema)) as Record<string, unknown>;
    expect(diffShapes(shapeOfSchema(edited), shapeOfDatabase(sqlite))).toEqual([]);
    sqlite.close();
    const check = run(["run", "scripts/db-check.ts"], {
      ...process.env,
      DB_CHECK_SCHEMA: relative(ROOT, copy.schema),
      DB_CHECK_OUT: relative(ROOT, copy.out),
      DB_CHECK_ONLY: "sqlite",
    });
    expect(check.stdout).toContain("db:check ok");
    expect(check.code).toBe(0);
  });

  test("the same file committed without the repair is refused by db:check, db migrate, start and db verify, naming the column; nothing is written", async () => {
    const copy = scratchCopy(ADD_OWNER);
    expect(generate(copy, "keys_owner", rawDrizzleKit).code).toBe(0);
    const file = `${relative(ROOT, copy.out)}/${next()}_keys_owner.sql`;
    const unrepaired = readFileSync(join(copy.out, `${next()}_keys_owner.sql`), "utf8");
    expect(unrepaired).toContain('SELECT "id", "hash", "tier", "label", "owner"');
    const insertLine = lineOf(unrepaired, "INSERT INTO `__new_keys`");

    const check = run(["run", "scripts/db-check.ts"], {
      ...process.env,
      DB_CHECK_SCHEMA: relative(ROOT, copy.schema),
      DB_CHECK_OUT: relative(ROOT, copy.out),
      DB_CHECK_ONLY: "sqlite",
    });
    expect(check.code).toBe(1);
    expect(check.stderr).toContain(`${file} statement 3 (line ${insertLine}) reads "owner", which is not a column of the table it reads at that point`);
    expect(check.stderr).toContain(
      `fix: this is drizzle-kit 0.31's table rebuild copying a column the old table does not have yet: run \`bun run db:generate --repair ${file}\``,
    );

    // A real database at schema 4 with keys, then a build that carries the broken file.
    const home = tempDir();
    const current = writeMigrations(join(home, "current"), readMigrationFolder(join(ROOT, "drizzle")));
    expect((await cli(["db", "migrate"], isolatedEnv(home, { COPILOT_API_MIGRATIONS_DIR: current }))).code).toBe(0);
    const raw = new Database(dbFileOf(home));
    insertKeys(raw);
    raw.close();
    const dump = () => Bun.spawnSync(["sqlite3", dbFileOf(home), ".dump"]).stdout.toString();
    const before = dump();
    const env = isolatedEnv(home, { COPILOT_API_MIGRATIONS_DIR: copy.out });
    for (const args of [
      ["db", "migrate"],
      ["start", "--port", "0"],
    ]) {
      const result = await cli(args, env);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`${copy.out}/${next()}_keys_owner.sql statement 3 (line ${insertLine}) reads "owner"`);
      expect(result.stderr).toContain("--repair");
      expect(result.stderr).toContain("nothing was written");
      expect(result.stderr).not.toContain("listening on");
    }
    expect(dump()).toBe(before);
    expect(readdirSync(dirname(dbFileOf(home))).filter((f) => f.endsWith(".bak"))).toEqual([]); // refused before the backup
    const verify = await cli(["db", "verify"], env);
    expect(verify.code).toBe(1);
    expect(verify.stderr).toContain(`reads "owner"`);
    expect(verify.stderr).toContain("the runner refuses it");

    // The remedy the messages give works: repair the file, and the same database migrates with every row intact.
    const repaired = run(["run", "scripts/db-generate.ts", "--repair", file]);
    expect(repaired.code).toBe(0);
    expect(repaired.stdout).toContain(`repaired ${file} line ${insertLine}: the rebuild of keys no longer copies "owner"`);
    expect((await cli(["db", "migrate"], env)).code).toBe(0);
    const after = new Database(dbFileOf(home), { readonly: true });
    expect(keysOf(after)).toEqual(KEY_ROWS.map((row) => ({ ...row, owner: "nobody" })));
    after.close();
  });

  test("control: that broken rebuild, run without the guard, writes the column's name into every row", () => {
    const copy = scratchCopy(ADD_OWNER);
    expect(generate(copy, "keys_owner", rawDrizzleKit).code).toBe(0);
    const { sqlite } = databaseWithKeys();
    sqlite.run("PRAGMA foreign_keys = OFF");
    const broken = migrationsOf(copy.out).at(-1)!;
    for (const statement of broken.statements) if (!isForeignKeysPragma(statement)) sqlite.run(statement.sql);
    expect(keysOf(sqlite).map((k) => k.owner)).toEqual(["owner", "owner", "owner"]);
    sqlite.close();
  });

  test("a rebuild that only drops a column needs no repair and keeps every other value", () => {
    const copy = scratchCopy(DROP_RATE_LIMIT);
    const generated = generate(copy, "drop_rate_limit");
    expect(generated.code).toBe(0);
    expect(generated.stdout).toContain("nothing to repair");
    const sql = readFileSync(join(copy.out, `${next()}_drop_rate_limit.sql`), "utf8");
    expect(sql).toContain("INSERT INTO `__new_keys`");
    expect(sql).not.toContain('"rate_limit"');

    const { sqlite } = databaseWithKeys();
    applyMigrations(sqlite, migrationsOf(copy.out));
    expect(keysOf(sqlite)).toEqual(KEY_ROWS.map(({ rate_limit: _dropped, ...row }) => row));
    sqlite.close();
  });

  test("a rebuild after a column rename (drizzle-kit renames first, then copies the new name) is left alone and works", () => {
    const current = readMigrationFolder(join(ROOT, "drizzle"));
    const renameAndRebuild = `ALTER TABLE \`keys\` RENAME COLUMN \`label\` TO \`title\`;--> statement-breakpoint
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE \`__new_keys\` (
	\`id\` text PRIMARY KEY NOT NULL,
	\`hash\` text NOT NULL,
	\`tier\` text DEFAULT 'client' NOT NULL,
	\`title\` text DEFAULT '',
	\`allowed_models\` text DEFAULT '["*"]' NOT NULL,
	\`rate_limit\` integer,
	\`created_at\` integer NOT NULL,
	\`last_used_at\` integer,
	\`revoked_at\` integer,
	\`premium_quota\` integer,
	\`expires_at\` integer,
	\`credential_id\` text REFERENCES credentials(id),
	\`budget_nano_aiu\` integer
);
--> statement-breakpoint
INSERT INTO \`__new_keys\`("id", "hash", "tier", "title", "allowed_models", "rate_limit", "created_at", "last_used_at", "revoked_at", "premium_quota", "expires_at", "credential_id", "budget_nano_aiu") SELECT "id", "hash", "tier", "title", "allowed_models", "rate_limit", "created_at", "last_used_at", "revoked_at", "premium_quota", "expires_at", "credential_id", "budget_nano_aiu" FROM \`keys\`;--> statement-breakpoint
DROP TABLE \`keys\`;--> statement-breakpoint
ALTER TABLE \`__new_keys\` RENAME TO \`keys\`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE UNIQUE INDEX \`keys_hash_unique\` ON \`keys\` (\`hash\`);`;
    const earlier = fromSources(current, "drizzle");
    expect(repairRebuilds(earlier, `drizzle/${next()}_rename.sql`, renameAndRebuild)).toEqual({ sql: renameAndRebuild, repairs: [] });
    const migrations = fromSources([...current, { tag: `${next()}_rename`, sql: renameAndRebuild }], "drizzle");
    expect(checkMigrations(migrations)).toEqual({ findings: [] });

    const { sqlite } = databaseWithKeys();
    applyMigrations(sqlite, migrations);
    expect(keysOf(sqlite)).toEqual(KEY_ROWS.map(({ label, ...row }) => ({ ...row, title: label })));
    sqlite.close();
  });

  test("a hand-written backfill reading another column in double quotes is applied; one naming no column is refused", () => {
    const current = readMigrationFolder(join(ROOT, "drizzle"));
    const backfill: Fixture = { tag: `${next()}_backfill`, sql: `UPDATE keys SET label = "id" WHERE label = '';` };
    const { sqlite } = databaseWithKeys();
    const good = fromSources([...current, backfill], "drizzle");
    expect(checkMigrations(good).findings).toEqual([]);
    applyMigrations(sqlite, good);
    expect(keysOf(sqlite).map((k) => k.label)).toEqual(["first", "k2", "third"]);

    const typo: Fixture = { tag: `${next(1)}_typo`, sql: `UPDATE keys SET label = "nobody" WHERE revoked_at IS NOT NULL;` };
    const error = errorOf(() => applyMigrations(sqlite, fromSources([...current, backfill, typo], "drizzle")));
    expect(error.message).toContain(`drizzle/${next(1)}_typo.sql statement 1 (line 1) reads "nobody", which is not a column`);
    expect(error.hint).toContain(`write it in single quotes ('nobody')`);
    expect(error.hint).toContain("nothing was written");
    expect(userVersion(sqlite)).toBe(BUILT + 1);
    sqlite.close();
  });

  test("the runner checks each statement again on the live schema, and rolls back when it differs from the replay", () => {
    const base: Fixture[] = [{ tag: "0000_t", sql: "CREATE TABLE t (a text, b text);" }];
    const path = join(tempDir(), "live.db");
    const { sqlite } = openDatabase(path, { create: true });
    applyMigrations(sqlite, fromSources(base, "m"));
    // Changed behind the migrations' back: "a" is no longer a column.
    sqlite.run("ALTER TABLE t RENAME COLUMN a TO c");
    sqlite.run("INSERT INTO t VALUES ('x', 'y')");
    const copy: Fixture = { tag: "0001_copy", sql: `UPDATE t SET b = "a";` };
    const error = errorOf(() => applyMigrations(sqlite, fromSources([...base, copy], "m")));
    expect(error.message).toContain(`m/0001_copy.sql statement 1 (line 1) reads "a"`);
    expect(error.hint).toContain("the migration was rolled back");
    expect(sqlite.query("SELECT * FROM t").all()).toEqual([{ c: "x", b: "y" }]);
    expect(userVersion(sqlite)).toBe(1);
    expect(existsSync(path)).toBe(true);
    sqlite.close();
  });
});
