import { Database } from "bun:sqlite";
import { AppError, errorMessage } from "~/lib/errors";
import type { Migration } from "./load";
import { isForeignKeysPragma, splitSql } from "./split";

/**
 * Repairs what drizzle-kit 0.31 gets wrong in a table rebuild (drizzle-orm
 * issues #5360, #5822): when one change both forces SQLite's 12-step rebuild and
 * adds a column, it writes
 *
 *   INSERT INTO `__new_t`("a", "new") SELECT "a", "new" FROM `t`;
 *
 * and "new", not a column of t, is read by SQLite as the text 'new'. The repair
 * leaves such a column out of both lists, so the new table's default applies.
 *
 * It does not guess which columns t has: it replays the earlier migrations, and
 * the statements before the rebuild in the same file, on an in-memory database
 * and asks SQLite (PRAGMA table_info) at that exact point.
 */

export interface RebuildRepair {
  /** 1-based line of the INSERT in the file. */
  line: number;
  table: string;
  /** Columns left out of the copy: the old table does not have them. */
  dropped: string[];
  /** Dropped columns that are NOT NULL without a default: copying rows will fail on them. */
  noDefault: string[];
}

const LEADING_COMMENTS = /^(?:\s+|--[^\n]*\n?|\/\*[\s\S]*?\*\/)*/;
const NAME = String.raw`(\`(?:[^\`]|\`\`)+\`|"(?:[^"]|"")+"|\[[^\]]+\]|\w+)`;
const REBUILD_COPY = new RegExp(String.raw`^INSERT\s+INTO\s+${NAME}\s*\(([^()]*)\)\s*SELECT\s+([^()]*?)\s+FROM\s+${NAME}\s*$`, "i");
const QUOTED_COLUMN = /^"((?:[^"]|"")+)"$/;

function unquote(name: string): string {
  const q = name[0];
  if (q === "`" || q === '"') return name.slice(1, -1).replaceAll(q + q, q);
  if (q === "[") return name.slice(1, -1);
  return name;
}

function columnList(list: string): string[] | undefined {
  const items = list.split(",").map((s) => s.trim());
  const names = items.map((item) => QUOTED_COLUMN.exec(item)?.[1]?.replaceAll('""', '"'));
  return names.every((n): n is string => n !== undefined) ? names : undefined;
}

function tableColumns(sqlite: Database, table: string) {
  return sqlite
    .query<{ name: string; notnull: number; dflt_value: string | null; pk: number }, [string]>(
      "SELECT name, `notnull`, dflt_value, pk FROM pragma_table_info(?)",
    )
    .all(table);
}

/** Builds the earlier migrations' schema in a scratch in-memory database. */
function replayed(earlier: Migration[]): Database {
  const scratch = new Database(":memory:");
  for (const migration of earlier) {
    for (const [i, statement] of migration.statements.entries()) {
      if (isForeignKeysPragma(statement)) continue;
      try {
        scratch.run(statement.sql);
      } catch (error) {
        scratch.close();
        throw new AppError(
          `cannot replay ${migration.file} (statement ${i + 1}, line ${statement.line}) on a scratch database: ${errorMessage(error)}`,
          "the repair needs the earlier migrations to apply on an empty database; fix that file first",
        );
      }
    }
  }
  return scratch;
}

/**
 * Returns the file's text with every rebuild copy repaired, and what changed.
 * `earlier` are the migrations before this one, in journal order.
 */
export function repairRebuilds(earlier: Migration[], file: string, text: string): { sql: string; repairs: RebuildRepair[] } {
  const scratch = replayed(earlier);
  try {
    const repairs: RebuildRepair[] = [];
    const edits: { start: number; end: number; sql: string }[] = [];
    let cursor = 0;
    for (const [i, statement] of splitSql(text).entries()) {
      const at = text.indexOf(statement.sql, cursor);
      if (at < 0)
        throw new AppError(
          `${file}: cannot locate statement ${i + 1} (line ${statement.line}) in the file`,
          "report this as a bug in src/db/migrations/rebuild-repair.ts",
        );
      cursor = at + statement.sql.length;
      if (isForeignKeysPragma(statement)) continue;
      let sql = statement.sql;
      const body = sql.slice(LEADING_COMMENTS.exec(sql)![0].length);
      const match = REBUILD_COPY.exec(body);
      const target = match && unquote(match[1]!);
      if (match && target?.startsWith("__new_")) {
        const into = columnList(match[2]!);
        const from = columnList(match[3]!);
        const source = unquote(match[4]!);
        const existing = new Set(tableColumns(scratch, source).map((c) => c.name));
        // Only drizzle-kit's own shape: the same plain column names in both lists.
        if (existing.size > 0 && into && from && into.join("\u0000") === from.join("\u0000")) {
          const dropped = into.filter((c) => !existing.has(c));
          const kept = into.filter((c) => existing.has(c));
          if (dropped.length > 0 && kept.length > 0) {
            const list = kept.map((c) => `"${c.replaceAll('"', '""')}"`).join(", ");
            const repaired = `${sql.slice(0, sql.length - body.length)}INSERT INTO ${match[1]}(${list}) SELECT ${list} FROM ${match[4]}`;
            const newColumns = new Map(tableColumns(scratch, target).map((c) => [c.name, c]));
            const noDefault = dropped.filter((c) => {
              const col = newColumns.get(c);
              return col !== undefined && col.notnull === 1 && col.dflt_value === null && col.pk === 0;
            });
            repairs.push({ line: statement.line, table: source, dropped, noDefault });
            edits.push({ start: at, end: at + sql.length, sql: repaired });
            sql = repaired;
          }
        }
      }
      try {
        scratch.run(sql);
      } catch (error) {
        throw new AppError(
          `${file} statement ${i + 1} (line ${statement.line}) fails on a scratch database built from the earlier migrations: ${errorMessage(error)}`,
          "fix the statement (or the schema change that produced it) and generate again",
        );
      }
    }
    let out = "";
    let from = 0;
    for (const e of edits) {
      out += text.slice(from, e.start) + e.sql;
      from = e.end;
    }
    return { sql: out + text.slice(from), repairs };
  } finally {
    scratch.close();
  }
}

export function describeRepair(file: string, r: RebuildRepair): string {
  const cols = r.dropped.map((c) => `"${c}"`).join(", ");
  const base = `repaired ${file} line ${r.line}: the rebuild of ${r.table} no longer copies ${cols} (${r.table} has no such column before this migration; existing rows get the default)`;
  if (r.noDefault.length === 0) return base;
  return `${base}\n  warning: ${r.noDefault.map((c) => `"${c}"`).join(", ")} ${r.noDefault.length === 1 ? "is" : "are"} NOT NULL without a default, so this migration fails on a table with rows: give it a default in schema.ts, or add a backfill`;
}
