import { Database } from "bun:sqlite";
import { AppError, errorMessage } from "~/lib/errors";
import type { Migration } from "./load";
import { namesReadAsText } from "./quoted-names";
import { isForeignKeysPragma, preview, type SqlStatement } from "./split";

/**
 * The guard shared by the runner, `db verify` and `bun run db:check`: replay
 * the migrations on a scratch in-memory database and, before each statement
 * runs, ask SQLite which of its "double-quoted" names it would read as text
 * (see quoted-names.ts). A table rebuild that selects a column the old table
 * does not have yet is the case that matters: every row would get the column's
 * name instead of its default.
 */

export interface TextReadFinding {
  migration: Migration;
  /** 0-based position of the statement in the migration. */
  index: number;
  statement: SqlStatement;
  /** The double-quoted names SQLite reads as string literals there. */
  names: string[];
}

export interface ReplayFailure {
  migration: Migration;
  index: number;
  statement: SqlStatement;
  message: string;
}

export interface GuardReport {
  findings: TextReadFinding[];
  /** The first statement that failed on the scratch database; nothing after it was checked. */
  failure?: ReplayFailure;
}

/**
 * Replays every migration on a fresh in-memory database, checking the
 * statements of migrations from version `checkFrom` on (earlier ones are only
 * replayed, to build the schema the later ones see).
 */
export function checkMigrations(migrations: Migration[], checkFrom = 1): GuardReport {
  const scratch = new Database(":memory:");
  const findings: TextReadFinding[] = [];
  try {
    for (const migration of migrations) {
      for (const [index, statement] of migration.statements.entries()) {
        if (isForeignKeysPragma(statement)) continue;
        if (migration.version >= checkFrom) {
          const names = namesReadAsText(scratch, statement.sql);
          if (names.length > 0) findings.push({ migration, index, statement, names });
        }
        try {
          scratch.run(statement.sql);
        } catch (error) {
          return { findings, failure: { migration, index, statement, message: errorMessage(error) } };
        }
      }
    }
    return { findings };
  } finally {
    scratch.close();
  }
}

const quoted = (names: string[]) => names.map((n) => `"${n}"`).join(", ");
const where = (f: { migration: Migration; index: number; statement: SqlStatement }) =>
  `${f.migration.file} statement ${f.index + 1} (line ${f.statement.line})`;

/** What happened, for a migration that has not been applied yet. */
export function describeFinding(f: TextReadFinding): string {
  const [first] = f.names;
  return (
    `${where(f)} reads ${quoted(f.names)}, which ${f.names.length === 1 ? "is not a column" : "are not columns"} of the table it reads at that point: ` +
    `SQLite would take ${f.names.length === 1 ? "it" : "each"} as the text '${first}' and write that into the rows instead of a value\n  ${preview(f.statement.sql)}`
  );
}

/** What to do about it. */
export function findingHint(f: TextReadFinding): string {
  const rebuild = /^INSERT\s+INTO\s+[`"[]?__new_/i.test(preview(f.statement.sql));
  const file = f.migration.file;
  return rebuild
    ? `this is drizzle-kit 0.31's table rebuild copying a column the old table does not have yet: run \`bun run db:generate --repair ${file}\` ` +
        `(it leaves ${quoted(f.names)} out of both column lists of the INSERT … SELECT, so the default applies), review and commit the file`
    : `in ${file}, name an existing column (check the table at that point in the migrations), ` +
        `or, if you meant text, write it in single quotes ('${f.names[0]}'); double quotes are for names`;
}

/** For `db verify`: the same finding in a migration this database has already applied. */
export function describeAppliedFinding(f: TextReadFinding): string {
  return (
    `${where(f)} read ${quoted(f.names)} as text when it was applied (no such column at that point): ` +
    `rows it wrote may hold '${f.names[0]}' instead of a value; check them and correct them in a new migration`
  );
}

/**
 * The runner's up-front check, before anything is written (no backup, no
 * transaction): refuses pending migrations that would read a double-quoted name
 * as text. Costs one replay of every migration on :memory:, and only runs when
 * something is pending.
 */
export function assertNoTextReads(migrations: Migration[], firstPending: number): void {
  const { findings } = checkMigrations(migrations, firstPending);
  const first = findings[0];
  if (!first) return;
  throw new AppError(
    describeFinding(first) + (findings.length > 1 ? `\n  (and ${findings.length - 1} more such statement(s))` : ""),
    `${findingHint(first)}; nothing was written`,
  );
}

/** The same check on the live connection, for the statement about to run inside the migration's transaction. */
export function assertStatementReadsNoText(sqlite: Database, migration: Migration, index: number): void {
  const statement = migration.statements[index]!;
  const names = namesReadAsText(sqlite, statement.sql);
  if (names.length === 0) return;
  const finding = { migration, index, statement, names };
  throw new AppError(describeFinding(finding), `${findingHint(finding)}; the migration was rolled back`);
}
