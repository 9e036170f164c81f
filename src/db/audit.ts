import { Database } from "bun:sqlite";
import { userInfo } from "node:os";
import type { AuditAction } from "./schema";

/** The OS user running this process: the CLI's actor in the audit log (no key is involved on this machine). */
export function osUser(): string {
  try {
    return userInfo().username.slice(0, 64);
  } catch {
    return (process.env.USER ?? "unknown").slice(0, 64);
  }
}

/**
 * The store's own admin actions (migrations applied, backups) in the audit log, written by
 * src/db itself as the OS user. Skipped on a database whose schema has no audit_log yet
 * (a backup of an old database): the action is still logged to the terminal.
 */
export function auditStoreAction(sqlite: Database, action: AuditAction, target: string, after: unknown): void {
  const table = sqlite.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'").get();
  if (!table) return;
  sqlite
    .query("INSERT INTO audit_log (ts, action, actor_kind, actor, target, after) VALUES (?, ?, 'cli', ?, ?, ?)")
    .run(Date.now(), action, osUser(), target, JSON.stringify(after));
}

/** The same, into a database file no store has open (a restored copy, before it is put in place). */
export function auditDatabaseFile(path: string, action: AuditAction, target: string, after: unknown): void {
  const sqlite = new Database(path);
  try {
    auditStoreAction(sqlite, action, target, after);
  } finally {
    sqlite.close();
  }
}
