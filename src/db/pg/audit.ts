import { sql } from "drizzle-orm";
import { osUser } from "../audit";
import type { AuditAction } from "../schema";
import type { PgDatabase } from "./connect";

/**
 * The store's own admin actions (migrations applied) in the audit log on PostgreSQL, as src/db/audit.ts
 * writes them on SQLite: by src/db itself, as the OS user; skipped where the schema has no audit_log
 * (a fixture's migrations). The features append theirs with appendAuditPg (features/audit/pg.ts).
 */
export async function auditPgStoreAction(db: PgDatabase, action: AuditAction, target: string, after: unknown): Promise<void> {
  const [found] = await db.execute<{ present: boolean }>(sql`SELECT to_regclass('audit_log') IS NOT NULL AS present`);
  if (!found?.present) return;
  await db.execute(sql`
    INSERT INTO audit_log (ts, action, actor_kind, actor, target, after)
    VALUES (${Date.now()}, ${action}, 'cli', ${osUser()}, ${target}, ${JSON.stringify(after)}::jsonb)`);
}
