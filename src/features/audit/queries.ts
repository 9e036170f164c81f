import { type AnyColumn, and, desc, eq, gte, inArray, lt, or, type SQL } from "drizzle-orm";
import { type AppDatabase, rowsChanged, type Store } from "~/db";
import { type AuditAction, type AuditActorKind, auditLog } from "~/db/schema";

/** One admin action as it is appended; the time is added on write unless given. */
export interface AuditEntry {
  action: AuditAction;
  actorKind: AuditActorKind;
  actor: string;
  address?: string | null;
  userAgent?: string | null;
  target?: string | null;
  before?: unknown;
  after?: unknown;
  ts?: number;
}

export type AuditRow = typeof auditLog.$inferSelect;

/** The row an entry is written as, on either store. */
export function auditValues(entry: AuditEntry) {
  return {
    ts: entry.ts ?? Date.now(),
    action: entry.action,
    actorKind: entry.actorKind,
    actor: entry.actor,
    address: entry.address ?? null,
    userAgent: entry.userAgent ?? null,
    target: entry.target ?? null,
    before: entry.before ?? null,
    after: entry.after ?? null,
  };
}

/** Appends one entry. The audit log has no update path: rows are added here and removed only by its retention. */
export function appendAudit(db: AppDatabase, entry: AuditEntry): void {
  db.insert(auditLog).values(auditValues(entry)).run();
}

export interface AuditFilter {
  since?: number;
  /** Entries by this key or about it (actor or target). */
  keyId?: string;
  action?: AuditAction;
  /** Keyset paging: entries older than this id. */
  beforeId?: number;
  limit: number;
}

/** The audit log's columns a filter reads, on either dialect. */
type AuditColumns = Record<"id" | "ts" | "action" | "actor" | "target", AnyColumn>;

/** A filter's WHERE, for the SQLite table and its PostgreSQL twin alike. */
export function auditWhere(table: AuditColumns, filter: AuditFilter): SQL | undefined {
  return and(
    filter.since === undefined ? undefined : gte(table.ts, filter.since),
    filter.keyId === undefined ? undefined : or(eq(table.actor, filter.keyId), eq(table.target, filter.keyId)),
    filter.action === undefined ? undefined : eq(table.action, filter.action),
    filter.beforeId === undefined ? undefined : lt(table.id, filter.beforeId),
  );
}

/** Newest first. */
export function listAudit(db: AppDatabase, filter: AuditFilter): AuditRow[] {
  return db.select().from(auditLog).where(auditWhere(auditLog, filter)).orderBy(desc(auditLog.id)).limit(filter.limit).all();
}

/** The audit log as the admin plane reads and writes it, whatever the store (SQLite here, PostgreSQL in pg.ts). */
export interface AuditLog {
  list(filter: AuditFilter): Promise<AuditRow[]>;
  append(entry: AuditEntry): Promise<void>;
}

export const sqliteAuditLog = (db: AppDatabase): AuditLog => ({
  list: async (filter) => listAudit(db, filter),
  append: async (entry) => appendAudit(db, entry),
});

/** Retention (--audit-retention-days): the only delete of the audit log, oldest first. */
export function deleteOldAudit(store: Store, cutoff: number, limit: number): number {
  const oldest = store.db.select({ id: auditLog.id }).from(auditLog).where(lt(auditLog.ts, cutoff)).orderBy(auditLog.ts).limit(limit);
  return rowsChanged(store.db.delete(auditLog).where(inArray(auditLog.id, oldest)).run());
}
