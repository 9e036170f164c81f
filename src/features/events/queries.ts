import { inArray, lt, sql } from "drizzle-orm";
import { insertedRowId, preparedFor, rowsChanged, type Store } from "~/db";
import { events, usageHourly } from "~/db/schema";

/** Every query on events and usage_hourly that writes lives here. */
export type NewEvent = typeof events.$inferInsert;
/**
 * An event as the recorder holds it: `rowless` ones add to usage_hourly but get no events row;
 * `costUnknown`: it reached Copilot and came back without a cost (counted per hour, not stored per row).
 */
export type RecordedEvent = NewEvent & {
  rowless?: boolean;
  costUnknown?: boolean;
  /** Requests made on this one's behalf (web searches): written right after it, linked by parent_event_id, counted in usage_hourly. */
  children?: RecordedEvent[];
};

export const HOUR_MS = 3_600_000;
export const hourOf = (ts: number) => ts - (ts % HOUR_MS);

type HourColumn = keyof typeof usageHourly.$inferSelect;

/** usage_hourly's latency histogram: each bucket's upper bound in ms (inclusive) and its column. */
export const LATENCY_BUCKETS = [
  { le: 100, column: "latencyLe100" },
  { le: 250, column: "latencyLe250" },
  { le: 500, column: "latencyLe500" },
  { le: 1000, column: "latencyLe1000" },
  { le: 2500, column: "latencyLe2500" },
  { le: 5000, column: "latencyLe5000" },
  { le: 10_000, column: "latencyLe10000" },
  { le: 30_000, column: "latencyLe30000" },
  { le: Number.POSITIVE_INFINITY, column: "latencyOver30000" },
] as const satisfies readonly { le: number; column: HourColumn }[];
type BucketColumn = (typeof LATENCY_BUCKETS)[number]["column"];

export const bucketIndex = (latencyMs: number) => LATENCY_BUCKETS.findIndex((b) => latencyMs <= b.le);

/** Event columns whose hourly sums usage_hourly keeps under the same name. */
const TOKEN_SUMS = ["promptTokens", "completionTokens", "cacheReadTokens", "cacheCreationTokens", "reasoningTokens", "premiumRequests", "costNanoAiu"] as const;

export const SUMMED = ["requests", "errors", ...TOKEN_SUMS, "usageUnknown", "costUnknown", "latencyMsSum", ...LATENCY_BUCKETS.map((b) => b.column)] as const;

const insertEvent = preparedFor((db) =>
  db
    .insert(events)
    .values({
      ts: sql.placeholder("ts"),
      keyId: sql.placeholder("keyId"),
      route: sql.placeholder("route"),
      model: sql.placeholder("model"),
      upstreamModel: sql.placeholder("upstreamModel"),
      stream: sql.placeholder("stream"),
      promptTokens: sql.placeholder("promptTokens"),
      completionTokens: sql.placeholder("completionTokens"),
      cacheReadTokens: sql.placeholder("cacheReadTokens"),
      cacheCreationTokens: sql.placeholder("cacheCreationTokens"),
      reasoningTokens: sql.placeholder("reasoningTokens"),
      initiator: sql.placeholder("initiator"),
      premiumMultiplier: sql.placeholder("premiumMultiplier"),
      premiumRequests: sql.placeholder("premiumRequests"),
      usageUnknown: sql.placeholder("usageUnknown"),
      costNanoAiu: sql.placeholder("costNanoAiu"),
      tokenDetails: sql.placeholder("tokenDetails"),
      status: sql.placeholder("status"),
      latencyMs: sql.placeholder("latencyMs"),
      error: sql.placeholder("error"),
      credentialId: sql.placeholder("credentialId"),
      parentEventId: sql.placeholder("parentEventId"),
    })
    .prepare(),
);

// Every counter column is added to on conflict; only the max is a max.
const addToHour = preparedFor((db) =>
  db
    .insert(usageHourly)
    .values({
      hour: sql.placeholder("hour"),
      keyId: sql.placeholder("keyId"),
      model: sql.placeholder("model"),
      credentialId: sql.placeholder("credentialId"),
      latencyMsMax: sql.placeholder("latencyMsMax"),
      ...Object.fromEntries(SUMMED.map((column) => [column, sql.placeholder(column)])),
    })
    .onConflictDoUpdate({
      target: [usageHourly.hour, usageHourly.keyId, usageHourly.model, usageHourly.credentialId],
      set: {
        latencyMsMax: sql`max(${usageHourly.latencyMsMax}, excluded.${sql.identifier(usageHourly.latencyMsMax.name)})`,
        ...Object.fromEntries(SUMMED.map((column) => [column, sql`${usageHourly[column]} + excluded.${sql.identifier(usageHourly[column].name)}`])),
      },
    })
    .prepare(),
);

export type HourTotals = { hour: number; keyId: string; model: string; credentialId: string; latencyMsMax: number } & Record<(typeof SUMMED)[number], number>;

function emptyHour(hour: number, keyId: string, model: string, credentialId: string): HourTotals {
  const totals = { hour, keyId, model, credentialId, latencyMsMax: 0 } as HourTotals;
  for (const column of SUMMED) totals[column] = 0;
  return totals;
}

/** A batch's hourly totals, one per (hour, key, model, credential): what usage_hourly adds. */
export function hourTotalsOf(batch: readonly RecordedEvent[]): HourTotals[] {
  const hours = new Map<string, HourTotals>();
  for (const e of batch.flatMap((parent) => [parent, ...(parent.children ?? [])])) {
    const hour = hourOf(e.ts);
    const model = e.model ?? "";
    const credential = e.credentialId ?? "";
    const id = `${hour}\u0000${e.keyId}\u0000${model}\u0000${credential}`;
    let t = hours.get(id);
    if (!t) {
      t = emptyHour(hour, e.keyId, model, credential);
      hours.set(id, t);
    }
    t.requests += 1;
    t.errors += e.error ? 1 : 0;
    for (const column of TOKEN_SUMS) t[column] += e[column] ?? 0;
    t.usageUnknown += e.usageUnknown ? 1 : 0;
    t.costUnknown += e.costUnknown ? 1 : 0;
    t.latencyMsSum += e.latencyMs;
    t.latencyMsMax = Math.max(t.latencyMsMax, e.latencyMs);
    t[LATENCY_BUCKETS[bucketIndex(e.latencyMs)]!.column as BucketColumn] += 1;
  }
  return [...hours.values()];
}

/** An event as a row of either dialect (booleans as the caller's driver wants them). */
export function eventRow<B>(e: RecordedEvent, parentEventId: number | null, bool: (value: boolean) => B) {
  return {
    ts: e.ts,
    keyId: e.keyId,
    route: e.route,
    model: e.model ?? null,
    upstreamModel: e.upstreamModel ?? null,
    credentialId: e.credentialId ?? null,
    stream: bool(Boolean(e.stream)),
    promptTokens: e.promptTokens ?? null,
    completionTokens: e.completionTokens ?? null,
    cacheReadTokens: e.cacheReadTokens ?? null,
    cacheCreationTokens: e.cacheCreationTokens ?? null,
    reasoningTokens: e.reasoningTokens ?? null,
    initiator: e.initiator ?? null,
    premiumMultiplier: e.premiumMultiplier ?? null,
    premiumRequests: e.premiumRequests ?? 0,
    usageUnknown: bool(Boolean(e.usageUnknown)),
    costNanoAiu: e.costNanoAiu ?? null,
    tokenDetails: e.tokenDetails ?? null,
    status: e.status,
    latencyMs: e.latencyMs,
    error: e.error ?? null,
    parentEventId,
  };
}

const asInteger = (value: boolean) => (value ? 1 : 0);

/**
 * A batch of events and the hourly totals they add, in one transaction: the
 * two never disagree, except that rowless events (failed authentication past
 * the recorder's per-minute cap) are counted in the totals without a row.
 */
export function writeEvents(store: Store, batch: RecordedEvent[]): void {
  const hours = hourTotalsOf(batch);
  store.transaction(() => {
    const insert = insertEvent(store.db);
    const row = (e: RecordedEvent, parentEventId: number | null) => insert.run(eventRow(e, parentEventId, asInteger));
    for (const e of batch) {
      if (e.rowless) continue;
      const parentId = insertedRowId(row(e, null));
      for (const child of e.children ?? []) row(child, parentId);
    }
    const add = addToHour(store.db);
    for (const t of hours) add.run(t);
  });
}

/** Deletes up to `limit` events older than `cutoff`; returns how many went. */
export function deleteOldEvents(store: Store, cutoff: number, limit: number): number {
  const oldest = store.db.select({ id: events.id }).from(events).where(lt(events.ts, cutoff)).orderBy(events.ts).limit(limit);
  return rowsChanged(store.db.delete(events).where(inArray(events.id, oldest)).run());
}

/** Hourly totals for hours that ended before the cutoff. */
export function deleteOldHours(store: Store, cutoff: number): void {
  store.db
    .delete(usageHourly)
    .where(lt(usageHourly.hour, hourOf(cutoff)))
    .run();
}
