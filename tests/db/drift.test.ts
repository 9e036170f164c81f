import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { diffShapes, shapeOfDatabase, shapeOfSchema } from "~/db/introspect";
import { applyMigrations, fromSources, loadMigrations, readMigrationFolder } from "~/db/migrations";
import * as schema from "~/db/schema";
import * as rich from "../fixtures/rich-schema";
import { cleanUpAfterFile, ROOT, tempDir } from "../helpers";

cleanUpAfterFile();

function replay(migrations: ReturnType<typeof loadMigrations>): Database {
  const sqlite = new Database(join(tempDir(), "replay.db"), { strict: true });
  applyMigrations(sqlite, migrations);
  return sqlite;
}

/** drizzle-kit refuses absolute --out paths, so scratch folders live under the project. */
function scratch(): string {
  const dir = join(ROOT, ".tmp", `test-${process.pid}-${Math.random().toString(16).slice(2)}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function drizzleKitGenerate(schemaFile: string, out: string) {
  return Bun.spawnSync(
    [process.execPath, "x", "drizzle-kit", "generate", "--dialect", "sqlite", "--schema", relative(ROOT, schemaFile), "--out", relative(ROOT, out)],
    {
      cwd: ROOT,
      stdin: "ignore",
    },
  );
}

describe("schema drift", () => {
  test("replaying every migration in drizzle/ gives exactly what schema.ts declares", () => {
    const sqlite = replay(loadMigrations({}));
    expect(diffShapes(shapeOfSchema(schema), shapeOfDatabase(sqlite))).toEqual([]);
    sqlite.close();
  });

  test("the comparison agrees with drizzle-kit's own SQL for a rich schema, and catches each kind of drift", () => {
    const dir = scratch();
    try {
      const schemaFile = join(dir, "schema.ts");
      cpSync(join(ROOT, "tests", "fixtures", "rich-schema.ts"), schemaFile);
      const out = join(dir, "drizzle");
      const generated = drizzleKitGenerate(schemaFile, out);
      expect(generated.exitCode).toBe(0);
      const sqlite = replay(fromSources(readMigrationFolder(out), out));
      const declared = shapeOfSchema(rich);
      expect(Object.keys(declared).sort()).toEqual(["owners", "pets"]);
      expect(diffShapes(declared, shapeOfDatabase(sqlite))).toEqual([]);

      // Now drift the database in every way the comparison claims to see.
      sqlite.run("DROP INDEX pets_owner_idx");
      sqlite.run("ALTER TABLE owners ADD COLUMN extra text");
      sqlite.run("CREATE TABLE stray (x)");
      const drift = diffShapes(declared, shapeOfDatabase(sqlite));
      expect(drift).toEqual([
        "owners: column extra is declared as (absent) but the database has text",
        "pets: index pets_owner_idx is declared as (owner_id) but the database has (absent)",
        "table stray is in the database but not declared in schema.ts",
      ]);
      sqlite.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("types, NOT NULL, defaults, CHECK constraints and foreign key actions are compared", () => {
    const sqlite = new Database(":memory:");
    sqlite.run(
      "CREATE TABLE owners (id integer PRIMARY KEY AUTOINCREMENT, email text NOT NULL, name text DEFAULT 'somebody', active integer NOT NULL DEFAULT true, score real DEFAULT 1.5, created_at integer NOT NULL DEFAULT (unixepoch()))",
    );
    sqlite.run("CREATE UNIQUE INDEX owners_email_unique ON owners (email)");
    sqlite.run(
      "CREATE TABLE pets (id integer PRIMARY KEY, owner_id integer NOT NULL REFERENCES owners(id) ON DELETE SET NULL, name text NOT NULL, tags blob DEFAULT '[]', kind text NOT NULL DEFAULT 'cat')",
    );
    sqlite.run("CREATE INDEX pets_owner_idx ON pets (owner_id)");
    sqlite.run("CREATE UNIQUE INDEX pets_owner_name_unique ON pets (owner_id, name)");
    expect(diffShapes(shapeOfSchema(rich), shapeOfDatabase(sqlite))).toEqual([
      "owners: column name is declared as text not null default 'nobody' but the database has text default 'somebody'",
      "pets: column tags is declared as text default '[]' but the database has blob default '[]'",
      "pets: CHECK constraints are declared as [pets_name_not_empty] but the database has []",
      "pets: foreign keys are declared as [(owner_id) -> owners(id) on delete cascade on update no action] but the database has [(owner_id) -> owners(id) on delete set null on update no action]",
    ]);
  });

  test("db:check passes on this tree", () => {
    const ok = Bun.spawnSync([process.execPath, "run", "scripts/db-check.ts"], { cwd: ROOT, stdin: "ignore" });
    expect(ok.stdout.toString()).toContain("db:check ok");
    expect(ok.exitCode).toBe(0);
  });

  test("db:check fails on a change to pg-schema.ts that no migration in drizzle-pg/ carries", () => {
    const dir = scratch();
    try {
      writeFileSync(
        join(dir, "pg-schema.ts"),
        `export * from "../../src/db/pg-schema";\nimport { bigint, pgTable } from "drizzle-orm/pg-core";\nexport const extra = pgTable("extra", { id: bigint("id", { mode: "number" }).primaryKey() });\n`,
      );
      const drifted = Bun.spawnSync([process.execPath, "run", "scripts/db-check.ts"], {
        cwd: ROOT,
        stdin: "ignore",
        env: { ...process.env, DB_CHECK_PG_SCHEMA: relative(ROOT, join(dir, "pg-schema.ts")), DB_CHECK_ONLY: "postgresql" },
      });
      expect(drifted.exitCode).toBe(1);
      expect(drifted.stderr.toString()).toMatch(/pg-schema\.ts has changes that no migration in drizzle-pg\/ carries \(drizzle-kit would write \d{4}_\w+\.sql/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test.each([
    [
      "a new table added to schema.ts",
      `export * from "../../src/db/schema";\nimport { integer, sqliteTable } from "drizzle-orm/sqlite-core";\nexport const extra = sqliteTable("extra", { id: integer("id").primaryKey() });\n`,
      /drizzle-kit would write \d{4}_\w+\.sql/,
    ],
    [
      "a change drizzle-kit can only resolve by asking (a table rename or drop)",
      readFileSync(join(ROOT, "tests", "fixtures", "rich-schema.ts"), "utf8"),
      /drizzle-kit could not decide without asking/,
    ],
  ])("db:check fails on %s that no migration carries", (_what, source, message) => {
    const dir = scratch();
    try {
      writeFileSync(join(dir, "schema.ts"), source);
      const drifted = Bun.spawnSync([process.execPath, "run", "scripts/db-check.ts"], {
        cwd: ROOT,
        stdin: "ignore",
        env: { ...process.env, DB_CHECK_SCHEMA: relative(ROOT, join(dir, "schema.ts")), DB_CHECK_ONLY: "sqlite" },
      });
      expect(drifted.exitCode).toBe(1);
      expect(drifted.stderr.toString()).toContain("has changes that no migration in drizzle/ carries");
      expect(drifted.stderr.toString()).toMatch(message);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
