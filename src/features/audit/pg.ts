import { appendPgAudit, type PgDatabase } from "~/db/postgres";
import type { AuditEntry } from "./queries";

/** appendAudit on a PostgreSQL store: the same row, inside the caller's transaction when given one. */
export const appendAuditPg = (db: Pick<PgDatabase, "insert">, entry: AuditEntry): Promise<void> => appendPgAudit(db, entry);
