import { desc } from "drizzle-orm";
import { type PgDatabase, pgTables } from "~/db/postgres";
import { type AuditEntry, type AuditLog, type AuditRow, auditValues, auditWhere } from "./queries";

/*
 * The audit log on a PostgreSQL store (--database-url): the same rows and filters as
 * queries.ts, loaded only by what runs on Postgres.
 */

const { auditLog } = pgTables;

/** Appends one entry, on the database or inside a transaction of the caller's (a key change and its entry commit together). */
export async function appendAuditPg(db: Pick<PgDatabase, "insert">, entry: AuditEntry): Promise<void> {
  await db.insert(auditLog).values(auditValues(entry));
}

export function pgAuditLog(db: PgDatabase): AuditLog {
  return {
    list: async (filter) => (await db.select().from(auditLog).where(auditWhere(auditLog, filter)).orderBy(desc(auditLog.id)).limit(filter.limit)) as AuditRow[],
    append: (entry) => appendAuditPg(db, entry),
  };
}
