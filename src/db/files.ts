import { basename, dirname, join } from "node:path";

/**
 * SQLite's file names: what it keeps beside a database file. In WAL mode, the
 * write-ahead log (-wal) and its shared-memory index (-shm); in rollback mode
 * (e.g. the target of VACUUM INTO while it is written), the journal (-journal).
 * The store's code asks here instead of spelling the suffixes.
 */
const WAL = "-wal";
const SHM = "-shm";
const JOURNAL = "-journal";

/** Every suffix SQLite may add to a database file's name. */
export const SIDE_FILE_SUFFIXES = [JOURNAL, WAL, SHM] as const;

export const walFile = (path: string) => `${path}${WAL}`;

/** The database file and the two files SQLite keeps beside it in WAL mode. */
export function databaseFiles(path: string): string[] {
  return [path, walFile(path), `${path}${SHM}`];
}

/** Every file SQLite may have written for a database at path, in any journal mode. */
export function allDatabaseFiles(path: string): string[] {
  return [path, ...SIDE_FILE_SUFFIXES.map((suffix) => `${path}${suffix}`)];
}

/**
 * Litestream's own folder beside a database it replicates (`.<name>-litestream`):
 * its shadow WAL, and here also the configuration and state copilot-api writes
 * for it. While it exists, the database is Litestream's to checkpoint (see replication.ts).
 */
export const litestreamFolder = (path: string) => join(dirname(path), `.${basename(path)}-litestream`);
