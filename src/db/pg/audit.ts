import { sql } from "drizzle-orm";
import { osUser } from "../audit";
import * as pgSchema from "../pg-schema";
import type { AuditAction } from "../schema";
import type { PgDatabase } from "./connect";

/** One audit_log row as appended on PostgreSQL; the time is added unless given, absent fields are null. */
export type PgAuditRow = Omit<typeof pgSchema.auditLog.$inferInsert, "id" | "ts"> & { ts?: number };

/** Appends one audit entry (inside the caller's transaction when given one). The log has no update path. */
export async function appendPgAudit(db: Pick<PgDatabase, "insert">, entry: PgAuditRow): Promise<void> {
  await db.insert(pgSchema.auditLog).values({
    ...entry,
    ts: entry.ts ?? Date.now(),
    address: entry.address ?? null,
    userAgent: entry.userAgent ?? null,
    target: entry.target ?? null,
    before: entry.before ?? null,
    after: entry.after ?? null,
  });
}

/**
 * The store's own admin actions (migrations applied) on PostgreSQL, as src/db/audit.ts writes them
 * on SQLite: as the OS user, skipped where the schema has no audit_log yet (a fixture's migrations).
 */
export async function auditPgStoreAction(db: PgDatabase, action: AuditAction, target: string, after: unknown): Promise<void> {
  const [found] = await db.execute<{ present: boolean }>(sql`SELECT to_regclass('audit_log') IS NOT NULL AS present`);
  if (!found?.present) return;
  await appendPgAudit(db, { action, actorKind: "cli", actor: osUser(), target, after });
}
