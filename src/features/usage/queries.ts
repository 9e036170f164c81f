import { and, eq, gte, lt, type SQL, sql } from "drizzle-orm";
import type { AppDatabase } from "~/db";
import { events, usageHourly } from "~/db/schema";
import { HOUR_MS, LATENCY_BUCKETS } from "~/features/events";
import { creditsOf, usdOf } from "~/lib/credits";

/** credential: the seat that answered ("" for the default GitHub token), exact for as long as usage_hourly is kept. */
export const USAGE_GROUPS = ["key", "model", "day", "credential"] as const;
export type UsageGroup = (typeof USAGE_GROUPS)[number];

/** The counters summed per group, from usage_hourly and events alike (same names in both). */
const COUNTED = ["promptTokens", "completionTokens", "cacheReadTokens", "cacheCreationTokens", "reasoningTokens", "premiumRequests", "costNanoAiu"] as const;
type Counted = (typeof COUNTED)[number];

export interface UsageRow extends Record<Counted, number> {
  group: string;
  requests: number;
  errors: number;
  /** Requests whose answer carried no usage block: their tokens are not in the sums. */
  usageUnknown: number;
  /** Answered requests Copilot sent no cost for: not in costNanoAiu (unknown, not free). */
  costUnknown: number;
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

/** A group's sums before averages and percentiles are taken. */
type Sums = Pick<UsageRow, "group" | "requests" | "errors" | Counted | "usageUnknown" | "costUnknown"> & {
  latencySum: number;
  latencyMax: number;
  buckets: number[];
};

const utcDay = (ms: SQL | unknown) => sql<string>`strftime('%Y-%m-%d', ${ms} / 1000, 'unixepoch')`;
const bucketKey = (i: number) => `b${i}`;

/** Each histogram bucket as a SUM over raw events: (previous bound, this bound]. */
const eventBucketSums = Object.fromEntries(
  LATENCY_BUCKETS.map((bucket, i) => {
    const above = i === 0 ? sql`1` : sql`${events.latencyMs} > ${LATENCY_BUCKETS[i - 1]!.le}`;
    const within = Number.isFinite(bucket.le) ? sql`${events.latencyMs} <= ${bucket.le}` : sql`1`;
    return [bucketKey(i), sql<number>`sum(${above} AND ${within})`];
  }),
);
const hourBucketSums = Object.fromEntries(LATENCY_BUCKETS.map((bucket, i) => [bucketKey(i), sql<number>`sum(${usageHourly[bucket.column]})`]));

/**
 * Totals over a window, exact to the millisecond: whole hours come from
 * usage_hourly (a few rows per key, model and hour), and only the part of the
 * first hour before it starts is summed from raw events.
 */
export function usageReport(db: AppDatabase, query: UsageQuery): UsageResult {
  const firstFullHour = Math.ceil(query.since / HOUR_MS) * HOUR_MS;

  const hourGroup = { key: usageHourly.keyId, model: usageHourly.model, day: utcDay(usageHourly.hour), credential: usageHourly.credentialId }[query.by];
  const fromHours = db
    .select({
      group: sql<string>`${hourGroup}`,
      requests: sql<number>`sum(${usageHourly.requests})`,
      errors: sql<number>`sum(${usageHourly.errors})`,
      ...(Object.fromEntries(COUNTED.map((column) => [column, sql<number>`sum(${usageHourly[column]})`])) as Record<Counted, SQL<number>>),
      usageUnknown: sql<number>`sum(${usageHourly.usageUnknown})`,
      costUnknown: sql<number>`sum(${usageHourly.costUnknown})`,
      latencySum: sql<number>`sum(${usageHourly.latencyMsSum})`,
      latencyMax: sql<number>`max(${usageHourly.latencyMsMax})`,
      ...hourBucketSums,
    })
    .from(usageHourly)
    .where(and(gte(usageHourly.hour, firstFullHour), query.keyId ? eq(usageHourly.keyId, query.keyId) : undefined))
    .groupBy(hourGroup)
    .all();

  const eventGroup = {
    key: events.keyId,
    model: sql`coalesce(${events.model}, '')`,
    day: utcDay(events.ts),
    credential: sql`coalesce(${events.credentialId}, '')`,
  }[query.by];
  const fromEvents =
    firstFullHour > query.since
      ? db
          .select({
            group: sql<string>`${eventGroup}`,
            requests: sql<number>`count(*)`,
            errors: sql<number>`count(${events.error})`,
            ...(Object.fromEntries(COUNTED.map((column) => [column, sql<number>`coalesce(sum(${events[column]}), 0)`])) as Record<Counted, SQL<number>>),
            usageUnknown: sql<number>`sum(${events.usageUnknown})`,
            // As telemetry counts it: sent to Copilot (an initiator), answered, no cost.
            costUnknown: sql<number>`coalesce(sum(${events.costNanoAiu} IS NULL AND ${events.initiator} IS NOT NULL AND ${events.status} < 400), 0)`,
            latencySum: sql<number>`sum(${events.latencyMs})`,
            latencyMax: sql<number>`max(${events.latencyMs})`,
            ...eventBucketSums,
          })
          .from(events)
          .where(and(gte(events.ts, query.since), lt(events.ts, firstFullHour), query.keyId ? eq(events.keyId, query.keyId) : undefined))
          .groupBy(eventGroup)
          .all()
      : [];

  const groups = new Map<string, Sums>();
  const all = emptySums("");
  for (const part of [...fromHours, ...fromEvents]) {
    const sums: Sums = { ...part, buckets: LATENCY_BUCKETS.map((_, i) => Number((part as Record<string, unknown>)[bucketKey(i)] ?? 0)) };
    let into = groups.get(part.group);
    if (!into) {
      into = emptySums(part.group);
      groups.set(part.group, into);
    }
    add(into, sums);
    add(all, sums);
  }
  const rows = [...groups.values()]
    .map(finish)
    .sort((a, b) => (query.by === "day" ? a.group.localeCompare(b.group) : b.requests - a.requests || a.group.localeCompare(b.group)));
  const { group: _all, ...totals } = finish(all);
  return { rows, totals };
}

function emptySums(group: string): Sums {
  return {
    group,
    requests: 0,
    errors: 0,
    ...(Object.fromEntries(COUNTED.map((column) => [column, 0])) as Record<Counted, number>),
    usageUnknown: 0,
    costUnknown: 0,
    latencySum: 0,
    latencyMax: 0,
    buckets: LATENCY_BUCKETS.map(() => 0),
  };
}

function add(into: Sums, part: Sums): void {
  into.requests += part.requests;
  into.errors += part.errors;
  for (const column of COUNTED) into[column] += part[column];
  into.usageUnknown += part.usageUnknown;
  into.costUnknown += part.costUnknown;
  into.latencySum += part.latencySum;
  into.latencyMax = Math.max(into.latencyMax, part.latencyMax);
  part.buckets.forEach((n, i) => {
    into.buckets[i]! += n;
  });
}

function finish(sums: Sums): UsageRow {
  return {
    group: sums.group,
    requests: sums.requests,
    errors: sums.errors,
    ...(Object.fromEntries(COUNTED.map((column) => [column, column === "premiumRequests" ? roundPremium(sums[column]) : sums[column]])) as Record<
      Counted,
      number
    >),
    usageUnknown: sums.usageUnknown,
    costUnknown: sums.costUnknown,
    credits: creditsOf(sums.costNanoAiu),
    usd: usdOf(sums.costNanoAiu),
    avgLatencyMs: sums.requests ? Math.round(sums.latencySum / sums.requests) : 0,
    maxLatencyMs: sums.latencyMax,
    p50LatencyMs: percentile(sums.buckets, 0.5, sums.latencyMax),
    p95LatencyMs: percentile(sums.buckets, 0.95, sums.latencyMax),
  };
}

/** Multipliers such as 0.33 add up to float noise: premium requests are shown to two decimals. */
const roundPremium = (n: number) => Math.round(n * 100) / 100;

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
