import { join } from "node:path";
import { type MigrationSource, readMigrationFolder } from "./folder";

/**
 * Imported as a Bun macro: it runs when the code is transpiled or bundled and
 * its result is inlined, so `bun run`, `bun build` and `bun build --compile`
 * all carry drizzle/ inside them with no list to maintain and no file to find
 * at run time.
 */
export function embeddedMigrations(): MigrationSource[] {
  return readMigrationFolder(join(import.meta.dir, "..", "..", "..", "drizzle"));
}

/** The PostgreSQL series (drizzle-pg/), inlined the same way. */
export function embeddedPgMigrations(): MigrationSource[] {
  return readMigrationFolder(join(import.meta.dir, "..", "..", "..", "drizzle-pg"));
}
