import type { Database } from "bun:sqlite";
import { errorMessage } from "~/lib/errors";
import { scanSql } from "./sql-scan";

/**
 * SQLite's "double-quoted string literal" fallback: a "name" that matches no
 * column is silently read as the text 'name'. SQLite can turn that off per
 * connection (SQLITE_DBCONFIG_DQS_DML / DQS_DDL), but bun:sqlite does not expose
 * sqlite3_db_config, and the SQLite inside Bun is built with the fallback on.
 *
 * The fallback only ever applies to double quotes: `name` and [name] are always
 * identifiers. So SQLite itself can say which "names" a statement would read as
 * text: compile the statement with its double-quoted names written in backticks;
 * each name it then reports as "no such column" is one the original reads as a
 * string. Compiling (prepare) writes nothing, and resolution happens entirely at
 * compile time, so the answer does not depend on the rows.
 *
 * Not covered: bodies of CREATE TRIGGER and CREATE VIEW, which SQLite resolves
 * only when they are used.
 */

interface QuotedToken {
  start: number;
  end: number;
  /** The name with its quotes removed ("" inside becomes "). */
  name: string;
}

/** Every "double-quoted" token outside comments, 'strings', `names` and [names]. */
export function doubleQuotedTokens(sql: string): QuotedToken[] {
  const tokens: QuotedToken[] = [];
  for (const token of scanSql(sql)) {
    if (token.kind === "quoted" && token.quote === '"') {
      tokens.push({ start: token.start, end: token.end, name: sql.slice(token.start + 1, token.end - 1).replaceAll('""', '"') });
    }
  }
  return tokens;
}

/** The statement with each double-quoted name (except those in keep) written as a `backtick` identifier. */
function withBackticks(sql: string, tokens: QuotedToken[], keep: ReadonlySet<string>): string {
  let out = "";
  let at = 0;
  for (const t of tokens) {
    if (keep.has(t.name)) continue;
    out += `${sql.slice(at, t.start)}\`${t.name.replaceAll("`", "``")}\``;
    at = t.end;
  }
  return out + sql.slice(at);
}

function compileError(sqlite: Database, sql: string): string | undefined {
  try {
    sqlite.prepare(sql).finalize();
    return undefined;
  } catch (error) {
    return errorMessage(error);
  }
}

const NO_SUCH_COLUMN = /^no such column: "?(.+?)"?(?: - should this be a string literal in single-quotes\?)?$/;

/**
 * The double-quoted names in one statement that SQLite, on this connection and
 * schema, would read as string literals because no column has that name.
 * Empty when there are none, and when the statement does not compile at all
 * (running it reports that error itself).
 */
export function namesReadAsText(sqlite: Database, sql: string): string[] {
  const tokens = doubleQuotedTokens(sql);
  if (tokens.length === 0) return [];
  const found: string[] = [];
  for (let attempt = 0; attempt <= tokens.length; attempt++) {
    const error = compileError(sqlite, withBackticks(sql, tokens, new Set(found)));
    if (error === undefined) return found;
    if (attempt === 0 && compileError(sqlite, sql) !== undefined) return [];
    const name = NO_SUCH_COLUMN.exec(error)?.[1];
    // Anything else is not the fallback: leave it to SQLite when the statement runs.
    if (name === undefined || found.includes(name) || !tokens.some((t) => t.name === name)) return found;
    found.push(name);
  }
  return found;
}
