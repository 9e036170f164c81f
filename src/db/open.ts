import { Database } from "bun:sqlite";
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { cmd } from "~/lib/command-name";
import { AppError, errorMessage } from "~/lib/errors";
import { FILE_MODE, FOLDER_MODE, type ModeReport, tightenLoudly } from "~/lib/file-modes";
import { appDir } from "~/lib/paths";
import { databaseFiles } from "./files";
import { type OpenedFiles, openedFiles } from "./identity";

export interface OpenOptions {
  /** Create the file when missing (start, migrate); status and verify only inspect. */
  create: boolean;
  /** Where HOME and XDG_DATA_HOME are read, to know the app folder (process.env by default). */
  env?: Record<string, string | undefined>;
}

export interface OpenedDatabase {
  sqlite: Database;
  path: string;
  /** Files whose modes were wider than allowed and were tightened during this open. */
  tightened: ModeReport[];
  /** The files this connection opened, to notice when the path later names other ones. */
  files?: OpenedFiles;
}

const SQLITE_HEADER = "SQLite format 3\0";
/** Long enough for a teammate's CLI to finish a write while the server holds the lock. */
export const BUSY_TIMEOUT_MS = 5000;
/** A checkpoint truncates the WAL back to this size, so it cannot grow without bound. */
const JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024;

/**
 * The open step, entirely outside any transaction (journal_mode and
 * synchronous cannot change inside one, foreign_keys silently does not).
 */
export function openDatabase(path: string, options: OpenOptions): OpenedDatabase {
  const tightened: ModeReport[] = [];
  const folder = dirname(path);
  const createdFolder = ensureFolder(folder, options.create);
  // Tighten only a folder that is ours: never chmod /tmp or a project folder
  // the user pointed --db-path into.
  if (createdFolder || resolve(folder) === resolve(appDir(options.env))) note(tightened, tightenLoudly(folder, FOLDER_MODE));

  for (const file of databaseFiles(path)) refuseLink(file);
  const exists = existsSync(path);
  if (!exists) refuseOrphanedSideFiles(path);
  if (exists) assertSqliteFile(path);
  else if (!options.create) {
    throw new AppError(`no database at ${path}`, `start the server once (\`${cmd("start")}\`) or run \`${cmd("db migrate")}\` to create it`);
  } else createPrivateFile(path);

  // Left-over -wal/-shm keep whatever mode they had: tighten before SQLite uses them.
  for (const file of databaseFiles(path)) note(tightened, tightenLoudly(file, FILE_MODE));

  let sqlite: Database;
  try {
    sqlite = new Database(path, { readwrite: true, create: false, strict: true });
  } catch (error) {
    throw new AppError(`cannot open ${path}: ${errorMessage(error)}`, "check that the file and its folder are readable and writable by you");
  }
  try {
    applyPragmas(sqlite, path);
  } catch (error) {
    sqlite.close();
    throw error;
  }
  // SQLite has now created -wal and -shm (copying the main file's mode); check them too.
  for (const file of databaseFiles(path)) note(tightened, tightenLoudly(file, FILE_MODE));
  return { sqlite, path, tightened, files: openedFiles(path) };
}

/**
 * The main file is gone but its -wal or -shm are there: SQLite keeps those
 * only while a connection has the database open (or after a crash), so the
 * database was deleted or moved under a running or crashed copilot-api. A new
 * file there would be paired with the old log (SQLite's "disk I/O error") and
 * come up as an empty store without keys: refuse and say what to do instead.
 */
function refuseOrphanedSideFiles(path: string): void {
  const orphans = databaseFiles(path)
    .slice(1)
    .filter((file) => existsSync(file));
  if (orphans.length === 0) return;
  throw new AppError(
    `the database file ${path} is missing but ${orphans.join(" and ")} ${orphans.length > 1 ? "are" : "is"} still there: it was deleted or moved while copilot-api had it open (or after a crash); a new, empty database (with no keys) will not be created in its place`,
    `stop any running copilot-api, then put the database back (restore a backup: \`${path}.*.bak\` beside it), or, to start from an empty store on purpose, delete ${orphans.join(" and ")} too`,
  );
}

function applyPragmas(sqlite: Database, path: string): void {
  try {
    // First, so that every later statement waits for a concurrent writer instead of failing.
    sqlite.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    const mode = sqlite.query<{ journal_mode: string }, []>("PRAGMA journal_mode = WAL").get()?.journal_mode;
    if (mode?.toLowerCase() !== "wal") {
      throw new AppError(
        `${path}: SQLite answered journal_mode=${mode} when asked for WAL`,
        "WAL needs a local filesystem with shared-memory support (not NFS/SMB); put the database on a local disk with --db-path",
      );
    }
    sqlite.run("PRAGMA synchronous = NORMAL");
    sqlite.run("PRAGMA foreign_keys = ON");
    sqlite.run(`PRAGMA journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
  } catch (error) {
    if (error instanceof AppError) throw error;
    const code = (error as { code?: string }).code;
    if (code === "SQLITE_NOTADB" || code === "SQLITE_CORRUPT") {
      throw new AppError(`${path} is not a usable SQLite database (${errorMessage(error)})`, notDatabaseHint(path));
    }
    throw new AppError(`cannot prepare ${path}: ${errorMessage(error)}`, "check the file, its folder and free disk space");
  }
}

function ensureFolder(folder: string, create: boolean): boolean {
  if (existsSync(folder)) {
    if (!lstatSync(folder).isDirectory() && !lstatSync(folder).isSymbolicLink()) {
      throw new AppError(`${folder} is not a folder`, "choose another --db-path");
    }
    return false;
  }
  if (!create) return false;
  mkdirSync(folder, { recursive: true, mode: FOLDER_MODE });
  return true;
}

function refuseLink(file: string): void {
  let isLink = false;
  try {
    isLink = lstatSync(file).isSymbolicLink();
  } catch {
    return;
  }
  if (isLink) {
    throw new AppError(
      `${file} is a symbolic link; copilot-api refuses to open a database through one`,
      "a link can point the key store at a file someone else controls; pass the real path with --db-path instead",
    );
  }
}

/** Born 0600 regardless of the umask; -wal and -shm copy this mode when SQLite creates them. */
function createPrivateFile(path: string): void {
  try {
    closeSync(openSync(path, "wx", FILE_MODE));
  } catch (error) {
    // Another process booting at the same moment created it first: fine.
    if ((error as { code?: string }).code !== "EEXIST") throw error;
  }
}

function assertSqliteFile(path: string): void {
  const stat = lstatSync(path);
  if (!stat.isFile()) throw new AppError(`${path} is not a regular file`, "choose another --db-path");
  if (stat.size === 0) return; // an empty file is an empty database to SQLite
  const header = Buffer.alloc(SQLITE_HEADER.length);
  const fd = openSync(path, "r");
  try {
    readSync(fd, header, 0, header.length, 0);
  } finally {
    closeSync(fd);
  }
  if (header.toString("latin1") !== SQLITE_HEADER) {
    throw new AppError(`${path} is not a SQLite database; it was left untouched`, notDatabaseHint(path));
  }
}

const notDatabaseHint = (path: string) => `move ${path} aside if it is yours, or pass another file with --db-path (or COPILOT_API_DB_PATH)`;

function note(list: ModeReport[], report: ModeReport | undefined): void {
  if (report) list.push(report);
}
