import { migrationHash } from "./carried";
import { embeddedMigrations, embeddedPgMigrations } from "./embedded" with { type: "macro" };
import { type MigrationSource, readMigrationFolder } from "./folder";
import { type SqlStatement, splitAtBreakpoints, splitSql } from "./split";

export interface Migration {
  /** 1-based position in the journal; applying it sets user_version (SQLite) or the ledger's newest version (Postgres) to this. */
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

/**
 * The PostgreSQL series (drizzle-pg/) this build carries, for --database-url.
 * COPILOT_API_PG_MIGRATIONS_DIR swaps in another folder, like COPILOT_API_MIGRATIONS_DIR.
 */
export function loadPgMigrations(env: Record<string, string | undefined> = process.env): Migration[] {
  const dir = env.COPILOT_API_PG_MIGRATIONS_DIR;
  return dir ? fromSources(readMigrationFolder(dir), dir, splitAtBreakpoints) : fromSources(embeddedPgMigrations(), "drizzle-pg", splitAtBreakpoints);
}

export function fromSources(sources: MigrationSource[], folder: string, split: (sql: string) => SqlStatement[] = splitSql): Migration[] {
  return sources.map((source, index) => {
    const sql = source.sql.replace(/\r\n/g, "\n");
    return {
      version: index + 1,
      tag: source.tag,
      file: `${folder}/${source.tag}.sql`,
      hash: migrationHash(sql),
      statements: split(sql),
    };
  });
}
