import { Database } from "bun:sqlite";
import { closeSync, existsSync, fsyncSync, linkSync, lstatSync, openSync, readdirSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { cmd } from "~/lib/command-name";
import { AppError, errorMessage } from "~/lib/errors";
import { FILE_MODE } from "~/lib/file-modes";
import { log } from "~/lib/log";
import { randomBytes } from "~/lib/random";
import { allDatabaseFiles, SIDE_FILE_SUFFIXES } from "./files";

export interface BackupResult {
  path: string;
  bytes: number;
}

/**
 * A consistent snapshot of a live database: VACUUM INTO a private temporary
 * file, fsync, integrity_check, then link it to the final name, which fails if
 * that name exists: of concurrent backups to one file exactly one succeeds,
 * and a backup never overwrites anything. A reader never sees a half-written
 * backup under the final name, and a copy is never wider than 0600.
 */
export function backupDatabase(sqlite: Database, dest: string): BackupResult {
  if (existsSync(dest)) throw alreadyExists(dest);
  removeStaleBackupTemps(dirname(dest));
  const tmp = backupTempName(dest);
  try {
    // VACUUM INTO accepts an existing empty file and keeps its mode.
    closeSync(openSync(tmp, "wx", FILE_MODE));
    sqlite.query("VACUUM INTO ?").run(tmp);
    fsyncFile(tmp);
    assertIntact(tmp);
    linkExclusively(tmp, dest);
    fsyncFile(dirname(dest));
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new AppError(`backup to ${dest} failed: ${errorMessage(error)}`, "check free disk space and that the folder is writable");
  } finally {
    for (const file of allDatabaseFiles(tmp)) rmSync(file, { force: true });
  }
  return { path: dest, bytes: statSync(dest).size };
}

const alreadyExists = (dest: string) => new AppError(`${dest} already exists`, "choose another --out file; backups never overwrite");

/** link(2) creates the name only if it does not exist (EEXIST otherwise), atomically: unlike rename, it never replaces a file. */
function linkExclusively(tmp: string, dest: string): void {
  try {
    linkSync(tmp, dest);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "EEXIST") throw alreadyExists(dest);
    if (code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP" || code === "EXDEV") {
      throw new AppError(
        `cannot create ${dest}: its filesystem does not support hard links (${code}), which backups use to never overwrite a file`,
        "write the backup to a folder on a local disk with --out",
      );
    }
    throw error;
  }
}

// A backup in progress writes `<dest>.tmp-<pid>-<unix ms>`; SQLite may add its side files' suffixes to it.
const TEMP_NAME = new RegExp(String.raw`\.tmp-(\d+)-(\d{13})(?:${SIDE_FILE_SUFFIXES.join("|")})?$`);
/** After this long a temporary file is stale even if its pid is alive again (pids are reused). */
const STALE_TEMP_MS = 6 * 3_600_000;

/** Where a backup to `dest` is written before it gets its name. */
export const backupTempName = (dest: string, pid = process.pid, at = Date.now()) => `${dest}.tmp-${pid}-${at}`;

export interface BackupTemp {
  path: string;
  pid: number;
  /** Left by a backup that is no longer running (killed, or the machine stopped): safe to remove. */
  stale: boolean;
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === "EPERM"; // alive, someone else's
  }
}

/** Backup temporary files in a folder: those of running backups, and stale ones a killed backup left behind. */
export function backupTemps(folder: string, now = Date.now()): BackupTemp[] {
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return [];
  }
  const found: BackupTemp[] = [];
  for (const name of names.sort()) {
    const match = TEMP_NAME.exec(name);
    if (!match) continue;
    const path = join(folder, name);
    try {
      if (!lstatSync(path).isFile()) continue;
    } catch {
      continue;
    }
    const pid = Number(match[1]);
    found.push({ path, pid, stale: !pidAlive(pid) || now - Number(match[2]) > STALE_TEMP_MS });
  }
  return found;
}

/** Removes the stale backup temporary files in a folder (never a running backup's); returns what it removed. */
export function removeStaleBackupTemps(folder: string): string[] {
  const removed: string[] = [];
  for (const temp of backupTemps(folder)) {
    if (!temp.stale) continue;
    rmSync(temp.path, { force: true });
    removed.push(temp.path);
    log.info(`removed ${temp.path}, left behind by a backup that did not finish (pid ${temp.pid})`);
  }
  return removed;
}

function assertIntact(file: string): void {
  const copy = new Database(file, { readonly: true });
  try {
    const result = copy.query<{ integrity_check: string }, []>("PRAGMA integrity_check").all();
    if (result.length !== 1 || result[0]?.integrity_check !== "ok") {
      throw new AppError(
        `the backup failed integrity_check: ${result.map((r) => r.integrity_check).join("; ")}`,
        `the source may be damaged: run \`${cmd("db verify")}\``,
      );
    }
  } finally {
    copy.close();
  }
}

function fsyncFile(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const KEEP_AUTOMATIC_BACKUPS = 5;

/** A UTC timestamp that sorts as text and is safe in a file name: 20261126T034212239Z. */
const fileStamp = (at = new Date()) => at.toISOString().replace(/[-:]/g, "").replace(".", "");

/**
 * `db backup` without --out: beside the database, named by time and a random
 * part, so backups started in the same millisecond (parallel runs, a cron on
 * several hosts sharing a folder) never take each other's name.
 */
export const manualBackupName = (dbPath: string, at = new Date()) => `${dbPath}.${fileStamp(at)}-${randomBytes(3).toString("hex")}.manual.bak`;

/**
 * The backup taken before migrating a database that already has a schema:
 * beside it, named by time and schema version, the newest five kept.
 */
export function backupBeforeMigrating(sqlite: Database, dbPath: string, dbVersion: number): BackupResult {
  const stamp = fileStamp();
  const unique = randomBytes(3).toString("hex");
  const result = backupDatabase(sqlite, `${dbPath}.${stamp}-v${dbVersion}-${unique}.bak`);
  pruneAutomaticBackups(dbPath);
  return result;
}

export function automaticBackups(dbPath: string): string[] {
  const prefix = `${basename(dbPath)}.`;
  const pattern = /^\d{8}T\d{9}Z-v\d+-[0-9a-f]{6}\.bak$/;
  return readdirSync(dirname(dbPath))
    .filter((f) => f.startsWith(prefix) && pattern.test(f.slice(prefix.length)))
    .sort()
    .map((f) => join(dirname(dbPath), f));
}

function pruneAutomaticBackups(dbPath: string): void {
  const all = automaticBackups(dbPath);
  for (const old of all.slice(0, Math.max(0, all.length - KEEP_AUTOMATIC_BACKUPS))) rmSync(old, { force: true });
}
