import { scanSql } from "./sql-scan";
/**
 * Splits a migration file into single statements, so that each one runs on its
 * own (bun:sqlite's prepared statements run only the first of several) and a
 * failure can name the exact statement and line.
 *
 * It knows SQLite's quoting ('str', "id", `id`, [id]), both comment styles, and
 * that a CREATE TRIGGER body holds semicolons up to its closing END.
 *
 * Below it, what the runner and the guard ask of one statement: is it one of
 * drizzle-kit's foreign_keys toggles, and how to show it in a message.
 */
export interface SqlStatement {
  /** The statement text, trimmed, without its closing semicolon. */
  sql: string;
  /** 1-based line in the file where the statement starts. */
  line: number;
  /** First keyword, upper-cased (comments skipped): CREATE, PRAGMA, BEGIN, ... */
  keyword: string;
}

export function splitSql(text: string): SqlStatement[] {
  const pieces: { sql: string; start: number }[] = [];
  let start = 0;
  for (const token of scanSql(text)) {
    if (token.kind !== "semicolon") continue;
    pieces.push({ sql: text.slice(start, token.at), start });
    start = token.at + 1;
  }
  pieces.push({ sql: text.slice(start), start });

  const statements: SqlStatement[] = [];
  let pending: { sql: string; start: number } | undefined;
  for (const piece of pieces) {
    if (pending) {
      pending.sql += `;${piece.sql}`;
      if (words(piece.sql).join(" ") === "END") {
        statements.push(toStatement(text, pending));
        pending = undefined;
      }
      continue;
    }
    const w = words(piece.sql);
    if (w.length === 0) continue;
    const isTrigger = w[0] === "CREATE" && (w[1] === "TRIGGER" || w[2] === "TRIGGER");
    if (isTrigger) pending = { ...piece };
    else statements.push(toStatement(text, piece));
  }
  if (pending) statements.push(toStatement(text, pending));
  return statements;
}

function toStatement(text: string, piece: { sql: string; start: number }): SqlStatement {
  const line = lineAt(text, piece.start + firstCodeOffset(piece.sql));
  return { sql: piece.sql.trim(), line, keyword: words(piece.sql)[0] ?? "" };
}

/** Offset of the first character that is neither blank nor inside a comment. */
function firstCodeOffset(sql: string): number {
  let i = 0;
  while (i < sql.length) {
    if (/\s/.test(sql[i]!)) i += 1;
    else if (sql.startsWith("--", i)) {
      const end = sql.indexOf("\n", i);
      i = end === -1 ? sql.length : end + 1;
    } else if (sql.startsWith("/*", i)) {
      const end = sql.indexOf("*/", i + 2);
      i = end === -1 ? sql.length : end + 2;
    } else break;
  }
  return i;
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text[i] === "\n") line += 1;
  return line;
}

function stripComments(sql: string): string {
  return sql.replace(/--[^\n]*/g, " ").replace(/\/\*[\s\S]*?\*\//g, " ");
}

/** The first few bare words of a piece, upper-cased, ignoring comments. */
function words(sql: string): string[] {
  return stripComments(sql)
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 4)
    .map((w) => w.toUpperCase());
}

/** drizzle-kit's table rebuilds toggle foreign keys; the runner does that itself, outside the transaction. */
export function isForeignKeysPragma(statement: SqlStatement): boolean {
  return /^PRAGMA\s+foreign_keys\s*=\s*(ON|OFF|0|1|TRUE|FALSE)$/i.test(statement.sql.replace(/--[^\n]*/g, "").trim());
}

/** One line of a statement for messages: leading comments dropped, blanks folded, at most 240 characters. */
export function preview(sql: string): string {
  const flat = sql
    .replace(/^(?:\s+|--[^\n]*\n?|\/\*[\s\S]*?\*\/)*/, "")
    .replace(/\s+/g, " ")
    .trim();
  return flat.length > 240 ? `${flat.slice(0, 240)}…` : flat;
}

const BREAKPOINT = "--> statement-breakpoint";

/**
 * Splits a PostgreSQL migration where drizzle-kit marks statement boundaries.
 * Postgres quoting ($$ bodies, E'' strings) is not SQLite's, so the Postgres
 * series is split only at the markers drizzle-kit writes (hand-written files use them too).
 */
export function splitAtBreakpoints(text: string): SqlStatement[] {
  const statements: SqlStatement[] = [];
  let offset = 0;
  for (const chunk of text.split(BREAKPOINT)) {
    const at = offset + firstCodeOffset(chunk);
    offset += chunk.length + BREAKPOINT.length;
    const sql = chunk.trim().replace(/;\s*$/, "");
    const keyword = words(sql)[0];
    if (keyword) statements.push({ sql, line: lineAt(text, at), keyword });
  }
  return statements;
}
