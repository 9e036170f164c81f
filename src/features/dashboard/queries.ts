import { and, desc, eq, gte, isNull, type SQL, sql } from "drizzle-orm";
import type { AppDatabase } from "~/db";
import { type EventError, events, usageHourly } from "~/db/schema";
import { HOUR_MS, LATENCY_BUCKETS } from "~/features/events";
import { percentile } from "~/features/usage";

/** What the dashboard reads: usage from usage_hourly (never a scan of events), recent events and the export by keyset. */

export const DAY_MS = 86_400_000;

/** The window picker: each reaches back from the current hour (hourly) or the current UTC day (daily). */
export const WINDOWS = {
  "24h": { ms: 24 * HOUR_MS, step: HOUR_MS },
  "48h": { ms: 48 * HOUR_MS, step: HOUR_MS },
  "7d": { ms: 7 * DAY_MS, step: DAY_MS },
  "30d": { ms: 30 * DAY_MS, step: DAY_MS },
  "90d": { ms: 90 * DAY_MS, step: DAY_MS },
} as const;
export type WindowName = keyof typeof WINDOWS;
export const DEFAULT_WINDOW: WindowName = "7d";

/** The first bucket's start: the window holds exactly ms/step buckets, the current one included. */
export function windowStart(name: WindowName, now: number): number {
  const { ms, step } = WINDOWS[name];
  return now - (now % step) - ms + step;
}

const SUMMED = ["requests", "errors", "promptTokens", "completionTokens", "cacheReadTokens", "premiumRequests"] as const;
type Summed = (typeof SUMMED)[number];

/** The sums of usage_hourly every grouping selects: counters, latency sum and max, histogram buckets. */
const sums = {
  ...(Object.fromEntries(SUMMED.map((column) => [column, sql<number>`sum(${usageHourly[column]})`])) as Record<Summed, SQL<number>>),
  latencySum: sql<number>`sum(${usageHourly.latencyMsSum})`,
  latencyMax: sql<number>`max(${usageHourly.latencyMsMax})`,
  ...(Object.fromEntries(LATENCY_BUCKETS.map((bucket, i) => [`b${i}`, sql<number>`sum(${usageHourly[bucket.column]})`])) as Record<`b${number}`, SQL<number>>),
};
type SumRow = Record<Summed | "latencySum" | "latencyMax", number> & Record<string, unknown>;

const bucketsOf = (row: SumRow) => LATENCY_BUCKETS.map((_, i) => Number(row[`b${i}`] ?? 0));

/** One line of a usage table: a key, a model, or the total. */
export interface UsageLine extends Record<Summed, number> {
  name: string;
  avgLatencyMs: number | null;
  /** At most this many ms (the histogram bucket's upper bound, capped by the max). */
  p50LatencyMs: number | null;
  p95LatencyMs: number | null;
}

interface Acc extends Record<Summed, number> {
  latencySum: number;
  latencyMax: number;
  buckets: number[];
}

const emptyAcc = (): Acc => ({
  requests: 0,
  errors: 0,
  promptTokens: 0,
  completionTokens: 0,
  cacheReadTokens: 0,
  premiumRequests: 0,
  latencySum: 0,
  latencyMax: 0,
  buckets: LATENCY_BUCKETS.map(() => 0),
});

function addTo(acc: Acc, row: SumRow): void {
  for (const column of SUMMED) acc[column] += Number(row[column] ?? 0);
  acc.latencySum += Number(row.latencySum ?? 0);
  acc.latencyMax = Math.max(acc.latencyMax, Number(row.latencyMax ?? 0));
  bucketsOf(row).forEach((n, i) => {
    acc.buckets[i]! += n;
  });
}

function lineOf(name: string, acc: Acc): UsageLine {
  return {
    name,
    requests: acc.requests,
    errors: acc.errors,
    promptTokens: acc.promptTokens,
    completionTokens: acc.completionTokens,
    cacheReadTokens: acc.cacheReadTokens,
    premiumRequests: Math.round(acc.premiumRequests * 100) / 100,
    avgLatencyMs: acc.requests ? Math.round(acc.latencySum / acc.requests) : null,
    p50LatencyMs: percentile(acc.buckets, 0.5, acc.latencyMax),
    p95LatencyMs: percentile(acc.buckets, 0.95, acc.latencyMax),
  };
}

export interface UsageFilter {
  since: number;
  keyId?: string;
  model?: string;
}

export interface UsageTables {
  totals: UsageLine;
  byKey: UsageLine[];
  byModel: UsageLine[];
  /** Every key and model seen in the window, whatever the filters: the filter choices. */
  keysSeen: string[];
  modelsSeen: string[];
}

/**
 * The usage tables in one scan of usage_hourly grouped by key and model (a few
 * rows per key and model), then split by key and by model here, with the
 * filters applied to the split so the filter choices stay complete.
 */
export function usageTables(db: AppDatabase, filter: UsageFilter): UsageTables {
  const rows = db
    .select({ keyId: usageHourly.keyId, model: usageHourly.model, ...sums })
    .from(usageHourly)
    .where(gte(usageHourly.hour, filter.since))
    .groupBy(usageHourly.keyId, usageHourly.model)
    .all() as (SumRow & { keyId: string; model: string })[];
  const total = emptyAcc();
  const byKey = new Map<string, Acc>();
  const byModel = new Map<string, Acc>();
  const keysSeen = new Set<string>();
  const modelsSeen = new Set<string>();
  for (const row of rows) {
    keysSeen.add(row.keyId);
    modelsSeen.add(row.model);
    if (filter.keyId !== undefined && row.keyId !== filter.keyId) continue;
    if (filter.model !== undefined && row.model !== filter.model) continue;
    addTo(total, row);
    for (const [map, name] of [
      [byKey, row.keyId],
      [byModel, row.model],
    ] as const) {
      let acc = map.get(name);
      if (!acc) {
        acc = emptyAcc();
        map.set(name, acc);
      }
      addTo(acc, row);
    }
  }
  const lines = (map: Map<string, Acc>) => [...map].map(([name, acc]) => lineOf(name, acc)).sort((a, b) => b.requests - a.requests);
  return {
    totals: lineOf("total", total),
    byKey: lines(byKey),
    byModel: lines(byModel),
    keysSeen: [...keysSeen].sort(),
    modelsSeen: [...modelsSeen].sort(),
  };
}

/** Chart series, column-wise as uPlot takes them: x in Unix seconds, one array per series. */
export interface UsageSeries {
  step: "hour" | "day";
  t: number[];
  requests: number[];
  errors: number[];
  promptTokens: number[];
  completionTokens: number[];
  cacheReadTokens: number[];
  premiumRequests: number[];
  p50LatencyMs: (number | null)[];
  p95LatencyMs: (number | null)[];
}

/** Usage over time, by hour or UTC day, every bucket of the window present (zero when idle). */
export function usageSeries(db: AppDatabase, filter: UsageFilter & { step: number; until: number }): UsageSeries {
  const bucket = sql<number>`(${usageHourly.hour} / ${filter.step}) * ${filter.step}`;
  const rows = db
    .select({ at: bucket, ...sums })
    .from(usageHourly)
    .where(
      and(
        gte(usageHourly.hour, filter.since),
        filter.keyId !== undefined ? eq(usageHourly.keyId, filter.keyId) : undefined,
        filter.model !== undefined ? eq(usageHourly.model, filter.model) : undefined,
      ),
    )
    .groupBy(bucket)
    .all() as (SumRow & { at: number })[];
  const byAt = new Map(rows.map((row) => [Number(row.at), row]));
  const series: UsageSeries = {
    step: filter.step === DAY_MS ? "day" : "hour",
    t: [],
    requests: [],
    errors: [],
    promptTokens: [],
    completionTokens: [],
    cacheReadTokens: [],
    premiumRequests: [],
    p50LatencyMs: [],
    p95LatencyMs: [],
  };
  for (let at = filter.since; at <= filter.until; at += filter.step) {
    const acc = emptyAcc();
    const row = byAt.get(at);
    if (row) addTo(acc, row);
    const line = lineOf("", acc);
    series.t.push(at / 1000);
    for (const column of SUMMED) series[column].push(line[column]);
    series.p50LatencyMs.push(line.p50LatencyMs);
    series.p95LatencyMs.push(line.p95LatencyMs);
  }
  return series;
}

export const STATUS_CLASSES = ["2xx", "3xx", "4xx", "5xx"] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

export interface EventFilter {
  keyId?: string;
  statusClass?: StatusClass;
  /** An error tag, or "none" for requests without one. */
  error?: EventError | "none";
}

/** The position of an event in time order, for keyset paging: (ts, id). */
export interface EventCursor {
  ts: number;
  id: number;
}

const eventColumns = {
  id: events.id,
  ts: events.ts,
  keyId: events.keyId,
  route: events.route,
  model: events.model,
  upstreamModel: events.upstreamModel,
  stream: events.stream,
  status: events.status,
  latencyMs: events.latencyMs,
  error: events.error,
  promptTokens: events.promptTokens,
  completionTokens: events.completionTokens,
  cacheReadTokens: events.cacheReadTokens,
  cacheCreationTokens: events.cacheCreationTokens,
  reasoningTokens: events.reasoningTokens,
  initiator: events.initiator,
  premiumRequests: events.premiumRequests,
};
const selectEvents = (db: AppDatabase) => db.select(eventColumns).from(events);
export type EventLine = ReturnType<ReturnType<typeof selectEvents>["all"]>[number];

function eventConditions(filter: EventFilter): (SQL | undefined)[] {
  const statusFrom = filter.statusClass ? Number(filter.statusClass[0]) * 100 : undefined;
  return [
    filter.keyId !== undefined ? eq(events.keyId, filter.keyId) : undefined,
    statusFrom !== undefined ? sql`${events.status} BETWEEN ${statusFrom} AND ${statusFrom + 99}` : undefined,
    filter.error === "none" ? isNull(events.error) : filter.error !== undefined ? eq(events.error, filter.error) : undefined,
  ];
}

/** The newest events first, `limit` of them, older than `before` when given (events_ts_idx, no sort). */
export function recentEvents(db: AppDatabase, filter: EventFilter, before: EventCursor | undefined, limit: number): EventLine[] {
  return selectEvents(db)
    .where(and(...eventConditions(filter), before ? sql`(${events.ts}, ${events.id}) < (${before.ts}, ${before.id})` : undefined))
    .orderBy(desc(events.ts), desc(events.id))
    .limit(limit)
    .all();
}

/** Events from `since` on, oldest first, `limit` after `after`: one page of the CSV export. */
export function exportPage(db: AppDatabase, filter: { since: number; keyId?: string }, after: EventCursor | undefined, limit: number): EventLine[] {
  return selectEvents(db)
    .where(
      and(
        after ? sql`(${events.ts}, ${events.id}) > (${after.ts}, ${after.id})` : gte(events.ts, filter.since),
        filter.keyId !== undefined ? eq(events.keyId, filter.keyId) : undefined,
      ),
    )
    .orderBy(events.ts, events.id)
    .limit(limit)
    .all();
}
