import { type PgDatabase, pgTables } from "~/db/postgres";
import type { AuditEntry } from "./queries";

/** appendAudit on a PostgreSQL store: the same row, inside the caller's transaction when given one. The log has no update path. */
export async function appendAuditPg(db: Pick<PgDatabase, "insert">, entry: AuditEntry): Promise<void> {
  await db.insert(pgTables.auditLog).values({
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
}
