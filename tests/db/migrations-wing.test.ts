import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { getTableColumns } from "drizzle-orm";
import { getTableConfig } from "drizzle-orm/sqlite-core";
import { applyMigrations, checkMigrations, describeFinding, fromSources, LEDGER_TABLE, migrationLedger, readLedger } from "~/db/migrations";
import { AppError } from "~/lib/errors";
import { cleanUpAfterFile, ROOT, tempDir } from "../helpers";

cleanUpAfterFile();

describe("the ledger, declared once", () => {
  test("the table the runner creates is exactly the Drizzle declaration: names, types, NOT NULL, primary key, no defaults", () => {
    const sqlite = new Database(join(tempDir(), "ledger.db"), { strict: true });
    applyMigrations(sqlite, fromSources([{ tag: "0000_a", sql: "CREATE TABLE a (x)" }], "drizzle"));
    const created = sqlite
      .query<{ name: string; type: string; notnull: number; pk: number; dflt_value: string | null }, [string]>(
        "SELECT name, type, `notnull`, pk, dflt_value FROM pragma_table_info(?) ORDER BY cid",
      )
      .all(LEDGER_TABLE);
    const declared = getTableConfig(migrationLedger).columns.map((c) => ({
      name: c.name,
      type: c.getSQLType().toUpperCase(),
      notnull: c.notNull ? 1 : 0,
      pk: c.primary ? 1 : 0,
      dflt_value: null,
    }));
    expect(getTableConfig(migrationLedger).name).toBe(LEDGER_TABLE);
    expect(created).toEqual(declared);
    sqlite.close();
  });

  test("the runner reads its rows through the declaration: the row's keys are the declared ones", () => {
    const sqlite = new Database(":memory:");
    const before = Date.now();
    applyMigrations(sqlite, fromSources([{ tag: "0000_a", sql: "CREATE TABLE a (x)" }], "drizzle"));
    const rows = readLedger(sqlite);
    expect(rows).toHaveLength(1);
    expect(Object.keys(rows[0]!).sort()).toEqual(Object.keys(getTableColumns(migrationLedger)).sort());
    expect(rows[0]!.appliedAt).toBeGreaterThanOrEqual(before);
    expect(rows[0]!.tag).toBe("0000_a");
    sqlite.close();
  });
});

describe("one preview of a statement in messages", () => {
  const long = `INSERT INTO missing VALUES ('${"x".repeat(400)}')`;

  test("the runner's failure shows the statement from its first keyword, cut at 240 characters, as the guard does", () => {
    const sqlite = new Database(":memory:");
    const migrations = fromSources([{ tag: "0000_a", sql: `CREATE TABLE a (x);\n--> statement-breakpoint\n-- a note\n${long};` }], "drizzle");
    let message = "";
    try {
      applyMigrations(sqlite, migrations);
    } catch (error) {
      expect(error).toBeInstanceOf(AppError);
      message = (error as AppError).message;
    }
    const shown = message.split("\n  ")[1]!;
    expect(shown).toBe(`${long.slice(0, 240)}…`);
    sqlite.close();

    // The guard's finding shows a statement the same way.
    const quoted = `-- a note\nINSERT INTO a (x) SELECT "nope" ${"/* pad */ ".repeat(40)}FROM a`;
    const { findings } = checkMigrations(fromSources([{ tag: "0000_a", sql: `CREATE TABLE a (x);\n--> statement-breakpoint\n${quoted};` }], "drizzle"));
    const guardShown = describeFinding(findings[0]!).split("\n  ")[1]!;
    expect(guardShown.startsWith('INSERT INTO a (x) SELECT "nope"')).toBe(true);
    expect(guardShown).toHaveLength(241);
  });
});

/** The project's own source files under a folder, as [path relative to the root, text]. */
function sources(folder: string): [string, string][] {
  const out: [string, string][] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts")) out.push([relative(ROOT, path), readFileSync(path, "utf8")]);
    }
  };
  walk(join(ROOT, folder));
  return out;
}

/** Code only: comments removed (a comment may name a file; code must not spell it). */
const code = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/[^\n]*/g, "$1");

describe("the store's layout", () => {
  test("the migration runner's files live in src/db/migrations/, none of the old look-alike names remain", () => {
    const old = [
      "migrate.ts",
      "migrations.ts",
      "migration-files.ts",
      "migrations.embed.ts",
      "sql-split.ts",
      "ledger.ts",
      "migration-guard.ts",
      "quoted-names.ts",
      "rebuild-repair.ts",
    ];
    expect(old.filter((f) => existsSync(join(ROOT, "src", "db", f)))).toEqual([]);
    for (const f of [
      "index.ts",
      "runner.ts",
      "load.ts",
      "folder.ts",
      "embedded.ts",
      "split.ts",
      "ledger.ts",
      "guard.ts",
      "quoted-names.ts",
      "rebuild-repair.ts",
    ]) {
      expect(existsSync(join(ROOT, "src", "db", "migrations", f))).toBe(true);
    }
  });

  test("SQLite's file names (-wal, -shm, -journal) are spelled only in src/db/files.ts; lib/file-modes.ts knows modes only", async () => {
    const spelled = ["src", "scripts", "bench"]
      .flatMap(sources)
      .filter(([path, text]) => path !== "src/db/files.ts" && /["'`]-(wal|shm|journal)\b|\}-(wal|shm|journal)\b|\|-(wal|shm)\b/.test(code(text)));
    expect(spelled.map(([path]) => path)).toEqual([]);
    expect(Object.keys(await import("~/lib/file-modes")).sort()).toEqual(["FILE_MODE", "FOLDER_MODE", "modeOf", "octal", "tighten", "tightenLoudly"]);
    const { databaseFiles, walFile, allDatabaseFiles } = await import("~/db/files");
    expect(databaseFiles("/d/x.db")).toEqual(["/d/x.db", "/d/x.db-wal", "/d/x.db-shm"]);
    expect(walFile("/d/x.db")).toBe("/d/x.db-wal");
    expect(allDatabaseFiles("/d/x.db").sort()).toEqual(["/d/x.db", "/d/x.db-journal", "/d/x.db-shm", "/d/x.db-wal"]);
  });

  test("one SQL lexer (migrations/sql-scan.ts): no other file of src/db walks comments and quotes by hand", () => {
    const lexers = sources("src/db").filter(([path, text]) => path !== "src/db/migrations/sql-scan.ts" && code(text).includes('indexOf("*/"'));
    expect(lexers.map(([path]) => path)).toEqual([]);
  });

  test("src/db words an error's message with errorMessage() only", () => {
    const casts = sources("src/db").filter(([, text]) => /as Error\)\.message|instanceof Error \? \w+\.message/.test(code(text)));
    expect(casts.map(([path]) => path)).toEqual([]);
  });

  // migrations/ledger-name.ts: the ledger's declaration and the boot's quick look (which loads no Drizzle) both take it from there.
  test("one module spells the ledger's table name in code (src, scripts, bench)", () => {
    const spelled = ["src", "scripts", "bench"]
      .flatMap(sources)
      .filter(([path, text]) => path !== "src/db/migrations/ledger-name.ts" && code(text).includes(LEDGER_TABLE));
    expect(spelled.map(([path]) => path)).toEqual([]);
  });
});
