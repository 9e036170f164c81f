import { and, eq, gte, lt, type SQL, sql } from "drizzle-orm";
import type { AppDatabase } from "~/db";
import { events, usageHourly } from "~/db/schema";
import { HOUR_MS, LATENCY_BUCKETS } from "~/features/events";

/** The counters summed over a window, from usage_hourly and events alike (same names in both, but the two unknowns). */
export const COUNTERS = [
  "requests",
  "errors",
  "promptTokens",
  "completionTokens",
  "cacheReadTokens",
  "cacheCreationTokens",
  "reasoningTokens",
  "premiumRequests",
  "costNanoAiu",
  "usageUnknown",
  "costUnknown",
] as const;
export type Counter = (typeof COUNTERS)[number];

/** A group's sums before averages and percentiles are taken: the counters, the latency sum and max, the histogram. */
export interface Sums extends Record<Counter, number> {
  latencySum: number;
  latencyMax: number;
  buckets: number[];
}

/** The sums of one key, model and credential in one bucket of the window (an hour, a UTC day, or the whole window). */
export interface UsagePart {
  /** The bucket's start, Unix ms (0 when the read was not split by time). */
  at: number;
  keyId: string;
  model: string;
  /** The seat that answered ("" for the default GitHub token). */
  credentialId: string;
  sums: Sums;
}

export function emptySums(): Sums {
  return {
    ...(Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Record<Counter, number>),
    latencySum: 0,
    latencyMax: 0,
    buckets: LATENCY_BUCKETS.map(() => 0),
  };
}

export function addSums(into: Sums, part: Sums): void {
  for (const column of COUNTERS) into[column] += part[column];
  into.latencySum += part.latencySum;
  into.latencyMax = Math.max(into.latencyMax, part.latencyMax);
  part.buckets.forEach((n, i) => {
    into.buckets[i]! += n;
  });
}

const bucketKey = (i: number) => `b${i}`;
const summed = (expressions: Record<string, SQL>) => expressions as Record<string, SQL<number>>;

/** usage_hourly's sums, as SQL. */
const hourSums = summed({
  ...Object.fromEntries(COUNTERS.map((column) => [column, sql`sum(${usageHourly[column]})`])),
  latencySum: sql`sum(${usageHourly.latencyMsSum})`,
  latencyMax: sql`max(${usageHourly.latencyMsMax})`,
  ...Object.fromEntries(LATENCY_BUCKETS.map((bucket, i) => [bucketKey(i), sql`sum(${usageHourly[bucket.column]})`])),
});

/** The same sums over raw events: what the recorder adds to usage_hourly for each of them. */
const eventSums = summed({
  requests: sql`count(*)`,
  errors: sql`count(${events.error})`,
  ...Object.fromEntries(
    (["promptTokens", "completionTokens", "cacheReadTokens", "cacheCreationTokens", "reasoningTokens", "premiumRequests", "costNanoAiu"] as const).map(
      (column) => [column, sql`coalesce(sum(${events[column]}), 0)`],
    ),
  ),
  usageUnknown: sql`sum(${events.usageUnknown})`,
  // As telemetry counts it: sent to Copilot (an initiator), answered, no cost.
  costUnknown: sql`coalesce(sum(${events.costNanoAiu} IS NULL AND ${events.initiator} IS NOT NULL AND ${events.status} < 400), 0)`,
  latencySum: sql`sum(${events.latencyMs})`,
  latencyMax: sql`max(${events.latencyMs})`,
  // Each histogram bucket: (previous bound, this bound].
  ...Object.fromEntries(
    LATENCY_BUCKETS.map((bucket, i) => {
      const above = i === 0 ? sql`1` : sql`${events.latencyMs} > ${LATENCY_BUCKETS[i - 1]!.le}`;
      const within = Number.isFinite(bucket.le) ? sql`${events.latencyMs} <= ${bucket.le}` : sql`1`;
      return [bucketKey(i), sql`sum(${above} AND ${within})`];
    }),
  ),
});

type SumRow = Record<string, unknown> & { at: number; keyId: string; model: string; credentialId: string };

function partOf(row: SumRow): UsagePart {
  const sums = emptySums();
  for (const column of COUNTERS) sums[column] = Number(row[column] ?? 0);
  sums.latencySum = Number(row.latencySum ?? 0);
  sums.latencyMax = Number(row.latencyMax ?? 0);
  sums.buckets = LATENCY_BUCKETS.map((_, i) => Number(row[bucketKey(i)] ?? 0));
  return { at: Number(row.at), keyId: row.keyId, model: row.model, credentialId: row.credentialId, sums };
}

/** What to read: the window [since, until) (until absent: up to now and beyond), split into buckets of `step` ms or not at all. */
export interface PartsQuery {
  since: number;
  until?: number;
  /** HOUR_MS or a UTC day; absent: one bucket for the whole window. */
  step?: number;
  /** Only this key's usage. */
  keyId?: string;
}

/**
 * Usage over a window, exact to the millisecond, per bucket, key, model and
 * credential: whole hours come from usage_hourly (a few rows per key, model
 * and hour), and only the slice before the first whole hour from raw events.
 * A part of that slice belongs to the bucket the slice falls in.
 */
export function readUsageParts(db: AppDatabase, query: PartsQuery): UsagePart[] {
  const { since, until, step, keyId } = query;
  const firstFullHour = Math.ceil(since / HOUR_MS) * HOUR_MS;
  const bucket = (ms: SQL | unknown) => (step === undefined ? sql<number>`0` : sql<number>`(${ms} / ${step}) * ${step}`);
  // Not split by time: no bucket to group by (GROUP BY 0 would name a column by its position).
  const byBucket = (at: SQL<number>) => (step === undefined ? [] : [at]);

  const hourBucket = bucket(usageHourly.hour);
  const fromHours = db
    .select({ at: hourBucket, keyId: usageHourly.keyId, model: usageHourly.model, credentialId: usageHourly.credentialId, ...hourSums })
    .from(usageHourly)
    .where(
      and(
        gte(usageHourly.hour, firstFullHour),
        until !== undefined ? lt(usageHourly.hour, until) : undefined,
        keyId !== undefined ? eq(usageHourly.keyId, keyId) : undefined,
      ),
    )
    .groupBy(...byBucket(hourBucket), usageHourly.keyId, usageHourly.model, usageHourly.credentialId)
    .all() as SumRow[];

  const sliceEnd = until === undefined ? firstFullHour : Math.min(firstFullHour, until);
  if (sliceEnd <= since) return fromHours.map(partOf);
  const eventBucket = bucket(events.ts);
  const model = sql<string>`coalesce(${events.model}, '')`;
  const credential = sql<string>`coalesce(${events.credentialId}, '')`;
  const fromEvents = db
    .select({ at: eventBucket, keyId: events.keyId, model, credentialId: credential, ...eventSums })
    .from(events)
    .where(and(gte(events.ts, since), lt(events.ts, sliceEnd), keyId !== undefined ? eq(events.keyId, keyId) : undefined))
    .groupBy(...byBucket(eventBucket), events.keyId, model, credential)
    .all() as SumRow[];
  return [...fromHours, ...fromEvents].map(partOf);
}
