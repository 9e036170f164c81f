import { type PgDatabase, pgTables } from "~/db/postgres";
import { type AuditEntry, auditRow } from "./queries";

/** appendAudit on a PostgreSQL store: the same row, inside the caller's transaction when given one. The log has no update path. */
export async function appendAuditPg(db: Pick<PgDatabase, "insert">, entry: AuditEntry): Promise<void> {
  await db.insert(pgTables.auditLog).values(auditRow(entry));
}
