/**
 * The migrations wing of the store: what the store, `db` commands, scripts and
 * tests use (the Postgres runner, src/db/pg/, reuses its plan, ledger and loading).
 * Each file does one thing:
 *
 *   load.ts            the migrations this build carries (embedded, or COPILOT_API_MIGRATIONS_DIR), both dialects
 *   folder.ts          reads a drizzle-kit folder: journal order, every file listed
 *   embedded.ts        the Bun macro that inlines drizzle/ at build time
 *   split.ts           splits a file into statements (with their line numbers), previews one for messages
 *   runner.ts          plan, refuse or apply: one BEGIN IMMEDIATE transaction per migration
 *   ledger.ts          the runner's own table (_migrations), declared once
 *   guard.ts           refuses a migration that reads a "double-quoted" name as text
 *   quoted-names.ts    asks SQLite which double-quoted names it would read as text
 *   rebuild-repair.ts  repairs drizzle-kit 0.31's table rebuilds (`bun run db:generate`)
 */
export { readMigrationFolder } from "./folder";
export { checkMigrations, describeAppliedFinding, describeFinding, findingHint } from "./guard";
export { createLedgerSql, LEDGER_TABLE, type LedgerRow, migrationLedger, readLedger } from "./ledger";
export { fromSources, loadMigrations, loadPgMigrations, type Migration } from "./load";
export { describeRepair, repairRebuilds } from "./rebuild-repair";
export {
  type ApplyHooks,
  applyMigrations,
  assertMigratable,
  assertNoTransactionStatements,
  ledgerMismatch,
  type MigrationPlan,
  planFrom,
  planMigrations,
  userVersion,
} from "./runner";
export { isForeignKeysPragma } from "./split";
