import type { Database } from "bun:sqlite";
import { AppError, errorMessage } from "~/lib/errors";
import { isBusy } from "../busy";
import { assertNoTextReads, assertStatementReadsNoText } from "./guard";
import { createLedger, type LedgerRow, readLedger, recordApplied } from "./ledger";
import type { Migration } from "./load";
import { isForeignKeysPragma, preview } from "./split";

export interface MigrationPlan {
  /** PRAGMA user_version: how many migrations this database has applied. */
  dbVersion: number;
  /** How many migrations this build carries. */
  buildVersion: number;
  applied: Migration[];
  pending: Migration[];
  /** Applied migrations whose file no longer matches the ledger (or has no ledger row). */
  modified: { migration: Migration; reason: string }[];
}

export function userVersion(sqlite: Database): number {
  return sqlite.query<{ user_version: number }, []>("PRAGMA user_version").get()?.user_version ?? 0;
}

/** Read-only: what the database has, what this build carries, and what differs. */
export function planMigrations(sqlite: Database, migrations: Migration[]): MigrationPlan {
  return planFrom(userVersion(sqlite), readLedger(sqlite), migrations);
}

/** The plan from a database's schema version and ledger, whichever dialect they were read from. */
export function planFrom(dbVersion: number, ledgerRows: LedgerRow[], migrations: Migration[]): MigrationPlan {
  const ledger = new Map(ledgerRows.map((row) => [row.version, row]));
  const applied = migrations.slice(0, dbVersion);
  const modified = applied.flatMap((migration) => {
    const reason = ledgerMismatch(migration, ledger.get(migration.version));
    return reason ? [{ migration, reason }] : [];
  });
  return { dbVersion, buildVersion: migrations.length, applied, pending: migrations.slice(dbVersion), modified };
}

export function ledgerMismatch(migration: Migration, row: LedgerRow | undefined): string | undefined {
  if (!row) return "the ledger has no record of it";
  if (row.tag !== migration.tag) return `the ledger says version ${row.version} was ${row.tag}`;
  if (row.sha256 !== migration.hash) return `its sha256 is ${migration.hash.slice(0, 12)}…, applied as ${row.sha256.slice(0, 12)}…`;
  return undefined;
}

/** Refuses, writing nothing, a database this build must not migrate. */
export function assertMigratable(plan: MigrationPlan, applicable: (migration: Migration) => void = assertApplicable): void {
  if (plan.dbVersion > plan.buildVersion) {
    throw new AppError(
      `database schema ${plan.dbVersion} is newer than this build (${plan.buildVersion})`,
      "run the newer copilot-api that migrated it, or restore a backup taken before that upgrade; nothing was written",
    );
  }
  const first = plan.modified[0];
  if (first) {
    throw new AppError(
      `${first.migration.file} was changed after it was applied: ${first.reason}` + (plan.modified.length > 1 ? ` (and ${plan.modified.length - 1} more)` : ""),
      "applied migrations are immutable: restore the file from git and put the change in a new migration (`bun run db:generate`); nothing was written",
    );
  }
  for (const migration of plan.pending) applicable(migration);
}

const TRANSACTION_KEYWORDS = new Set(["BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE", "START"]);

/** Both dialects: the runner owns each migration's transaction, so a file must not open or end one. */
export function assertNoTransactionStatements(migration: Migration): void {
  migration.statements.forEach((statement, i) => {
    if (!TRANSACTION_KEYWORDS.has(statement.keyword)) return;
    throw new AppError(
      `${migration.file} statement ${i + 1} (line ${statement.line}): ${statement.keyword} is not allowed in a migration`,
      "the runner wraps each migration file in its own transaction; remove the transaction statements from the file",
    );
  });
}

/**
 * Refuses statements that would break the one-transaction-per-migration
 * guarantee, before anything is applied.
 */
function assertApplicable(migration: Migration): void {
  assertNoTransactionStatements(migration);
  migration.statements.forEach((statement, i) => {
    const where = `${migration.file} statement ${i + 1} (line ${statement.line})`;
    if (statement.keyword === "PRAGMA" && !isForeignKeysPragma(statement)) {
      throw new AppError(
        `${where}: \`${statement.sql}\` is not allowed in a migration`,
        "a PRAGMA in a migration does not roll back with it; connection settings belong in src/db/open.ts",
      );
    }
    if (["VACUUM", "ATTACH", "DETACH"].includes(statement.keyword)) {
      throw new AppError(
        `${where}: ${statement.keyword} is not allowed in a migration`,
        "it cannot run inside the migration's transaction; remove it from the file",
      );
    }
  });
}

export interface ApplyHooks {
  /** Runs once before the first pending migration of a database that already has a schema. */
  beforeApply?: (plan: MigrationPlan) => void;
  onApplying?: (migration: Migration) => void;
  onApplied?: (migration: Migration, ms: number) => void;
}

/** How long to wait for another process that is migrating the same database. */
const LOCK_WAIT_MS = 120_000;

/**
 * Applies pending migrations, one BEGIN IMMEDIATE transaction each. Every
 * transaction re-reads user_version, so processes booting together serialise on
 * the write lock and each migration is applied exactly once.
 */
export function applyMigrations(sqlite: Database, migrations: Migration[], hooks: ApplyHooks = {}): Migration[] {
  const plan = planMigrations(sqlite, migrations);
  assertMigratable(plan);
  if (plan.pending.length === 0) return [];
  // A rebuild that would write a column's name into every row is refused before the backup or any transaction.
  assertNoTextReads(migrations, plan.pending[0]!.version);
  if (plan.dbVersion > 0) hooks.beforeApply?.(plan);

  const applied: Migration[] = [];
  // Table rebuilds drop and recreate parents; with foreign keys on, that cascades
  // into child rows. It only takes effect outside a transaction.
  sqlite.run("PRAGMA foreign_keys = OFF");
  try {
    for (const migration of plan.pending) {
      hooks.onApplying?.(migration);
      const started = performance.now();
      if (applyOne(sqlite, migration)) {
        applied.push(migration);
        hooks.onApplied?.(migration, performance.now() - started);
      }
    }
  } finally {
    sqlite.run("PRAGMA foreign_keys = ON");
  }
  return applied;
}

/** Returns false when another process applied it first. */
function applyOne(sqlite: Database, migration: Migration): boolean {
  beginImmediate(sqlite);
  try {
    const current = userVersion(sqlite);
    if (current >= migration.version) {
      const row = readLedger(sqlite).find((r) => r.version === migration.version);
      const reason = ledgerMismatch(migration, row);
      if (reason)
        throw new AppError(
          `${migration.file} was applied by another process as a different file: ${reason}`,
          "make every copilot-api sharing this database the same build",
        );
      sqlite.run("COMMIT");
      return false;
    }
    if (current !== migration.version - 1) {
      throw new AppError(`${migration.file}: the database moved to schema ${current} while migrating`, "run it again");
    }
    createLedger(sqlite);
    migration.statements.forEach((statement, i) => {
      if (isForeignKeysPragma(statement)) return;
      // Again on the live schema, in case it is not the one the migrations build.
      assertStatementReadsNoText(sqlite, migration, i);
      try {
        sqlite.run(statement.sql);
      } catch (error) {
        throw new AppError(
          `${migration.file} failed at statement ${i + 1} (line ${statement.line}): ${errorMessage(error)}\n  ${preview(statement.sql)}`,
          "the migration was rolled back completely; fix the file (or the data it trips on) and start again",
        );
      }
    });
    assertForeignKeys(sqlite, migration);
    recordApplied(sqlite, { version: migration.version, tag: migration.tag, sha256: migration.hash, appliedAt: Date.now() });
    sqlite.run(`PRAGMA user_version = ${migration.version}`);
    sqlite.run("COMMIT");
    return true;
  } catch (error) {
    if (sqlite.inTransaction) sqlite.run("ROLLBACK");
    throw error;
  }
}

function assertForeignKeys(sqlite: Database, migration: Migration): void {
  const violations = sqlite.query<{ table: string; rowid: number | null; parent: string; fkid: number }, []>("PRAGMA foreign_key_check").all();
  if (violations.length === 0) return;
  const shown = violations
    .slice(0, 5)
    .map((v) => `${v.table} row ${v.rowid} → ${v.parent}`)
    .join(", ");
  throw new AppError(
    `${migration.file} leaves ${violations.length} foreign key violation(s): ${shown}`,
    "the migration was rolled back; make it keep or fix the referenced rows",
  );
}

function beginImmediate(sqlite: Database): void {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      sqlite.run("BEGIN IMMEDIATE");
      return;
    } catch (error) {
      if (!isBusy(error) || Date.now() > deadline) {
        throw new AppError(
          `could not take the write lock to migrate: ${errorMessage(error)}`,
          "another process holds the database; stop it, or wait for its migration to finish",
        );
      }
      // busy_timeout already waited; the other process is running a long migration.
    }
  }
}
