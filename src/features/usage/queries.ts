import { type AnyColumn, and, eq, gt, gte, isNotNull, isNull, lt, lte, type SQL, sql } from "drizzle-orm";
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
/** How a dialect counts the rows where a condition holds: SQLite sums its 0/1 truth values; PostgreSQL's booleans do not add up. */
export type CountWhere = (condition: SQL | AnyColumn | undefined) => SQL;
const sqliteCountWhere: CountWhere = (condition) => sql`sum(${condition})`;

type BucketColumn = (typeof LATENCY_BUCKETS)[number]["column"];
/** The usage_hourly columns a read takes, in either dialect's table. */
type HourColumns = Record<Counter | BucketColumn | "hour" | "keyId" | "model" | "credentialId" | "latencyMsSum" | "latencyMsMax", AnyColumn>;
/** The events columns a read takes, in either dialect's table. */
type EventColumns = Record<
  Exclude<Counter, "requests" | "errors" | "costUnknown"> | "ts" | "keyId" | "model" | "credentialId" | "error" | "initiator" | "status" | "latencyMs",
  AnyColumn
>;

/** usage_hourly's sums, as SQL. */
const hourSums = (t: HourColumns) =>
  summed({
    ...Object.fromEntries(COUNTERS.map((column) => [column, sql`sum(${t[column]})`])),
    latencySum: sql`sum(${t.latencyMsSum})`,
    latencyMax: sql`max(${t.latencyMsMax})`,
    ...Object.fromEntries(LATENCY_BUCKETS.map((bucket, i) => [bucketKey(i), sql`sum(${t[bucket.column]})`])),
  });

/** The same sums over raw events: what the recorder adds to usage_hourly for each of them. */
const eventSums = (t: EventColumns, countWhere: CountWhere) =>
  summed({
    requests: sql`count(*)`,
    errors: sql`count(${t.error})`,
    ...Object.fromEntries(
      (["promptTokens", "completionTokens", "cacheReadTokens", "cacheCreationTokens", "reasoningTokens", "premiumRequests", "costNanoAiu"] as const).map(
        (column) => [column, sql`coalesce(sum(${t[column]}), 0)`],
      ),
    ),
    usageUnknown: countWhere(t.usageUnknown),
    // As telemetry counts it: sent to Copilot (an initiator), answered, no cost.
    costUnknown: sql`coalesce(${countWhere(and(isNull(t.costNanoAiu), isNotNull(t.initiator), lt(t.status, 400)))}, 0)`,
    latencySum: sql`sum(${t.latencyMs})`,
    latencyMax: sql`max(${t.latencyMs})`,
    // Each histogram bucket: (previous bound, this bound].
    ...Object.fromEntries(
      LATENCY_BUCKETS.map((bucket, i) => {
        const above = i === 0 ? undefined : gt(t.latencyMs, LATENCY_BUCKETS[i - 1]!.le);
        const within = Number.isFinite(bucket.le) ? lte(t.latencyMs, bucket.le) : undefined;
        return [bucketKey(i), countWhere(and(above, within))];
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

/** One GROUP BY read: what to select, where, grouped by what. */
interface PartsRead {
  select: Record<string, SQL>;
  where: SQL | undefined;
  groupBy: SQL[];
}

/** A column as an SQL expression: either dialect's column fits a read of either. */
const col = (column: AnyColumn) => sql`${column}`;

/**
 * Usage over a window, exact to the millisecond, per bucket, key, model and
 * credential: whole hours come from usage_hourly (a few rows per key, model
 * and hour), and only the slice before the first whole hour from raw events.
 * A part of that slice belongs to the bucket the slice falls in. The reads as
 * SQL over either dialect's tables: readUsageParts runs them on SQLite, its
 * PostgreSQL twin (pg.ts) on the shared store.
 */
export function partsReads(usageHourly: HourColumns, events: EventColumns, countWhere: CountWhere, query: PartsQuery): { hours: PartsRead; slice?: PartsRead } {
  const { since, until, step, keyId } = query;
  const firstFullHour = Math.ceil(since / HOUR_MS) * HOUR_MS;
  // The step is written into the SQL, not bound: PostgreSQL matches a GROUP BY expression to the selected one only when they are the same text.
  const stepSql = sql.raw(String(Math.trunc(step ?? 0)));
  const bucket = (ms: AnyColumn) => (step === undefined ? sql<number>`0` : sql<number>`(${ms} / ${stepSql}) * ${stepSql}`);
  // Not split by time: no bucket to group by (GROUP BY 0 would name a column by its position).
  const byBucket = (at: SQL<number>) => (step === undefined ? [] : [at]);

  const hourBucket = bucket(usageHourly.hour);
  const hourKey = [col(usageHourly.keyId), col(usageHourly.model), col(usageHourly.credentialId)] as const;
  const hours: PartsRead = {
    select: { at: hourBucket, keyId: hourKey[0], model: hourKey[1], credentialId: hourKey[2], ...hourSums(usageHourly) },
    where: and(
      gte(usageHourly.hour, firstFullHour),
      until !== undefined ? lt(usageHourly.hour, until) : undefined,
      keyId !== undefined ? eq(usageHourly.keyId, keyId) : undefined,
    ),
    groupBy: [...byBucket(hourBucket), ...hourKey],
  };

  const sliceEnd = until === undefined ? firstFullHour : Math.min(firstFullHour, until);
  if (sliceEnd <= since) return { hours };
  const eventBucket = bucket(events.ts);
  const model = sql<string>`coalesce(${events.model}, '')`;
  const credential = sql<string>`coalesce(${events.credentialId}, '')`;
  const slice: PartsRead = {
    select: { at: eventBucket, keyId: col(events.keyId), model, credentialId: credential, ...eventSums(events, countWhere) },
    where: and(gte(events.ts, since), lt(events.ts, sliceEnd), keyId !== undefined ? eq(events.keyId, keyId) : undefined),
    groupBy: [...byBucket(eventBucket), col(events.keyId), model, credential],
  };
  return { hours, slice };
}

/** The rows of both reads as parts. */
export const partsOf = (rows: unknown[]): UsagePart[] => (rows as SumRow[]).map(partOf);

/** partsReads on the SQLite store. */
export function readUsageParts(db: AppDatabase, query: PartsQuery): UsagePart[] {
  const { hours, slice } = partsReads(usageHourly, events, sqliteCountWhere, query);
  const run = (read: PartsRead, table: typeof usageHourly | typeof events) =>
    db
      .select(read.select)
      .from(table)
      .where(read.where)
      .groupBy(...read.groupBy)
      .all();
  return partsOf([...run(hours, usageHourly), ...(slice ? run(slice, events) : [])]);
}
