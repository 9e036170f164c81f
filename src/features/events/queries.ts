import { inArray, lt, sql } from "drizzle-orm";
import { preparedFor, rowsChanged, type Store } from "~/db";
import { events, usageHourly } from "~/db/schema";

/** Every query on events and usage_hourly that writes lives here. */
export type NewEvent = typeof events.$inferInsert;

export const HOUR_MS = 3_600_000;
export const hourOf = (ts: number) => ts - (ts % HOUR_MS);

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
      usageUnknown: sql.placeholder("usageUnknown"),
      status: sql.placeholder("status"),
      latencyMs: sql.placeholder("latencyMs"),
      error: sql.placeholder("error"),
    })
    .prepare(),
);

const addToHour = preparedFor((db) =>
  db
    .insert(usageHourly)
    .values({
      hour: sql.placeholder("hour"),
      keyId: sql.placeholder("keyId"),
      model: sql.placeholder("model"),
      requests: sql.placeholder("requests"),
      errors: sql.placeholder("errors"),
      promptTokens: sql.placeholder("promptTokens"),
      completionTokens: sql.placeholder("completionTokens"),
      usageUnknown: sql.placeholder("usageUnknown"),
      latencyMsSum: sql.placeholder("latencyMsSum"),
      latencyMsMax: sql.placeholder("latencyMsMax"),
    })
    .onConflictDoUpdate({
      target: [usageHourly.hour, usageHourly.keyId, usageHourly.model],
      set: {
        requests: sql`${usageHourly.requests} + excluded.requests`,
        errors: sql`${usageHourly.errors} + excluded.errors`,
        promptTokens: sql`${usageHourly.promptTokens} + excluded.prompt_tokens`,
        completionTokens: sql`${usageHourly.completionTokens} + excluded.completion_tokens`,
        usageUnknown: sql`${usageHourly.usageUnknown} + excluded.usage_unknown`,
        latencyMsSum: sql`${usageHourly.latencyMsSum} + excluded.latency_ms_sum`,
        latencyMsMax: sql`max(${usageHourly.latencyMsMax}, excluded.latency_ms_max)`,
      },
    })
    .prepare(),
);

type HourTotals = typeof usageHourly.$inferInsert & { requests: number; errors: number; promptTokens: number; completionTokens: number; usageUnknown: number; latencyMsSum: number; latencyMsMax: number };

/** A batch of events and the hourly totals they add, in one transaction: the two never disagree. */
export function writeEvents(store: Store, batch: NewEvent[]): void {
  const hours = new Map<string, HourTotals>();
  for (const e of batch) {
    const hour = hourOf(e.ts);
    const model = e.model ?? "";
    const id = `${hour}\u0000${e.keyId}\u0000${model}`;
    let t = hours.get(id);
    if (!t) {
      t = { hour, keyId: e.keyId, model, requests: 0, errors: 0, promptTokens: 0, completionTokens: 0, usageUnknown: 0, latencyMsSum: 0, latencyMsMax: 0 };
      hours.set(id, t);
    }
    t.requests += 1;
    t.errors += e.error ? 1 : 0;
    t.promptTokens += e.promptTokens ?? 0;
    t.completionTokens += e.completionTokens ?? 0;
    t.usageUnknown += e.usageUnknown ? 1 : 0;
    t.latencyMsSum += e.latencyMs;
    t.latencyMsMax = Math.max(t.latencyMsMax, e.latencyMs);
  }
  store.transaction(() => {
    const insert = insertEvent(store.db);
    for (const e of batch) {
      insert.run({
        ts: e.ts,
        keyId: e.keyId,
        route: e.route,
        model: e.model ?? null,
        upstreamModel: e.upstreamModel ?? null,
        stream: e.stream ? 1 : 0,
        promptTokens: e.promptTokens ?? null,
        completionTokens: e.completionTokens ?? null,
        usageUnknown: e.usageUnknown ? 1 : 0,
        status: e.status,
        latencyMs: e.latencyMs,
        error: e.error ?? null,
      });
    }
    const add = addToHour(store.db);
    for (const t of hours.values()) add.run(t);
  });
}

/** Deletes up to `limit` events older than `cutoff`; returns how many went. */
export function deleteOldEvents(store: Store, cutoff: number, limit: number): number {
  const oldest = store.db.select({ id: events.id }).from(events).where(lt(events.ts, cutoff)).orderBy(events.ts).limit(limit);
  return rowsChanged(store.db.delete(events).where(inArray(events.id, oldest)).run());
}

/** Hourly totals for hours that ended before the cutoff. */
export function deleteOldHours(store: Store, cutoff: number): void {
  store.db.delete(usageHourly).where(lt(usageHourly.hour, hourOf(cutoff))).run();
}
