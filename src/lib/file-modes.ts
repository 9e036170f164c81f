import { chmodSync, lstatSync } from "node:fs";
import { log } from "./log";

export interface ModeReport {
  path: string;
  mode: string;
  /** The mode it had before we tightened it, when we did. */
  tightenedFrom?: string;
}

export const FILE_MODE = 0o600;
export const FOLDER_MODE = 0o700;

export const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;

export function modeOf(path: string): number | undefined {
  try {
    return lstatSync(path).mode & 0o777;
  } catch {
    return undefined;
  }
}

/** Anything wider than `wanted` (readable or writable by group or others) is tightened to it. */
export function tighten(path: string, wanted: number): ModeReport | undefined {
  const mode = modeOf(path);
  if (mode === undefined) return undefined;
  if ((mode & ~wanted) === 0) return { path, mode: octal(mode) };
  chmodSync(path, wanted);
  return { path, mode: octal(wanted), tightenedFrom: octal(mode) };
}

/** tighten(), saying so loudly: a secret readable by others is worth a warning, not a silent fix. Returns the report when it acted. */
export function tightenLoudly(path: string, wanted: number): ModeReport | undefined {
  const report = tighten(path, wanted);
  if (!report?.tightenedFrom) return undefined;
  log.warn(`SECURITY: ${report.path} had mode ${report.tightenedFrom}, readable or writable by other users; tightened to ${report.mode}`);
  return report;
}
