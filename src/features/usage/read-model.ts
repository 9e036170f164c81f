import { sql } from "drizzle-orm";
import type { AppDatabase, Store } from "~/db";
import { usageHourly } from "~/db/schema";
import { LATENCY_BUCKETS } from "~/features/events";
import { creditsOf, usdOf } from "~/lib/credits";
import { addSums, COUNTERS, type Counter, emptySums, type PartsQuery, readUsageParts, type Sums, type UsagePart } from "./queries";

/**
 * The one usage read model: usage over a window (its start parsed by
 * ~/lib/since, so "the last 24 h" starts at the same millisecond everywhere),
 * read as parts (bucket × key × model × credential) and folded into whatever
 * grouping a surface shows: the CLI's and /admin/usage's report by key, model,
 * day or credential, the dashboard's tables and charts.
 */

export const DAY_MS = 86_400_000;

export interface UsageRow extends Record<Counter, number> {
  group: string;
  /** costNanoAiu in GitHub AI credits (1 credit = 1e9 nano-AIU). */
  credits: number;
  /** costNanoAiu in US dollars (1 credit = $0.01). */
  usd: number;
  avgLatencyMs: number;
  maxLatencyMs: number;
  /**
   * Latency percentiles from the hourly histogram: the upper bound of the bucket
   * the percentile falls in (the true value is at most this), capped by the max.
   * Null when no request in the window has a latency bucket.
   */
  p50LatencyMs: number | null;
  p95LatencyMs: number | null;
}

/** Multipliers such as 0.33 add up to float noise: premium requests are shown to two decimals. */
const roundPremium = (n: number) => Math.round(n * 100) / 100;

/** A group's sums as a row: averages, percentiles, credits and dollars taken. */
export function usageRow(group: string, sums: Sums): UsageRow {
  return {
    group,
    ...(Object.fromEntries(COUNTERS.map((c) => [c, sums[c]])) as Record<Counter, number>),
    premiumRequests: roundPremium(sums.premiumRequests),
    credits: creditsOf(sums.costNanoAiu),
    usd: usdOf(sums.costNanoAiu),
    avgLatencyMs: sums.requests ? Math.round(sums.latencySum / sums.requests) : 0,
    maxLatencyMs: sums.latencyMax,
    p50LatencyMs: percentile(sums.buckets, 0.5, sums.latencyMax),
    p95LatencyMs: percentile(sums.buckets, 0.95, sums.latencyMax),
  };
}

/** The upper bound of the bucket holding the q-th request, never above the observed max. */
export function percentile(buckets: number[], q: number, max: number): number | null {
  const total = buckets.reduce((n, c) => n + c, 0);
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i]!;
    if (seen >= rank) return Math.min(LATENCY_BUCKETS[i]!.le, max);
  }
  return max;
}

/** Parts folded by `groupOf` (parts it answers undefined for are left out), and the total of those kept. */
export function foldParts(parts: UsagePart[], groupOf: (part: UsagePart) => string | undefined): { groups: Map<string, Sums>; total: Sums } {
  const groups = new Map<string, Sums>();
  const total = emptySums();
  for (const part of parts) {
    const group = groupOf(part);
    if (group === undefined) continue;
    let into = groups.get(group);
    if (!into) {
      into = emptySums();
      groups.set(group, into);
    }
    addSums(into, part.sums);
    addSums(total, part.sums);
  }
  return { groups, total };
}

/** credential: the seat that answered ("" for the default GitHub token), exact for as long as usage_hourly is kept. */
export const USAGE_GROUPS = ["key", "model", "day", "credential"] as const;
export type UsageGroup = (typeof USAGE_GROUPS)[number];

export interface UsageQuery {
  /** Unix ms; the window is [since, now]. */
  since: number;
  keyId?: string;
  by: UsageGroup;
}

export interface UsageResult {
  rows: UsageRow[];
  totals: Omit<UsageRow, "group">;
}

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const GROUP_OF: Record<UsageGroup, (part: UsagePart) => string> = {
  key: (p) => p.keyId,
  model: (p) => p.model,
  day: (p) => utcDay(p.at),
  credential: (p) => p.credentialId,
};

/** Parts grouped by key, model, UTC day or credential, busiest first (days in order). */
export function reportOf(parts: UsagePart[], by: UsageGroup): UsageResult {
  const { groups, total } = foldParts(parts, GROUP_OF[by]);
  const rows = [...groups]
    .map(([group, sums]) => usageRow(group, sums))
    .sort((a, b) => (by === "day" ? a.group.localeCompare(b.group) : b.requests - a.requests || a.group.localeCompare(b.group)));
  const { group: _all, ...totals } = usageRow("", total);
  return { rows, totals };
}

/** The parts a report reads: split by UTC day only when grouped by day. */
export const reportParts = (query: UsageQuery): PartsQuery => ({ since: query.since, step: query.by === "day" ? DAY_MS : undefined, keyId: query.keyId });

/** Usage over [since, now] grouped by key, model, UTC day or credential, on the SQLite store. */
export function usageReport(db: AppDatabase, query: UsageQuery): UsageResult {
  return reportOf(readUsageParts(db, reportParts(query)), query.by);
}

/** Most parts the day cache holds (a few hundred bytes each); past it, days are read from the store every time. */
const CACHE_LIMIT = 100_000;

/**
 * Reads usage parts for a window, by hour, UTC day or not split. Days that
 * ended before yesterday no longer change (an event is stamped when its
 * request arrives and written when it ends), so their daily sums are kept
 * here: a 90-day read takes usage_hourly for the last two days (and the slice
 * of the window before its first whole day) only. The kept days are dropped
 * when the store changes under them (its change counter) or retention removes
 * hours (the oldest hour moves).
 */
export class UsageReader {
  private days = new Map<number, UsagePart[]>();
  private size = 0;
  private stamp = "";

  constructor(private readonly store: Store) {}

  /** Parts over [since, now and beyond); by UTC day they come from the cache for the settled days. */
  read({ since, step }: Pick<PartsQuery, "since" | "step">, now: number): UsagePart[] {
    const db = this.store.db;
    if (step !== DAY_MS) return readUsageParts(db, { since, step });
    this.revalidate();
    const firstDay = Math.ceil(since / DAY_MS) * DAY_MS;
    const settled = now - (now % DAY_MS) - DAY_MS; // the start of yesterday
    const head = firstDay > since ? readUsageParts(db, { since, until: firstDay, step: DAY_MS }) : [];
    return [...head, ...this.settledDays(firstDay, settled), ...readUsageParts(db, { since: Math.max(firstDay, settled), step: DAY_MS })];
  }

  /** The whole days in [from, to), from the cache, reading what it lacks. */
  private settledDays(from: number, to: number): UsagePart[] {
    const db = this.store.db;
    let firstMissing: number | undefined;
    for (let day = from; day < to; day += DAY_MS) {
      if (!this.days.has(day)) {
        firstMissing = day;
        break;
      }
    }
    if (firstMissing !== undefined) {
      const fresh = readUsageParts(db, { since: firstMissing, until: to, step: DAY_MS });
      if (this.size + fresh.length > CACHE_LIMIT) return readUsageParts(db, { since: from, until: to, step: DAY_MS });
      for (let day = firstMissing; day < to; day += DAY_MS) this.days.set(day, []);
      for (const part of fresh) this.days.get(part.at)?.push(part);
      this.size += fresh.length;
    }
    const kept: UsagePart[] = [];
    for (let day = from; day < to; day += DAY_MS) kept.push(...(this.days.get(day) ?? []));
    return kept;
  }

  private revalidate(): void {
    const oldest =
      this.store.db
        .select({ hour: sql<number | null>`min(${usageHourly.hour})` })
        .from(usageHourly)
        .get()?.hour ?? null;
    const stamp = `${this.store.dataVersion()}:${oldest}`;
    if (stamp === this.stamp) return;
    this.stamp = stamp;
    this.days.clear();
    this.size = 0;
  }
}
