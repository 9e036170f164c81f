import { sql } from "drizzle-orm";
import { type PgDatabase, pgTables } from "~/db";
import { eventRow, hourTotalsOf, type RecordedEvent, SUMMED } from "./queries";

const { events, usageHourly } = pgTables;
const asBoolean = (value: boolean) => value;

/** Every counter is added to on conflict, so several gateways' batches add up exactly; only the max is a max. */
const ADD_ON_CONFLICT = {
  latencyMsMax: sql`greatest(${usageHourly.latencyMsMax}, excluded.${sql.identifier(usageHourly.latencyMsMax.name)})`,
  ...Object.fromEntries(SUMMED.map((column) => [column, sql`${usageHourly[column]} + excluded.${sql.identifier(usageHourly[column].name)}`])),
};

/**
 * A batch of events on PostgreSQL, in one transaction of a few statements whatever its size:
 * one multi-row INSERT of the events (RETURNING their ids, in order), one of their children
 * (web searches, linked by parent_event_id) when there are any, and one upsert of the hourly
 * totals, in a fixed order so two gateways writing the same hours never deadlock.
 */
export async function writeEventsPg(db: PgDatabase, batch: readonly RecordedEvent[]): Promise<void> {
  const hours = hourTotalsOf(batch).sort((a, b) => a.hour - b.hour || cmp(a.keyId, b.keyId) || cmp(a.model, b.model) || cmp(a.credentialId, b.credentialId));
  const rowed = batch.filter((e) => !e.rowless);
  await db.transaction(async (tx) => {
    if (rowed.length > 0) {
      const ids = await tx
        .insert(events)
        .values(rowed.map((e) => eventRow(e, null, asBoolean)))
        .returning({ id: events.id });
      const children = rowed.flatMap((e, i) => (e.children ?? []).map((child) => eventRow(child, ids[i]!.id, asBoolean)));
      if (children.length > 0) await tx.insert(events).values(children);
    }
    if (hours.length > 0) {
      await tx
        .insert(usageHourly)
        .values(hours)
        .onConflictDoUpdate({ target: [usageHourly.hour, usageHourly.keyId, usageHourly.model, usageHourly.credentialId], set: ADD_ON_CONFLICT });
    }
  });
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
