import { and, desc, eq, gte, inArray, lt, or } from "drizzle-orm";
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

/** Appends one entry. The audit log has no update path: rows are added here and removed only by its retention. */
export function appendAudit(db: AppDatabase, entry: AuditEntry): void {
  db.insert(auditLog).values(auditRow(entry)).run();
}

/** The row an entry is appended as, on either store: the time now unless given, absent fields null. */
export const auditRow = (entry: AuditEntry) => ({
  ts: entry.ts ?? Date.now(),
  action: entry.action,
  actorKind: entry.actorKind,
  actor: entry.actor,
  address: entry.address ?? null,
  userAgent: entry.userAgent ?? null,
  target: entry.target ?? null,
  before: entry.before ?? null,
  after: entry.after ?? null,
});

export interface AuditFilter {
  since?: number;
  /** Entries by this key or about it (actor or target). */
  keyId?: string;
  action?: AuditAction;
  /** Keyset paging: entries older than this id. */
  beforeId?: number;
  limit: number;
}

/** Newest first. */
export function listAudit(db: AppDatabase, filter: AuditFilter): AuditRow[] {
  const where = and(
    filter.since === undefined ? undefined : gte(auditLog.ts, filter.since),
    filter.keyId === undefined ? undefined : or(eq(auditLog.actor, filter.keyId), eq(auditLog.target, filter.keyId)),
    filter.action === undefined ? undefined : eq(auditLog.action, filter.action),
    filter.beforeId === undefined ? undefined : lt(auditLog.id, filter.beforeId),
  );
  return db.select().from(auditLog).where(where).orderBy(desc(auditLog.id)).limit(filter.limit).all();
}

/** Retention (--audit-retention-days): the only delete of the audit log, oldest first. */
export function deleteOldAudit(store: Store, cutoff: number, limit: number): number {
  const oldest = store.db.select({ id: auditLog.id }).from(auditLog).where(lt(auditLog.ts, cutoff)).orderBy(auditLog.ts).limit(limit);
  return rowsChanged(store.db.delete(auditLog).where(inArray(auditLog.id, oldest)).run());
}
