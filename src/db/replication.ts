/**
 * What the store knows of Litestream replicating it (the replication feature runs
 * Litestream; this is the part that is about the database's files).
 *
 * WAL management while Litestream replicates. Litestream copies the WAL's frames to
 * its shadow WAL and on to the replica, and keeps a read transaction open on the
 * database so that nobody else can restart the WAL under it; it checkpoints by
 * itself (PASSIVE past 1,000 pages, RESTART past 10,000, TRUNCATE past 500,000).
 *  - The server's autocheckpoint is turned off while Litestream runs
 *    (`Store.handOverCheckpoints`): Litestream's guidance for busy writers, since an
 *    application checkpoint that lands while Litestream switches its locks makes it
 *    start a new generation (a full snapshot). It is turned back on whenever
 *    Litestream is not running, so the WAL cannot grow without bound while it restarts.
 *  - `wal_checkpoint(TRUNCATE)` waits for every reader to leave the WAL; Litestream
 *    never does, so it blocks for the whole busy timeout (5 s) and then gives up.
 *    The server therefore stops Litestream (after the final event flush, so its final
 *    sync carries the last events) before it closes the store, and every other
 *    process (the CLI) skips its closing TRUNCATE on a database Litestream manages
 *    (its folder exists): SQLite's own close still checkpoints and removes the WAL
 *    when that process is the last one with the file open.
 *  - `journal_size_limit` stays: it only shortens the WAL file when the WAL restarts,
 *    which under Litestream happens inside Litestream's own checkpoint, where it
 *    compares WAL headers and starts its next shadow WAL file.
 *  - Because a stopped server leaves no WAL behind, Litestream starts a new generation
 *    (a snapshot) at each start of the server; a restore picks the newest.
 * Litestream adds two tables of its own (`_litestream_seq`, `_litestream_lock`);
 * drift checks ignore them.
 */
import { type Dirent, existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FILE_MODE } from "~/lib/file-modes";
import { litestreamFolder, walFile } from "./files";

/** Litestream's own tables, as a LIKE pattern with `\` as the escape character. */
export const LITESTREAM_TABLES = String.raw`\_litestream\_%`;

/** What the server's replication worker last saw of Litestream, kept beside the database for `db status`. */
export interface ReplicationState {
  /** The replica URL without password or query. */
  replica: string;
  litestreamVersion?: string;
  /** Litestream's pid while it runs. */
  pid?: number;
  /** The server that manages it. */
  serverPid: number;
  running: boolean;
  /** ISO time of Litestream's last WAL segment or snapshot written to the replica. */
  lastSyncAt?: string;
  generation?: string;
  /** Litestream's position in the replica: generation/index:offset. */
  position?: string;
  restarts: number;
  lastError?: string;
  updatedAt: string;
}

export interface ReplicationStatus extends ReplicationState {
  /** True when the server that wrote the state is still alive and says Litestream runs. */
  live: boolean;
  /** How far the replica trails the database: the last write to the database or its WAL, less the last sync (0 when synced since). */
  lagMs?: number;
}

/** Where Litestream keeps its shadow WAL for this database (created by Litestream, or by the server before it starts it). */
export const replicationFolder = litestreamFolder;
export const litestreamConfigFile = (dbPath: string) => join(litestreamFolder(dbPath), "copilot-api-litestream.yml");
const stateFile = (dbPath: string) => join(litestreamFolder(dbPath), "copilot-api-state.json");

/** True when Litestream manages this database: it is Litestream's to checkpoint (see above). */
export const replicatedByLitestream = (dbPath: string) => existsSync(litestreamFolder(dbPath));

/** Written whole to a temporary name, then renamed: a reader never sees half a state. */
export function writeReplicationState(dbPath: string, state: ReplicationState): void {
  const file = stateFile(dbPath);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: FILE_MODE });
  renameSync(tmp, file);
}

export function readReplicationStatus(dbPath: string, now = Date.now()): ReplicationStatus | undefined {
  let state: ReplicationState;
  try {
    state = JSON.parse(readFileSync(stateFile(dbPath), "utf8")) as ReplicationState;
  } catch {
    return undefined;
  }
  const live = state.running && pidAlive(state.serverPid);
  const lastWrite = lastWriteMs(dbPath);
  const synced = state.lastSyncAt ? Date.parse(state.lastSyncAt) : undefined;
  const lagMs = synced === undefined ? undefined : Math.max(0, Math.min(lastWrite, now) - synced);
  return { ...state, live, lagMs };
}

/** When the database or its WAL was last written (Unix ms; 0 when neither exists). */
export const lastWriteMs = (dbPath: string) => Math.max(mtime(dbPath), mtime(walFile(dbPath)));

/** What Litestream keeps locally for the database (its shadow WAL, by generation), in bytes. */
export function litestreamLocalBytes(dbPath: string): number {
  let total = 0;
  const folder = litestreamFolder(dbPath);
  let entries: Dirent[];
  try {
    entries = readdirSync(folder, { withFileTypes: true, recursive: true });
  } catch {
    return 0;
  }
  for (const entry of entries) if (entry.isFile()) total += size(join(entry.parentPath, entry.name));
  return total;
}

/**
 * Removes Litestream's local copy of the WAL (its generations) once it is stopped for good:
 * what it held never reached the replica, and the database has all of it. The next
 * Litestream starts a new generation from a snapshot of the database.
 */
export function dropLitestreamShadow(dbPath: string): void {
  const folder = litestreamFolder(dbPath);
  rmSync(join(folder, "generations"), { recursive: true, force: true });
  rmSync(join(folder, "generation"), { force: true });
}

function size(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0; // removed meanwhile (Litestream cleans up as it goes)
  }
}

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === "EPERM";
  }
}
