import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { AppError, errorMessage } from "~/lib/errors";

/** One migration file as drizzle-kit wrote it, in journal order. */
export interface MigrationSource {
  tag: string;
  sql: string;
}

interface Journal {
  entries: { idx: number; tag: string }[];
}

/**
 * Reads drizzle-kit's journal and the SQL files it lists. The journal order is
 * the apply order (never the timestamps), and every .sql file must be listed, so
 * a migration merged from another branch cannot be skipped silently.
 */
export function readMigrationFolder(dir: string): MigrationSource[] {
  const journalPath = join(dir, "meta", "_journal.json");
  if (!existsSync(journalPath)) {
    throw new AppError(
      `no migration journal at ${journalPath}`,
      "run `bun run db:generate` to create it, or point COPILOT_API_MIGRATIONS_DIR at a drizzle-kit output folder",
    );
  }
  let journal: Journal;
  try {
    journal = JSON.parse(readFileSync(journalPath, "utf8")) as Journal;
  } catch (error) {
    throw new AppError(`${journalPath} is not valid JSON: ${errorMessage(error)}`, "restore it from git");
  }
  const entries = journal.entries ?? [];
  entries.forEach((entry, position) => {
    if (entry.idx !== position) {
      throw new AppError(
        `${journalPath}: entry ${position} has idx ${entry.idx}`,
        "the journal must list migrations in order without gaps; regenerate it with `bun run db:generate`",
      );
    }
  });
  const listed = new Set(entries.map((e) => `${e.tag}.sql`));
  const stray = readdirSync(dir).filter((f) => f.endsWith(".sql") && !listed.has(f));
  if (stray.length > 0) {
    throw new AppError(
      `${stray.map((f) => join(dir, f)).join(", ")} ${stray.length === 1 ? "is" : "are"} not listed in ${journalPath}`,
      "a migration file must come from `bun run db:generate` (use --custom for hand-written SQL); after a merge, regenerate so the journal lists every file",
    );
  }
  return entries.map((entry) => {
    const file = join(dir, `${entry.tag}.sql`);
    if (!existsSync(file)) {
      throw new AppError(`${file} is listed in ${journalPath} but missing`, "restore the file from git");
    }
    return { tag: entry.tag, sql: readFileSync(file, "utf8") };
  });
}
