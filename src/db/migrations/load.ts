import { createHash } from "node:crypto";
import { embeddedMigrations } from "./embedded" with { type: "macro" };
import { type MigrationSource, readMigrationFolder } from "./folder";
import { type SqlStatement, splitSql } from "./split";

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
