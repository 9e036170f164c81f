import { and, desc, eq, gte, isNull, lt, type SQL, sql } from "drizzle-orm";
import type { AppDatabase, Store } from "~/db";
import { type EventError, events, usageHourly } from "~/db/schema";
import { HOUR_MS, LATENCY_BUCKETS } from "~/features/events";
import { percentile } from "~/features/usage";
import { creditsOf } from "~/lib/credits";

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

const SUMMED = ["requests", "errors", "promptTokens", "completionTokens", "cacheReadTokens", "premiumRequests", "costNanoAiu", "costUnknown"] as const;
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

export interface Acc extends Record<Summed, number> {
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
  costNanoAiu: 0,
  costUnknown: 0,
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

function merge(into: Acc, part: Acc): void {
  for (const column of SUMMED) into[column] += part[column];
  into.latencySum += part.latencySum;
  into.latencyMax = Math.max(into.latencyMax, part.latencyMax);
  part.buckets.forEach((n, i) => {
    into.buckets[i]! += n;
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
    costNanoAiu: acc.costNanoAiu,
    costUnknown: acc.costUnknown,
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

/** The sums of one key and model in one bucket (an hour or a UTC day). */
export interface UsagePart {
  at: number;
  keyId: string;
  model: string;
  acc: Acc;
}

/** usage_hourly summed per bucket, key and model over [since, until): a few rows per key and model per bucket. */
function readParts(db: AppDatabase, since: number, until: number | undefined, step: number): UsagePart[] {
  const bucket = sql<number>`(${usageHourly.hour} / ${step}) * ${step}`;
  const rows = db
    .select({ at: bucket, keyId: usageHourly.keyId, model: usageHourly.model, ...sums })
    .from(usageHourly)
    .where(and(gte(usageHourly.hour, since), until !== undefined ? lt(usageHourly.hour, until) : undefined))
    .groupBy(bucket, usageHourly.keyId, usageHourly.model)
    .all() as (SumRow & { at: number; keyId: string; model: string })[];
  return rows.map((row) => {
    const acc = emptyAcc();
    addTo(acc, row);
    return { at: Number(row.at), keyId: row.keyId, model: row.model, acc };
  });
}

/** Most parts the day cache holds (a few hundred bytes each); past it, days are read from the store every time. */
const CACHE_LIMIT = 100_000;

/**
 * Usage parts by hour or UTC day. Days that ended before yesterday no longer
 * change (an event is stamped when its request arrives and written when it
 * ends), so their daily sums are kept here: a 90-day page reads usage_hourly
 * for the last two days only. The kept days are dropped when another process
 * writes to the store (PRAGMA data_version) or retention removes hours (the
 * oldest hour moves).
 */
export class UsageParts {
  private days = new Map<number, UsagePart[]>();
  private size = 0;
  private stamp = "";

  constructor(private readonly store: Store) {}

  read(since: number, step: number, now: number): UsagePart[] {
    const db = this.store.db;
    if (step !== DAY_MS) return readParts(db, since, undefined, step);
    this.revalidate();
    const settled = now - (now % DAY_MS) - DAY_MS; // the start of yesterday
    let firstMissing: number | undefined;
    for (let day = since; day < settled; day += DAY_MS) {
      if (!this.days.has(day)) {
        firstMissing = day;
        break;
      }
    }
    if (firstMissing !== undefined) {
      const fresh = readParts(db, firstMissing, settled, DAY_MS);
      if (this.size + fresh.length > CACHE_LIMIT)
        return [...readParts(db, since, settled, DAY_MS), ...readParts(db, Math.max(since, settled), undefined, DAY_MS)];
      for (let day = firstMissing; day < settled; day += DAY_MS) this.days.set(day, []);
      for (const part of fresh) this.days.get(part.at)?.push(part);
      this.size += fresh.length;
    }
    const kept: UsagePart[] = [];
    for (let day = since; day < settled; day += DAY_MS) kept.push(...(this.days.get(day) ?? []));
    return [...kept, ...readParts(db, Math.max(since, settled), undefined, DAY_MS)];
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

export interface UsageTables {
  totals: UsageLine;
  byKey: UsageLine[];
  byModel: UsageLine[];
  /** Every key and model seen in the window, whatever the filters: the filter choices. */
  keysSeen: string[];
  modelsSeen: string[];
}

const matches = (part: UsagePart, filter: UsageFilter) =>
  (filter.keyId === undefined || part.keyId === filter.keyId) && (filter.model === undefined || part.model === filter.model);

/** The usage tables, split by key and by model, with the filters applied to the split so the filter choices stay complete. */
export function usageTables(parts: UsagePart[], filter: UsageFilter): UsageTables {
  const total = emptyAcc();
  const byKey = new Map<string, Acc>();
  const byModel = new Map<string, Acc>();
  const keysSeen = new Set<string>();
  const modelsSeen = new Set<string>();
  const into = (map: Map<string, Acc>, name: string, part: Acc) => {
    let acc = map.get(name);
    if (!acc) {
      acc = emptyAcc();
      map.set(name, acc);
    }
    merge(acc, part);
  };
  for (const part of parts) {
    keysSeen.add(part.keyId);
    modelsSeen.add(part.model);
    if (!matches(part, filter)) continue;
    merge(total, part.acc);
    into(byKey, part.keyId, part.acc);
    into(byModel, part.model, part.acc);
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
  costNanoAiu: number[];
  costUnknown: number[];
  /** costNanoAiu in AI credits, for the chart. */
  credits: number[];
  p50LatencyMs: (number | null)[];
  p95LatencyMs: (number | null)[];
}

/** Usage over time, by hour or UTC day, every bucket of the window present (zero when idle). */
export function usageSeries(parts: UsagePart[], filter: UsageFilter & { step: number; until: number }): UsageSeries {
  const byAt = new Map<number, Acc>();
  for (const part of parts) {
    if (!matches(part, filter)) continue;
    let acc = byAt.get(part.at);
    if (!acc) {
      acc = emptyAcc();
      byAt.set(part.at, acc);
    }
    merge(acc, part.acc);
  }
  const series: UsageSeries = {
    step: filter.step === DAY_MS ? "day" : "hour",
    t: [],
    requests: [],
    errors: [],
    promptTokens: [],
    completionTokens: [],
    cacheReadTokens: [],
    premiumRequests: [],
    costNanoAiu: [],
    costUnknown: [],
    credits: [],
    p50LatencyMs: [],
    p95LatencyMs: [],
  };
  for (let at = filter.since; at <= filter.until; at += filter.step) {
    const line = lineOf("", byAt.get(at) ?? emptyAcc());
    series.t.push(at / 1000);
    for (const column of SUMMED) series[column].push(line[column]);
    series.credits.push(creditsOf(line.costNanoAiu));
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
  costNanoAiu: events.costNanoAiu,
  tokenDetails: events.tokenDetails,
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
