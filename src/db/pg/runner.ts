import { sql } from "drizzle-orm";
import { AppError } from "~/lib/errors";
import { type ApplyHooks, assertMigratable, assertNoTransactionStatements, ledgerMismatch, type Migration, type MigrationPlan, planFrom } from "../migrations";
import { preview } from "../migrations/split";
import { auditPgStoreAction } from "./audit";
import { type PgDatabase, pgErrorMessage } from "./connect";
import { createPgLedger, readPgLedger, recordPgApplied } from "./ledger";

/**
 * The Postgres runner, with the SQLite runner's guarantees: the plan is checked
 * before anything is written (an edited applied migration, or a database newer
 * than this build, is refused), each migration runs in its own transaction with
 * its ledger row, and gateways booting together serialise on one advisory lock,
 * re-reading the ledger under it, so each migration is applied exactly once.
 */

/** Every copilot-api on a database waits on this one lock while migrating (hashtext of a fixed name). */
const LOCK_NAME = "copilot-api:migrations";
/** How long to wait for another gateway's migration before giving up with a remedy. */
const LOCK_WAIT = "120s";

/** The newest version in the ledger is the schema version (Postgres has no user_version). */
export async function planPgMigrations(db: PgDatabase, migrations: Migration[]): Promise<MigrationPlan> {
  const ledger = await readPgLedger(db);
  return planFrom(ledger.at(-1)?.version ?? 0, ledger, migrations);
}

/** Statements Postgres cannot run inside the migration's transaction. */
function assertPgApplicable(migration: Migration): void {
  assertNoTransactionStatements(migration);
  migration.statements.forEach((statement, i) => {
    if (statement.keyword === "VACUUM" || /\bCONCURRENTLY\b/i.test(statement.sql)) {
      throw new AppError(
        `${migration.file} statement ${i + 1} (line ${statement.line}): \`${preview(statement.sql)}\` cannot run inside a transaction`,
        "every migration runs in one transaction; drop CONCURRENTLY (or VACUUM) from the file",
      );
    }
  });
}

/** Applies what is pending (each once, whichever gateway gets there first); what this process applied is audited, as on SQLite. */
export async function applyPgMigrations(db: PgDatabase, migrations: Migration[], hooks: ApplyHooks & { target?: string } = {}): Promise<Migration[]> {
  const plan = await planPgMigrations(db, migrations);
  assertMigratable(plan, assertPgApplicable);
  if (plan.pending.length > 0 && plan.dbVersion > 0) hooks.beforeApply?.(plan);
  const applied: Migration[] = [];
  for (const migration of plan.pending) {
    hooks.onApplying?.(migration);
    const started = performance.now();
    if (await applyOne(db, migration)) {
      applied.push(migration);
      hooks.onApplied?.(migration, performance.now() - started);
    }
  }
  if (applied.length > 0) {
    await auditPgStoreAction(
      db,
      "db.migrations_applied",
      hooks.target ?? "postgres",
      applied.map((m) => m.file),
    );
  }
  return applied;
}

/** Returns false when another gateway applied it first. */
function applyOne(db: PgDatabase, migration: Migration): Promise<boolean> {
  return db.transaction(async (tx) => {
    await tx.execute(sql.raw(`SET LOCAL lock_timeout = '${LOCK_WAIT}'`));
    try {
      await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${LOCK_NAME}))`);
    } catch (error) {
      throw new AppError(
        `could not take the migration lock within ${LOCK_WAIT}: ${pgErrorMessage(error)}`,
        "another copilot-api is migrating this database (or holds the lock): wait for it to finish, or stop it",
      );
    }
    const ledger = await readPgLedger(tx);
    const current = ledger.at(-1)?.version ?? 0;
    if (current >= migration.version) {
      const reason = ledgerMismatch(
        migration,
        ledger.find((r) => r.version === migration.version),
      );
      if (reason)
        throw new AppError(
          `${migration.file} was applied by another process as a different file: ${reason}`,
          "make every copilot-api sharing this database the same build",
        );
      return false;
    }
    if (current !== migration.version - 1) {
      throw new AppError(`${migration.file}: the database moved to schema ${current} while migrating`, "run it again");
    }
    await createPgLedger(tx);
    for (const [i, statement] of migration.statements.entries()) {
      try {
        await tx.execute(sql.raw(statement.sql));
      } catch (error) {
        throw new AppError(
          `${migration.file} failed at statement ${i + 1} (line ${statement.line}): ${pgErrorMessage(error)}\n  ${preview(statement.sql)}`,
          "the migration was rolled back completely; fix the file (or the data it trips on) and start again",
        );
      }
    }
    await recordPgApplied(tx, { version: migration.version, tag: migration.tag, sha256: migration.hash, appliedAt: Date.now() });
    return true;
  });
}
