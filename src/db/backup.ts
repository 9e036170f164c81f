import { Database } from "bun:sqlite";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { AppError, errorMessage } from "~/lib/errors";
import { databaseFiles, FILE_MODE } from "~/lib/file-modes";

export interface BackupResult {
  path: string;
  bytes: number;
}

/**
 * A consistent snapshot of a live database: VACUUM INTO a private temporary
 * file, fsync, integrity_check, then an atomic rename. A reader never sees a
 * half-written backup under the final name, and a copy is never wider than 0600.
 */
export function backupDatabase(sqlite: Database, dest: string): BackupResult {
  if (existsSync(dest)) throw new AppError(`${dest} already exists`, "choose another --out file; backups never overwrite");
  const tmp = `${dest}.tmp-${process.pid}-${Date.now()}`;
  try {
    // VACUUM INTO accepts an existing empty file and keeps its mode.
    closeSync(openSync(tmp, "wx", FILE_MODE));
    sqlite.query("VACUUM INTO ?").run(tmp);
    fsyncFile(tmp);
    assertIntact(tmp);
    renameSync(tmp, dest);
    fsyncFile(dirname(dest));
  } catch (error) {
    for (const file of databaseFiles(tmp)) rmSync(file, { force: true });
    if (error instanceof AppError) throw error;
    throw new AppError(`backup to ${dest} failed: ${errorMessage(error)}`, "check free disk space and that the folder is writable");
  }
  return { path: dest, bytes: statSync(dest).size };
}

function assertIntact(file: string): void {
  const copy = new Database(file, { readonly: true });
  try {
    const result = copy.query<{ integrity_check: string }, []>("PRAGMA integrity_check").all();
    if (result.length !== 1 || result[0]?.integrity_check !== "ok") {
      throw new AppError(`the backup failed integrity_check: ${result.map((r) => r.integrity_check).join("; ")}`, "the source may be damaged: run `copilot-api db verify`");
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
export const fileStamp = (at = new Date()) => at.toISOString().replace(/[-:]/g, "").replace(".", "");

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
