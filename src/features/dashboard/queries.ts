import { type AnyColumn, and, asc, desc, eq, gte, isNull, type SQL, sql } from "drizzle-orm";
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
  // Ties in name order: the same table whichever store, whatever order its rows came in.
  const lines = (groups: Map<string, Sums>) =>
    [...groups].map(([name, sums]) => lineOf(name, sums)).sort((a, b) => b.requests - a.requests || a.name.localeCompare(b.name));
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

/** The columns an event line shows. */
const EVENT_LINE = [
  "id",
  "ts",
  "keyId",
  "route",
  "model",
  "upstreamModel",
  "stream",
  "status",
  "latencyMs",
  "error",
  "promptTokens",
  "completionTokens",
  "cacheReadTokens",
  "cacheCreationTokens",
  "reasoningTokens",
  "initiator",
  "premiumRequests",
  "costNanoAiu",
  "tokenDetails",
] as const;
type LineColumn = (typeof EVENT_LINE)[number];

/** The columns of an event line, from either dialect's events table. */
export const eventColumnsOf = <T extends Record<LineColumn, unknown>>(t: T): Pick<T, LineColumn> =>
  Object.fromEntries(EVENT_LINE.map((column) => [column, t[column]])) as Pick<T, LineColumn>;
const selectEvents = (db: AppDatabase) => db.select(eventColumnsOf(events)).from(events);
export type EventLine = ReturnType<ReturnType<typeof selectEvents>["all"]>[number];

type EventColumns = Record<"id" | "ts" | "keyId" | "status" | "error", AnyColumn>;

/** The page's filters as SQL over either dialect's events table. */
function eventConditions(t: EventColumns, filter: EventFilter): (SQL | undefined)[] {
  const statusFrom = filter.statusClass ? Number(filter.statusClass[0]) * 100 : undefined;
  return [
    filter.keyId !== undefined ? eq(t.keyId, filter.keyId) : undefined,
    statusFrom !== undefined ? sql`${t.status} BETWEEN ${statusFrom} AND ${statusFrom + 99}` : undefined,
    filter.error === "none" ? isNull(t.error) : filter.error !== undefined ? eq(t.error, filter.error) : undefined,
  ];
}

/** The newest events first, older than `before` when given (events_ts_idx, no sort): WHERE and ORDER BY. */
export function recentWhere(t: EventColumns, filter: EventFilter, before: EventCursor | undefined) {
  return {
    where: and(...eventConditions(t, filter), before ? sql`(${t.ts}, ${t.id}) < (${before.ts}, ${before.id})` : undefined),
    orderBy: [desc(t.ts), desc(t.id)],
  };
}

/** Events from `since` on, oldest first, after `after`: WHERE and ORDER BY of one page of the CSV export. */
export function exportWhere(t: EventColumns, filter: ExportFilter, after: EventCursor | undefined) {
  return {
    where: and(
      after ? sql`(${t.ts}, ${t.id}) > (${after.ts}, ${after.id})` : gte(t.ts, filter.since),
      filter.keyId !== undefined ? eq(t.keyId, filter.keyId) : undefined,
    ),
    orderBy: [asc(t.ts), asc(t.id)],
  };
}

export interface ExportFilter {
  since: number;
  keyId?: string;
}

/** The events as the dashboard and the export read them, whatever the store (the PostgreSQL twin in pg.ts). */
export interface EventPages {
  /** The newest first, `limit` of them, older than `before` when given. */
  recent(filter: EventFilter, before: EventCursor | undefined, limit: number): Promise<EventLine[]>;
  /** From `since` on, oldest first, `limit` after `after`. */
  exportPage(filter: ExportFilter, after: EventCursor | undefined, limit: number): Promise<EventLine[]>;
}

export function sqliteEventPages(db: AppDatabase): EventPages {
  const run = ({ where, orderBy }: ReturnType<typeof recentWhere>, limit: number) =>
    selectEvents(db)
      .where(where)
      .orderBy(...orderBy)
      .limit(limit)
      .all();
  return {
    recent: async (filter, before, limit) => run(recentWhere(events, filter, before), limit),
    exportPage: async (filter, after, limit) => run(exportWhere(events, filter, after), limit),
  };
}
