import type { Database } from "bun:sqlite";
import { type BunSQLiteDatabase, drizzle } from "drizzle-orm/bun-sqlite";
import { AppError } from "~/lib/errors";
import { log } from "~/lib/log";
import { auditStoreAction } from "./audit";
import { backupBeforeMigrating } from "./backup";
import { describeFileChange, type OpenedFiles, RESTART_HINT, walStillOurs } from "./identity";
import { applyMigrations, loadMigrations, type Migration } from "./migrations";
import { BUSY_TIMEOUT_MS, openDatabase } from "./open";
import { replicatedByLitestream } from "./replication";
import * as schema from "./schema";

export { auditDatabaseFile, osUser } from "./audit";
export type AppDatabase = BunSQLiteDatabase<typeof schema>;
export { AsyncTurnWriter } from "./async-turn-writer";
export { removeStaleBackupTemps } from "./backup";
export { isBusy } from "./busy";
export { allDatabaseFiles, walFile } from "./files";
export type { Migration } from "./migrations";
export type { PgDatabase } from "./pg/connect";
export { openPgStore, type PgStore } from "./pg/store";
export * as pgTables from "./pg-schema";
export {
  dropLitestreamShadow,
  lastWriteMs,
  litestreamConfigFile,
  litestreamLocalBytes,
  type ReplicationState,
  readReplicationStatus,
  replicationFolder,
  writeReplicationState,
} from "./replication";
export { checkDatabaseFile } from "./status";
export { TurnWriter } from "./turn-writer";
export { StoreFileWatch } from "./watch";

/** The store's lifecycle in one object: opened, migrated, then closed once. */
export interface Store {
  path: string;
  /** The typed Drizzle handle every feature uses. */
  db: AppDatabase;
  /** The raw connection, for src/db only (pragmas, backups, benchmarks). */
  sqlite: Database;
  /** A BEGIN IMMEDIATE transaction: it takes the write lock up front, so it never fails midway with SQLITE_BUSY_SNAPSHOT. */
  transaction<T>(fn: (tx: Parameters<Parameters<AppDatabase["transaction"]>[0]>[0]) => T): T;
  /**
   * PRAGMA data_version: changes whenever another connection (another process,
   * e.g. the CLI) commits. This connection's own commits do not change it: a
   * cache of rows this process writes too reads changeCounter() instead.
   */
  dataVersion(): number;
  /**
   * Moves whenever the database may have changed, by any path: another
   * connection's commit (data_version) or a row written on this one
   * (total_changes(): a transaction, the turn writer, a Drizzle statement, a
   * raw one). A cache keeps what it read with the counter it saw and trusts it
   * while the counter stays put, so no write has to remember to invalidate it.
   * Cheap enough for every request: data_version costs a read transaction, so it
   * is read at most once per event-loop turn; total_changes() reads no page.
   */
  changeCounter(): number;
  /**
   * Runs fn with another busy timeout, for writers that must never stall the
   * event loop waiting for a lock (they retry later instead).
   */
  withBusyTimeout<T>(ms: number, fn: () => T): T;
  /**
   * Undefined while the path still names the files this connection opened;
   * otherwise a sentence saying the database was deleted or replaced under the
   * server. Once set it stays set: from then on every transaction refuses to
   * start (the writes would go to a file nobody reads) and only a restart helps.
   */
  fileProblem(): string | undefined;
  /**
   * While Litestream runs, checkpoints are its own: true turns this connection's
   * autocheckpoint off, false turns it back on (see replication.ts).
   */
  handOverCheckpoints(handedOver: boolean): void;
  close(): void;
}

/** What a server whose database was deleted or replaced should do about it. */

export interface OpenStoreOptions {
  path: string;
  /** Defaults to the migrations this build carries. */
  migrations?: Migration[];
}

/** Opens the database, applies pending migrations, and hands back the typed handle. */
export function openStore(options: OpenStoreOptions): Store {
  const { sqlite, files } = openDatabase(options.path, { create: true });
  try {
    const applied = applyMigrations(sqlite, options.migrations ?? loadMigrations(), {
      // A database that already has a schema is backed up before anything touches it.
      beforeApply: (plan) => {
        const backup = backupBeforeMigrating(sqlite, options.path, plan.dbVersion);
        log.info(`backed up schema ${plan.dbVersion} to ${backup.path} before migrating`);
      },
      onApplying: (m) => log.info(`applying ${m.file}…`),
      onApplied: (m, ms) => log.info(`applied ${m.file} (schema ${m.version}) in ${ms.toFixed(1)} ms`),
    });
    if (applied.length > 0) {
      log.success(`database at schema ${applied.at(-1)!.version}`);
      auditStoreAction(
        sqlite,
        "db.migrations_applied",
        options.path,
        applied.map((m) => m.file),
      ); // issue 23
    }
  } catch (error) {
    sqlite.close();
    throw error;
  }
  return storeOver(sqlite, options.path, files);
}

/** SQLite's default wal_autocheckpoint, restored when Litestream hands checkpoints back. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;

function storeOver(sqlite: Database, path: string, files: OpenedFiles | undefined): Store {
  const db = drizzle({ client: sqlite, schema });
  const dataVersion = sqlite.query<{ data_version: number }, []>("PRAGMA data_version");
  const changeCounter = changeCounterOver(() => dataVersion.get()!.data_version, sqlite.query<{ n: number }, []>("SELECT total_changes() AS n"));
  let closed = false;
  let problem: string | undefined;
  const fileProblem = () => {
    if (problem === undefined && files) problem = describeFileChange(path, files);
    return problem;
  };
  return {
    path,
    db,
    sqlite,
    transaction: (fn) => {
      // Two stat calls (about 2 µs) per transaction: writes never go to a file nobody will read.
      const moved = fileProblem();
      if (moved) throw new AppError(moved, RESTART_HINT);
      return db.transaction(fn, { behavior: "immediate" });
    },
    dataVersion: () => dataVersion.get()!.data_version,
    changeCounter,
    withBusyTimeout(ms, fn) {
      sqlite.run(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(ms))}`);
      try {
        return fn();
      } finally {
        sqlite.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      }
    },
    fileProblem,
    handOverCheckpoints(handedOver) {
      if (!closed) sqlite.run(`PRAGMA wal_autocheckpoint = ${handedOver ? 0 : DEFAULT_AUTOCHECKPOINT_PAGES}`);
    },
    close() {
      if (closed) return;
      closed = true;
      dataVersion.finalize();
      if (fileProblem()) {
        // The path names other files now: write nothing more (no optimize), except
        // to empty our own -wal when it is still the one at the path (only the main
        // file was moved away), since its frames would otherwise be read as part of
        // whatever database now sits there. Closing is safe: SQLite does not delete
        // a moved database's -wal by name (checked: a live -wal of a new database
        // at the path survives it).
        if (files && walStillOurs(path, files)) sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)");
        sqlite.close();
        return;
      }
      // Fold the WAL back into the main file so a stopped server leaves one file behind.
      sqlite.run("PRAGMA optimize");
      // Not on a database Litestream replicates: its read transaction would hold the
      // checkpoint for the whole busy timeout. SQLite's close folds the WAL when we are the last.
      if (!replicatedByLitestream(path)) sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)");
      sqlite.close();
    },
  };
}

/**
 * Store.changeCounter over one connection: a number that moves when data_version
 * (as of this event-loop turn) or this connection's total_changes() moved.
 */
function changeCounterOver(dataVersion: () => number, totalChanges: { get(): { n: number } | null }): () => number {
  let turnVersion: number | undefined;
  const nextTurn = () => {
    turnVersion = undefined;
  };
  let seenVersion = Number.NaN;
  let seenChanges = Number.NaN;
  let counter = 0;
  return () => {
    if (turnVersion === undefined) {
      turnVersion = dataVersion();
      // Another process's commit shows from the next turn on: the next request sees it.
      setImmediate(nextTurn);
    }
    const changes = totalChanges.get()!.n;
    if (turnVersion !== seenVersion || changes !== seenChanges) {
      seenVersion = turnVersion;
      seenChanges = changes;
      counter++;
    }
    return counter;
  };
}

/**
 * The hot-path pattern every feature follows: build a Drizzle query once per
 * connection with `sql.placeholder()`s and `.prepare()`, then call
 * `.get()/.all()/.run()` with values. Without it Drizzle rebuilds and
 * recompiles the SQL on every call (about 10x slower).
 *
 *   const byHash = preparedFor((db) =>
 *     db.select().from(keys).where(eq(keys.hash, sql.placeholder("hash"))).prepare());
 *   byHash(store.db).get({ hash });
 */
export function preparedFor<T>(build: (db: AppDatabase) => T): (db: AppDatabase) => T {
  const cache = new WeakMap<AppDatabase, T>();
  return (db) => {
    let prepared = cache.get(db);
    if (prepared === undefined) {
      prepared = build(db);
      cache.set(db, prepared);
    }
    return prepared;
  };
}

/** Opens (and migrates) the store for one CLI command, and always closes it. */
export async function withStore<T>(path: string, fn: (store: Store) => T | Promise<T>): Promise<T> {
  const store = openStore({ path });
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}

/**
 * Rows changed by a Drizzle `.run()`. drizzle-orm's bun-sqlite driver types the
 * result as void, but it is bun:sqlite's `{ changes, lastInsertRowid }`.
 */
export function rowsChanged(result: unknown): number {
  return (result as { changes: number }).changes;
}

/** The rowid an insert's run() gave its row (Drizzle's bun-sqlite run() returns bun:sqlite's Changes, typed void). */
export function insertedRowId(result: unknown): number {
  return Number((result as { lastInsertRowid: number | bigint }).lastInsertRowid);
}
