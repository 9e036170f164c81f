import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * The runner's own record of applied migrations. It lives outside schema.ts on
 * purpose: the runner creates it (it must exist before migration 1), so
 * drizzle-kit must never generate it.
 */
export const LEDGER_TABLE = "_migrations";

export const migrationLedger = sqliteTable(LEDGER_TABLE, {
  version: integer("version").primaryKey(),
  tag: text("tag").notNull(),
  sha256: text("sha256").notNull(),
  appliedAt: integer("applied_at").notNull(),
});

export const CREATE_LEDGER_SQL = `CREATE TABLE IF NOT EXISTS ${LEDGER_TABLE} (
  version INTEGER PRIMARY KEY NOT NULL,
  tag TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  applied_at INTEGER NOT NULL
)`;
