import { describe, expect, test } from "bun:test";
import { splitSql } from "~/db/migrations/split";

describe("splitSql", () => {
  test("splits drizzle-kit output at semicolons, skipping breakpoint comments", () => {
    const sql = "CREATE TABLE `a` (`id` integer);\n--> statement-breakpoint\nCREATE INDEX `a_id` ON `a` (`id`);";
    const statements = splitSql(sql);
    expect(statements.map((s) => s.sql)).toEqual(["CREATE TABLE `a` (`id` integer)", "--> statement-breakpoint\nCREATE INDEX `a_id` ON `a` (`id`)"]);
    expect(statements.map((s) => s.line)).toEqual([1, 3]);
    expect(statements.map((s) => s.keyword)).toEqual(["CREATE", "CREATE"]);
  });

  test("keeps semicolons inside strings, quoted names and comments", () => {
    const sql = `INSERT INTO t VALUES ('a;b', 'it''s; fine');
-- a comment; with a semicolon
INSERT INTO "we;ird" ([x;y]) VALUES (1); /* block; comment */ SELECT 1`;
    const statements = splitSql(sql);
    expect(statements).toHaveLength(3);
    expect(statements[0]!.sql).toBe("INSERT INTO t VALUES ('a;b', 'it''s; fine')");
    expect(statements[1]!.line).toBe(3);
    expect(statements[2]!.keyword).toBe("SELECT");
  });

  test("keeps a trigger body, with CASE ... END inside it, as one statement", () => {
    const sql = `CREATE TRIGGER t_ai AFTER INSERT ON t BEGIN
  UPDATE t SET n = CASE WHEN new.n IS NULL THEN 0 ELSE new.n END WHERE id = new.id;
  INSERT INTO log VALUES (new.id);
END;
CREATE TEMP TRIGGER t2 AFTER DELETE ON t BEGIN DELETE FROM log WHERE id = old.id; END;
PRAGMA foreign_keys=OFF;`;
    const statements = splitSql(sql);
    expect(statements.map((s) => s.keyword)).toEqual(["CREATE", "CREATE", "PRAGMA"]);
    expect(statements[0]!.sql.endsWith("END")).toBe(true);
    expect(statements[0]!.sql).toContain("INSERT INTO log VALUES (new.id)");
    expect(statements[1]!.line).toBe(5);
  });

  test("a file of only comments has no statements", () => {
    expect(splitSql("-- Custom SQL migration file, put your code below! --")).toEqual([]);
  });
});
