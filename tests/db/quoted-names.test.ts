import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { doubleQuotedTokens, namesReadAsText } from "~/db/migrations/quoted-names";

function db(): Database {
  const sqlite = new Database(":memory:");
  sqlite.run("CREATE TABLE keys (id text PRIMARY KEY, label text NOT NULL DEFAULT '')");
  sqlite.run("CREATE TABLE __new_keys (id text PRIMARY KEY, label text NOT NULL DEFAULT '', owner text NOT NULL DEFAULT 'nobody')");
  return sqlite;
}

describe("double-quoted names read as text", () => {
  test("control: the SQLite inside Bun has the double-quoted string fallback on (no SQLITE_DQS=0)", () => {
    const sqlite = db();
    expect(sqlite.query(`SELECT "nonexistent" AS x`).get()).toEqual({ x: "nonexistent" });
    sqlite.run("INSERT INTO keys (id) VALUES ('a')");
    expect(sqlite.query(`SELECT "owner" AS x FROM keys`).get()).toEqual({ x: "owner" });
    const options = sqlite
      .query<{ compile_options: string }, []>("PRAGMA compile_options")
      .all()
      .map((r) => r.compile_options);
    expect(options.some((o) => o.startsWith("DQS="))).toBe(false);
  });

  test("a rebuild copy that selects a column the old table lacks names that column", () => {
    const sqlite = db();
    const sql = `INSERT INTO \`__new_keys\`("id", "label", "owner") SELECT "id", "label", "owner" FROM \`keys\``;
    expect(namesReadAsText(sqlite, sql)).toEqual(["owner"]);
    // Every name that falls back is found, not only the first.
    expect(namesReadAsText(sqlite, `SELECT "id", "nope", "label", "other" FROM keys`)).toEqual(["nope", "other"]);
  });

  test("names that are columns, qualified names and other quoting are not findings", () => {
    const sqlite = db();
    expect(namesReadAsText(sqlite, `INSERT INTO \`__new_keys\`("id", "label") SELECT "id", "label" FROM \`keys\``)).toEqual([]);
    // A hand-written backfill reading another column of the same row.
    expect(namesReadAsText(sqlite, `UPDATE keys SET label = "id" WHERE "label" = ''`)).toEqual([]);
    expect(namesReadAsText(sqlite, `UPDATE keys SET label = 'owner' -- "owner" in a comment\n/* "x" */`)).toEqual([]);
    expect(namesReadAsText(sqlite, "UPDATE keys SET label = `id`")).toEqual([]);
    expect(namesReadAsText(sqlite, `UPDATE keys SET label = "keys"."id"`)).toEqual([]);
    // DEFAULT takes a name as text whatever the quotes; it reads no column.
    expect(namesReadAsText(sqlite, `CREATE TABLE t2 (a text DEFAULT "x")`)).toEqual([]);
  });

  test("a backfill that names no column, CHECK constraints and index expressions are caught", () => {
    const sqlite = db();
    expect(namesReadAsText(sqlite, `UPDATE keys SET label = "nobody"`)).toEqual(["nobody"]);
    expect(namesReadAsText(sqlite, `CREATE TABLE t2 (a text, CONSTRAINT c CHECK ("b" IS NOT NULL))`)).toEqual(["b"]);
    expect(namesReadAsText(sqlite, `CREATE INDEX i ON keys ("labl")`)).toEqual(["labl"]);
    expect(namesReadAsText(sqlite, `INSERT INTO keys (id) VALUES ("k1")`)).toEqual(["k1"]);
  });

  test("a statement that does not compile at all is left to SQLite's own error", () => {
    const sqlite = db();
    expect(namesReadAsText(sqlite, `INSERT INTO nowhere ("a") SELECT "a" FROM keys`)).toEqual([]);
  });

  test("tokens: quotes inside strings, comments and other identifiers are skipped; doubled quotes unescape", () => {
    const tokens = doubleQuotedTokens(`SELECT "a""b", 'it''s "x"', \`"y"\`, ["z"] -- "c"\n/* "d" */ FROM "t"`);
    expect(tokens.map((t) => t.name)).toEqual(['a"b', "t"]);
  });
});
