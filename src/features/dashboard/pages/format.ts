/** How the pages write numbers and times: UTC, thousands separated, never locale-dependent. */

const grouped = new Intl.NumberFormat("en-US");
const compactFormat = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

export const num = (n: number | null | undefined) => (n === null || n === undefined ? "–" : grouped.format(n));
export const compact = (n: number) => (Math.abs(n) < 10_000 ? grouped.format(n) : compactFormat.format(n));
export const ms = (n: number | null) => (n === null ? "–" : n >= 10_000 ? `${(n / 1000).toFixed(1)} s` : `${grouped.format(n)} ms`);
/** `2026-11-26 14:03:12` (UTC). */
export const utc = (at: number | null) => (at === null ? "–" : new Date(at).toISOString().replace("T", " ").slice(0, 19));
export const percent = (part: number, whole: number) => (whole ? `${((100 * part) / whole).toFixed(part && part / whole < 0.001 ? 2 : 1)}%` : "–");
/**
 * A latency percentile read from usage_hourly's histogram: the upper bound of its bucket
 * (or the slowest request, when lower), so "≤ 100 ms", never a bare "100 ms" for 5 ms requests.
 */
export const atMost = (n: number | null) => (n === null ? "–" : `≤ ${ms(n)}`);
