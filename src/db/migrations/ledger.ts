import type { Database } from "bun:sqlite";
import { asc, type Column } from "drizzle-orm";
import { type BunSQLiteDatabase, drizzle } from "drizzle-orm/bun-sqlite";
import { getTableConfig, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { LEDGER_TABLE } from "./ledger-name";

/**
 * The runner's own record of applied migrations, declared here once: its name,
 * its columns, the row type, the DDL that creates it, and every read and write
 * of it come from this declaration. It lives outside schema.ts on purpose: the
 * runner creates it (it must exist before migration 1), so drizzle-kit must
 * never generate it.
 */
export { LEDGER_TABLE };

export const migrationLedger = sqliteTable(LEDGER_TABLE, {
  version: integer("version").primaryKey(),
  tag: text("tag").notNull(),
  sha256: text("sha256").notNull(),
  appliedAt: integer("applied_at").notNull(),
});

export type LedgerRow = typeof migrationLedger.$inferSelect;

/**
 * CREATE TABLE written from the declaration. It covers what a ledger column can
 * declare (type, primary key, NOT NULL) and refuses anything else, so the
 * declaration cannot say more than the table the runner creates. The Postgres
 * ledger (src/db/pg/ledger.ts) is written by the same function.
 */
export function createLedgerSql(columns: Column[]): string {
  const lines = columns.map((c) => {
    if (c.default !== undefined || c.defaultFn || c.isUnique || c.generated)
      throw new Error(`${LEDGER_TABLE}.${c.name}: the ledger's DDL supports only type, primary key and NOT NULL`);
    return `  ${c.name} ${c.getSQLType().toUpperCase()}${c.primary ? " PRIMARY KEY" : ""}${c.notNull ? " NOT NULL" : ""}`;
  });
  return `CREATE TABLE IF NOT EXISTS ${LEDGER_TABLE} (\n${lines.join(",\n")}\n)`;
}

const CREATE_LEDGER_SQL = createLedgerSql(getTableConfig(migrationLedger).columns);

/** The typed handle over a raw connection the runner holds (its BEGIN IMMEDIATE transaction included). */
const handles = new WeakMap<Database, BunSQLiteDatabase>();
function ledgerDb(sqlite: Database): BunSQLiteDatabase {
  let db = handles.get(sqlite);
  if (!db) {
    db = drizzle({ client: sqlite });
    handles.set(sqlite, db);
  }
  return db;
}

/** Creates the ledger when missing; inside the first migration's transaction. */
export function createLedger(sqlite: Database): void {
  sqlite.run(CREATE_LEDGER_SQL);
}

/** Every ledger row by version; empty when the database has no ledger yet (nothing applied, or not ours). */
export function readLedger(sqlite: Database): LedgerRow[] {
  const exists = sqlite.query("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").get(LEDGER_TABLE);
  if (!exists) return [];
  return ledgerDb(sqlite).select().from(migrationLedger).orderBy(asc(migrationLedger.version)).all();
}

/** Records one applied migration; inside that migration's transaction. */
export function recordApplied(sqlite: Database, row: LedgerRow): void {
  ledgerDb(sqlite).insert(migrationLedger).values(row).run();
}
