import { and, eq, gte, lt, sql, type SQL } from "drizzle-orm";
import type { AppDatabase } from "~/db";
import { events, usageHourly } from "~/db/schema";
import { HOUR_MS } from "~/features/events/queries";

export const USAGE_GROUPS = ["key", "model", "day"] as const;
export type UsageGroup = (typeof USAGE_GROUPS)[number];

export interface UsageRow {
  group: string;
  requests: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
  /** Requests whose answer carried no usage block: their tokens are not in the sums. */
  usageUnknown: number;
  avgLatencyMs: number;
  maxLatencyMs: number;
}

export interface UsageQuery {
  /** Unix ms; the window is [since, now]. */
  since: number;
  keyId?: string;
  by: UsageGroup;
}

/** A group's sums before the averages are taken. */
type Partial = Omit<UsageRow, "avgLatencyMs" | "maxLatencyMs"> & { latencySum: number; latencyMax: number };

const utcDay = (ms: SQL | unknown) => sql<string>`strftime('%Y-%m-%d', ${ms} / 1000, 'unixepoch')`;

/**
 * Totals over a window, exact to the millisecond: whole hours come from
 * usage_hourly (a few rows per key, model and hour), and only the part of the
 * first hour before it starts is summed from raw events.
 */
export function usageReport(db: AppDatabase, query: UsageQuery): UsageRow[] {
  const firstFullHour = Math.ceil(query.since / HOUR_MS) * HOUR_MS;

  const hourGroup = { key: usageHourly.keyId, model: usageHourly.model, day: utcDay(usageHourly.hour) }[query.by];
  const fromHours = db
    .select({
      group: sql<string>`${hourGroup}`,
      requests: sql<number>`sum(${usageHourly.requests})`,
      errors: sql<number>`sum(${usageHourly.errors})`,
      promptTokens: sql<number>`sum(${usageHourly.promptTokens})`,
      completionTokens: sql<number>`sum(${usageHourly.completionTokens})`,
      usageUnknown: sql<number>`sum(${usageHourly.usageUnknown})`,
      latencySum: sql<number>`sum(${usageHourly.latencyMsSum})`,
      latencyMax: sql<number>`max(${usageHourly.latencyMsMax})`,
    })
    .from(usageHourly)
    .where(and(gte(usageHourly.hour, firstFullHour), query.keyId ? eq(usageHourly.keyId, query.keyId) : undefined))
    .groupBy(hourGroup)
    .all();

  const eventGroup = { key: events.keyId, model: sql`coalesce(${events.model}, '')`, day: utcDay(events.ts) }[query.by];
  const fromEvents =
    firstFullHour > query.since
      ? db
          .select({
            group: sql<string>`${eventGroup}`,
            requests: sql<number>`count(*)`,
            errors: sql<number>`count(${events.error})`,
            promptTokens: sql<number>`coalesce(sum(${events.promptTokens}), 0)`,
            completionTokens: sql<number>`coalesce(sum(${events.completionTokens}), 0)`,
            usageUnknown: sql<number>`sum(${events.usageUnknown})`,
            latencySum: sql<number>`sum(${events.latencyMs})`,
            latencyMax: sql<number>`max(${events.latencyMs})`,
          })
          .from(events)
          .where(and(gte(events.ts, query.since), lt(events.ts, firstFullHour), query.keyId ? eq(events.keyId, query.keyId) : undefined))
          .groupBy(eventGroup)
          .all()
      : [];

  const merged = new Map<string, Partial>();
  for (const part of [...fromHours, ...fromEvents]) {
    const into = merged.get(part.group);
    if (!into) {
      merged.set(part.group, { ...part });
      continue;
    }
    into.requests += part.requests;
    into.errors += part.errors;
    into.promptTokens += part.promptTokens;
    into.completionTokens += part.completionTokens;
    into.usageUnknown += part.usageUnknown;
    into.latencySum += part.latencySum;
    into.latencyMax = Math.max(into.latencyMax, part.latencyMax);
  }
  return [...merged.values()]
    .map(({ latencySum, latencyMax, ...totals }) => ({
      ...totals,
      avgLatencyMs: totals.requests ? Math.round(latencySum / totals.requests) : 0,
      maxLatencyMs: latencyMax,
    }))
    .sort((a, b) => (query.by === "day" ? a.group.localeCompare(b.group) : b.requests - a.requests || a.group.localeCompare(b.group)));
}

export function totalsOf(rows: UsageRow[]): Omit<UsageRow, "group"> {
  const requests = rows.reduce((n, r) => n + r.requests, 0);
  return {
    requests,
    errors: rows.reduce((n, r) => n + r.errors, 0),
    promptTokens: rows.reduce((n, r) => n + r.promptTokens, 0),
    completionTokens: rows.reduce((n, r) => n + r.completionTokens, 0),
    usageUnknown: rows.reduce((n, r) => n + r.usageUnknown, 0),
    avgLatencyMs: requests ? Math.round(rows.reduce((n, r) => n + r.avgLatencyMs * r.requests, 0) / requests) : 0,
    maxLatencyMs: rows.reduce((n, r) => Math.max(n, r.maxLatencyMs), 0),
  };
}
