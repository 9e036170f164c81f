import { asc, sql } from "drizzle-orm";
import { bigint, getTableConfig, integer, pgTable, text } from "drizzle-orm/pg-core";
import { createLedgerSql, LEDGER_TABLE, type LedgerRow } from "../migrations";
import type { PgDatabase } from "./connect";

/**
 * The Postgres runner's record of applied migrations: the same table as SQLite's
 * (src/db/migrations/ledger.ts), its DDL written by the same function. There is no
 * user_version in Postgres: the newest version in the ledger is the schema version.
 */
const pgMigrationLedger = pgTable(LEDGER_TABLE, {
  version: integer("version").primaryKey(),
  tag: text("tag").notNull(),
  sha256: text("sha256").notNull(),
  appliedAt: bigint("applied_at", { mode: "number" }).notNull(),
});

const CREATE_LEDGER_SQL = createLedgerSql(getTableConfig(pgMigrationLedger).columns);

/** A handle or a transaction: both read and write the ledger. */
type Queryable = Pick<PgDatabase, "select" | "insert" | "execute">;

/** Creates the ledger when missing; inside the first migration's transaction, under the advisory lock. */
export async function createPgLedger(db: Queryable): Promise<void> {
  await db.execute(sql.raw(CREATE_LEDGER_SQL));
}

/** Every ledger row by version; empty when the database has no ledger yet. */
export async function readPgLedger(db: Queryable): Promise<LedgerRow[]> {
  // Read from pg_class with the statement's own snapshot, not to_regclass(): that uses
  // the catalog snapshot, which a transaction that waited on the advisory lock took
  // before the other gateway's commit, so it kept saying "no ledger" (and the migration ran twice).
  const [found] = await db.execute<{ found: boolean }>(
    sql`SELECT EXISTS (SELECT 1 FROM pg_class WHERE relname = ${LEDGER_TABLE} AND relnamespace = current_schema()::regnamespace) AS found`,
  );
  if (!found?.found) return [];
  return db.select().from(pgMigrationLedger).orderBy(asc(pgMigrationLedger.version));
}

export async function recordPgApplied(db: Queryable, row: LedgerRow): Promise<void> {
  await db.insert(pgMigrationLedger).values(row);
}
