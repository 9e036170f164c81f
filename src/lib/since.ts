import { AppError } from "./errors";

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * A start time: a window back from now (`7d`, `24h`, `30m`) or a date / ISO time
 * (`2026-11-01`). `as` is how the caller spells the parameter (`since=` in a query,
 * `--since ` on the command line), for the error's remedy.
 */
export function parseSince(value: string, now: number, as = "since="): number {
  const match = value.trim().match(/^(\d+)\s*(m|h|d)$/);
  if (match) return now - Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  const at = Date.parse(value);
  if (Number.isNaN(at))
    throw new AppError(`since ${value} is neither a window nor a date`, `use a window such as ${as}24h or ${as}7d, or a date such as ${as}2026-11-01`);
  return at;
}
