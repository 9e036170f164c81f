import { and, desc, eq, gte, isNull, type SQL, sql } from "drizzle-orm";
import type { AppDatabase } from "~/db";
import { type EventError, events } from "~/db/schema";
import { HOUR_MS } from "~/features/events";
import { DAY_MS, emptySums, foldParts, type Sums, type UsagePart, type UsageRow, usageRow } from "~/features/usage";

/** What the dashboard reads: usage through the usage feature's read model (never a scan of events), recent events and the export by keyset. */

/**
 * The window picker: each name is a window back from now as every surface
 * reads it (~/lib/since: `24h` is now minus 24 hours, as `usage --since 24h`),
 * charted by hour or UTC day.
 */
export const WINDOWS = {
  "24h": { step: HOUR_MS },
  "48h": { step: HOUR_MS },
  "7d": { step: DAY_MS },
  "30d": { step: DAY_MS },
  "90d": { step: DAY_MS },
} as const;
export type WindowName = keyof typeof WINDOWS;
export const DEFAULT_WINDOW: WindowName = "7d";

/** The columns a chart can plot. */
const CHARTED = ["requests", "errors", "promptTokens", "completionTokens", "cacheReadTokens", "premiumRequests", "costNanoAiu", "costUnknown"] as const;

/** One line of a usage table: a key, a model, or the total (no average latency without requests). */
export type UsageLine = Omit<UsageRow, "group" | "avgLatencyMs"> & { name: string; avgLatencyMs: number | null };

function lineOf(name: string, sums: Sums): UsageLine {
  const { group: _group, ...row } = usageRow(name, sums);
  return { ...row, name, avgLatencyMs: sums.requests ? row.avgLatencyMs : null };
}

export interface UsageFilter {
  /** The window's start, Unix ms (parseSince). */
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

const matches = (part: UsagePart, filter: UsageFilter) =>
  (filter.keyId === undefined || part.keyId === filter.keyId) && (filter.model === undefined || part.model === filter.model);

/** The usage tables, split by key and by model, with the filters applied to the split so the filter choices stay complete. */
export function usageTables(parts: UsagePart[], filter: UsageFilter): UsageTables {
  const kept = parts.filter((part) => matches(part, filter));
  const lines = (groups: Map<string, Sums>) => [...groups].map(([name, sums]) => lineOf(name, sums)).sort((a, b) => b.requests - a.requests);
  const byKey = foldParts(kept, (part) => part.keyId);
  return {
    totals: lineOf("total", byKey.total),
    byKey: lines(byKey.groups),
    byModel: lines(foldParts(kept, (part) => part.model).groups),
    keysSeen: [...new Set(parts.map((part) => part.keyId))].sort(),
    modelsSeen: [...new Set(parts.map((part) => part.model))].sort(),
  };
}

/** Chart series, column-wise as uPlot takes them: x in Unix seconds, one array per series. */
export interface UsageSeries extends Record<(typeof CHARTED)[number], number[]> {
  step: "hour" | "day";
  t: number[];
  /** costNanoAiu in AI credits, for the chart. */
  credits: number[];
  p50LatencyMs: (number | null)[];
  p95LatencyMs: (number | null)[];
}

/**
 * Usage over time, by hour or UTC day, every bucket of the window present
 * (zero when idle). The window starts inside a bucket (now minus 24 h is not
 * on the hour): that bucket's slice of the window is drawn in the first whole
 * bucket, so a window of 24 hours has 24 points and its sum is the tables' total.
 */
export function usageSeries(parts: UsagePart[], filter: UsageFilter & { step: number; until: number }): UsageSeries {
  const first = Math.floor(filter.since / filter.step) * filter.step + filter.step;
  const { groups } = foldParts(parts, (part) => (matches(part, filter) ? String(Math.max(part.at, first)) : undefined));
  const series: UsageSeries = {
    step: filter.step === DAY_MS ? "day" : "hour",
    t: [],
    ...(Object.fromEntries(CHARTED.map((column) => [column, []])) as unknown as Record<(typeof CHARTED)[number], number[]>),
    credits: [],
    p50LatencyMs: [],
    p95LatencyMs: [],
  };
  for (let at = first; at <= filter.until; at += filter.step) {
    const line = lineOf("", groups.get(String(at)) ?? emptySums());
    series.t.push(at / 1000);
    for (const column of CHARTED) series[column].push(line[column]);
    series.credits.push(line.credits);
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
