import { createHash } from "node:crypto";
import { AppError } from "~/lib/errors";
import { readMigrationFolder, type MigrationSource } from "./folder";
import { embeddedMigrations } from "./embedded" with { type: "macro" };
import { splitSql, type SqlStatement } from "./split";

export interface Migration {
  /** 1-based position in the journal; applying it sets user_version to this. */
  version: number;
  tag: string;
  /** Where it came from, for messages: drizzle/0003_x.sql. */
  file: string;
  /** sha256 of the file with line endings normalised, recorded in the ledger. */
  hash: string;
  statements: SqlStatement[];
}

/**
 * The migrations this build carries. COPILOT_API_MIGRATIONS_DIR swaps in another
 * drizzle-kit folder read at run time (tests use it for fixture migrations).
 */
export function loadMigrations(env: Record<string, string | undefined> = process.env): Migration[] {
  const dir = env.COPILOT_API_MIGRATIONS_DIR;
  return dir ? fromSources(readMigrationFolder(dir), dir) : fromSources(embeddedMigrations(), "drizzle");
}

export function fromSources(sources: MigrationSource[], folder: string): Migration[] {
  return sources.map((source, index) => {
    const sql = source.sql.replace(/\r\n/g, "\n");
    return {
      version: index + 1,
      tag: source.tag,
      file: `${folder}/${source.tag}.sql`,
      hash: createHash("sha256").update(sql).digest("hex"),
      statements: splitSql(sql),
    };
  });
}

/** drizzle-kit's table rebuilds toggle foreign keys; the runner does that itself, outside the transaction. */
export function isForeignKeysPragma(statement: SqlStatement): boolean {
  return /^PRAGMA\s+foreign_keys\s*=\s*(ON|OFF|0|1|TRUE|FALSE)$/i.test(statement.sql.replace(/--[^\n]*/g, "").trim());
}

const TRANSACTION_KEYWORDS = new Set(["BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"]);

/**
 * Refuses statements that would break the one-transaction-per-migration
 * guarantee, before anything is applied.
 */
export function assertApplicable(migration: Migration): void {
  migration.statements.forEach((statement, i) => {
    const where = `${migration.file} statement ${i + 1} (line ${statement.line})`;
    if (TRANSACTION_KEYWORDS.has(statement.keyword)) {
      throw new AppError(
        `${where}: ${statement.keyword} is not allowed in a migration`,
        "the runner wraps each migration file in its own transaction; remove the transaction statements from the file",
      );
    }
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
