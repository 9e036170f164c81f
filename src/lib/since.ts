import { AppError } from "./errors";

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;

/** How the caller spells the parameter: a query's `since=` or a command's `--since `, for the error and its remedy. */
export type SinceSpelling = "since=" | "--since ";

/**
 * The start of a window, Unix ms: a window back from now (`24h`, `7d`, `90m`,
 * `2w`, `last 24 h`), exactly now minus that much, or a date / ISO time
 * (`2026-11-01`). The one parser of every surface that reads usage, events or
 * the audit log (CLI, /admin, dashboard), so "the last 24 h" starts at the same
 * millisecond everywhere.
 */
export function parseSince(value: string, now: number, as: SinceSpelling = "since="): number {
  const match = value
    .trim()
    .toLowerCase()
    .match(/^(?:last\s+)?(\d+)\s*(m|h|d|w)$/);
  const name = as.trim().replace(/=$/, "");
  if (match) {
    const n = Number(match[1]);
    if (n <= 0) throw new AppError(`${name} ${value} is an empty window`, `use a window such as ${as}24h or ${as}7d`);
    return now - n * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  }
  const at = /^\d{4}-\d{2}-\d{2}/.test(value.trim()) ? Date.parse(value.trim()) : Number.NaN;
  if (Number.isNaN(at))
    throw new AppError(`${name} ${value} is not a window or a date`, `use a window such as ${as}24h or ${as}7d, or a date such as ${as}2026-11-01`);
  return at;
}
