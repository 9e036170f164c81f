// The store's public face: the SQLite Store (opened, migrated, then closed once) and what features may use of src/db.
import type { Database } from "bun:sqlite";
import { AppError } from "~/lib/errors";
import { log } from "~/lib/log";
import { auditStoreAction } from "./audit";
import { backupBeforeMigrating } from "./backup";
import { describeFileChange, type OpenedFiles, RESTART_HINT, walStillOurs } from "./identity";
import type { Migration } from "./migrations";
import { carriedIsCurrent } from "./migrations/carried";
import { BUSY_TIMEOUT_MS, openDatabase } from "./open";
import { replicatedByLitestream } from "./replication";
import type { AppDatabase, Tx, typedOver } from "./typed";

export { AsyncTurnWriter } from "./async-turn-writer";
export { auditDatabaseFile, osUser } from "./audit";
export { removeStaleBackupTemps } from "./backup";
export { isBusy } from "./busy";
export { allDatabaseFiles, walFile } from "./files";
export type { Migration } from "./migrations";
// Types only: the values are on the PostgreSQL face (./postgres.ts), loaded only on Postgres.
export type { PgStore } from "./pg/store";
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
export type { AppDatabase } from "./typed";
/** The checks of `db verify` on a file (a restored copy): status.ts loads the migration runner and the schema introspection, which a server never needs. */
export async function checkDatabaseFile(path: string, env: Record<string, string | undefined>) {
  const { checkDatabaseFile: check } = await import("./status");
  return check(path, env);
}
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
  transaction<T>(fn: (tx: Tx) => T): T;
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
   * A write off the request path (events, usage totals, last-used times, stored
   * responses): run with busy timeout 0, so it never waits for the lock (SQLITE_BUSY
   * is thrown; the writer retries later), and the rows it changes do not move
   * changeCounter(). Only for tables no cache reads: the key cache would otherwise be
   * emptied by every request's own event.
   */
  backgroundWrite<T>(fn: () => T): T;
  /**
   * Undefined while the path still names the files this connection opened;
   * otherwise a sentence saying the database was deleted or replaced under the
   * server. Once set it stays set: from then on every transaction refuses to
   * start (the writes would go to a file nobody reads) and only a restart helps.
   * Checks the files now; transactions check at most every identityCheckMs
   * (and at once when one fails), so a write does not pay two stats.
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
  /** How often transactions check that the path still names the opened files; IDENTITY_CHECK_MS by default. */
  identityCheckMs?: number;
  /** Where the app folder and the migrations folder override are read (process.env by default). */
  env?: Record<string, string | undefined>;
}

/**
 * Transactions check the files' identity at most this often: a replaced or deleted database
 * is refused from at most a second after it happened (and /healthz, which checks on every
 * call, says so at once), instead of every write paying two stats.
 */
export const IDENTITY_CHECK_MS = 1000;

/** Opens the database, applies pending migrations, and hands back the typed handle. */
export function openStore(options: OpenStoreOptions): Store {
  const { sqlite, files } = openDatabase(options.path, { create: true, env: options.env });
  try {
    // The usual boot: nothing pending, nothing changed. The runner (and every migration's SQL split) is loaded only otherwise.
    if (options.migrations || !carriedIsCurrent(sqlite, options.env)) migrate(sqlite, options);
  } catch (error) {
    sqlite.close();
    throw error;
  }
  return storeOver(sqlite, options.path, files, options.identityCheckMs ?? IDENTITY_CHECK_MS);
}

/** Plans, then refuses or applies, the migrations (this build's by default), backing up first and auditing what it applied. */
function migrate(sqlite: Database, options: OpenStoreOptions): void {
  // Required, not imported: openStore is synchronous, and a server with nothing to migrate never loads the runner.
  // (Each file, not the ./migrations barrel: Bun 1.4.5 never returns from require() of that barrel.)
  const { applyMigrations } = require("./migrations/runner") as typeof import("./migrations/runner");
  const { loadMigrations } = require("./migrations/load") as typeof import("./migrations/load");
  const applied = applyMigrations(sqlite, options.migrations ?? loadMigrations(options.env), {
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
}

/** SQLite's default wal_autocheckpoint, restored when Litestream hands checkpoints back. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;

function storeOver(sqlite: Database, path: string, files: OpenedFiles | undefined, identityCheckMs: number): Store {
  // The typed Drizzle handle, made on first use: a server opens and migrates its store, and opens its port,
  // before it loads Drizzle and the schema's table builders (a good part of its boot). Required, not imported
  // (synchronous), and a module of ours, not the package: a bundle would carry Drizzle's CommonJS build twice.
  let typed: ReturnType<typeof typedOver> | undefined;
  const typedHandle = () => {
    typed ??= (require("./typed") as { typedOver: typeof typedOver }).typedOver(sqlite);
    return typed;
  };
  const dataVersion = sqlite.query<{ data_version: number }, []>("PRAGMA data_version");
  const totalChanges = sqlite.query<{ n: number }, []>("SELECT total_changes() AS n");
  const changes = () => totalChanges.get()!.n;
  /** Rows written by backgroundWrite: not changes any cache needs to see. */
  let backgroundChanges = 0;
  const changeCounter = changeCounterOver(
    () => dataVersion.get()!.data_version,
    () => changes() - backgroundChanges,
  );
  // Run as text every time, never as a prepared statement: SQLite applies PRAGMA busy_timeout when
  // the statement is compiled, so re-running a prepared one does not set it again.
  const busyTimeout = (ms: number) => sqlite.run(`PRAGMA busy_timeout = ${ms}`);
  const immediate = sqlite.transaction(<T>(fn: (tx: Tx) => T, tx: Tx): T => fn(tx)).immediate as <T>(fn: (tx: Tx) => T, tx: Tx) => T;
  let closed = false;
  let problem: string | undefined;
  const fileProblem = () => {
    if (problem === undefined && files) problem = describeFileChange(path, files);
    return problem;
  };
  let checkedAt = Number.NEGATIVE_INFINITY;
  /** The identity as of at most identityCheckMs ago: a transaction then costs no stat. */
  const recentFileProblem = () => {
    if (problem !== undefined) return problem;
    const now = performance.now();
    if (now - checkedAt < identityCheckMs) return undefined;
    checkedAt = now;
    return fileProblem();
  };
  return {
    path,
    get db() {
      return typedHandle().db;
    },
    sqlite,
    transaction: (fn) => {
      // Writes never go to a file nobody will read (checked at most every identityCheckMs, and on failure).
      const moved = recentFileProblem();
      if (moved) throw new AppError(moved, RESTART_HINT);
      try {
        // The typed handle is made (on first use) before BEGIN: making it runs a Drizzle transaction of its own.
        return immediate(fn, typedHandle().tx);
      } catch (error) {
        const movedMeanwhile = fileProblem();
        if (movedMeanwhile) throw new AppError(movedMeanwhile, RESTART_HINT);
        throw error;
      }
    },
    dataVersion: () => dataVersion.get()!.data_version,
    changeCounter,
    backgroundWrite(fn) {
      const before = changes();
      busyTimeout(0);
      try {
        return fn();
      } finally {
        busyTimeout(BUSY_TIMEOUT_MS);
        backgroundChanges += changes() - before;
      }
    },
    fileProblem,
    handOverCheckpoints(handedOver) {
      if (!closed) sqlite.run(`PRAGMA wal_autocheckpoint = ${handedOver ? 0 : DEFAULT_AUTOCHECKPOINT_PAGES}`);
    },
    close() {
      if (closed) return;
      closed = true;
      for (const statement of [dataVersion, totalChanges]) statement.finalize();
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
 * (as of this event-loop turn) or this connection's changes (total_changes(), less
 * the background writes') moved.
 */
function changeCounterOver(dataVersion: () => number, ownChanges: () => number): () => number {
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
    const changes = ownChanges();
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
/** ENV: where the app folder and a migrations folder override are read. */
export async function withStore<T>(path: string, env: Record<string, string | undefined>, fn: (store: Store) => T | Promise<T>): Promise<T> {
  const store = openStore({ path, env });
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
