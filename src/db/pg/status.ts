import { sql } from "drizzle-orm";
import { diffShapes, shapeOfSchema } from "../introspect";
import type { Migration, MigrationPlan } from "../migrations";
import * as schema from "../schema";
import { type MigrationStatus, migrationStatus } from "../status";
import type { PgDatabase } from "./connect";
import { shapeOfPgDatabase } from "./introspect";
import { readPgLedger } from "./ledger";
import { planPgMigrations } from "./runner";

/** `db status` on a Postgres store: what SQLite's status says that Postgres has (no files, modes or WAL). */
export interface PgStatus extends MigrationStatus {
  database: string;
  server: string;
}

export async function pgStatusOf(db: PgDatabase, shown: string, migrations: Migration[]): Promise<{ status: PgStatus; plan: MigrationPlan }> {
  const plan = await planPgMigrations(db, migrations);
  const [server] = await db.execute<{ server_version: string }>(sql`SHOW server_version`);
  const status: PgStatus = {
    database: shown,
    server: `PostgreSQL ${server?.server_version ?? "?"}`,
    ...migrationStatus(plan, await readPgLedger(db)),
  };
  return { status, plan };
}

/** `db verify` on Postgres: migration hashes, a newer schema, pending migrations, and drift from schema.ts (types in SQLite's terms). */
export async function pgVerify(db: PgDatabase, plan: MigrationPlan): Promise<string[]> {
  const problems: string[] = [];
  if (plan.dbVersion > plan.buildVersion) problems.push(`database schema ${plan.dbVersion} is newer than this build (${plan.buildVersion})`);
  for (const m of plan.modified) problems.push(`${m.migration.file} changed after it was applied: ${m.reason}`);
  if (plan.pending.length > 0) {
    problems.push(`${plan.pending.length} migration(s) pending, from ${plan.pending[0]!.file}: run \`copilot-api db migrate --database-url …\``);
  } else if (plan.dbVersion === plan.buildVersion) {
    for (const drift of diffShapes(shapeOfSchema(schema), await shapeOfPgDatabase(db))) problems.push(`schema drift: ${drift}`);
  }
  return problems;
}
