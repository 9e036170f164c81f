import { statSync } from "node:fs";
import { walFile } from "./files";

/**
 * Which file a path named when the database was opened (device and inode).
 * SQLite keeps using the files it opened; if someone deletes or replaces them
 * at the path, this connection writes into files nobody will ever open again,
 * and a CLI run creates a new database beside the server without it noticing.
 */
export interface FileIdentity {
  dev: bigint;
  ino: bigint;
}

export interface OpenedFiles {
  main: FileIdentity;
  /** The -wal SQLite opened; while any connection is open, nobody else deletes or recreates it. */
  wal?: FileIdentity;
}

/** The file at this path now; undefined when there is none. Only stats: never opens the file (that would drop SQLite's locks). */
export function identityOf(path: string): FileIdentity | undefined {
  try {
    const s = statSync(path, { bigint: true });
    return { dev: s.dev, ino: s.ino };
  } catch {
    return undefined;
  }
}

const same = (a: FileIdentity | undefined, b: FileIdentity | undefined) => a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;

export function openedFiles(path: string): OpenedFiles | undefined {
  const main = identityOf(path);
  return main ? { main, wal: identityOf(walFile(path)) } : undefined;
}

/** A sentence saying how the files at `path` differ from the ones this connection opened, or undefined when they are the same. */
export function describeFileChange(path: string, opened: OpenedFiles): string | undefined {
  const main = identityOf(path);
  if (!main) return `the database file ${path} was deleted while the server had it open`;
  if (!same(main, opened.main)) return `the database file ${path} was replaced by another file while the server had it open`;
  if (opened.wal && !same(identityOf(walFile(path)), opened.wal))
    return `the database's write-ahead log ${walFile(path)} was deleted or replaced while the server had it open`;
  return undefined;
}

/** True while the -wal at the path is still the one this connection writes (only the main file was moved away). */
export function walStillOurs(path: string, opened: OpenedFiles): boolean {
  return opened.wal !== undefined && same(identityOf(walFile(path)), opened.wal);
}

/** What to do once the file at the path is not the one this server opened. */
export const RESTART_HINT = "restart copilot-api so it opens the database now at that path (a supervisor restarts it when /healthz answers 503)";
