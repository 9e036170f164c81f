import { sql } from "drizzle-orm";
import { type PgDatabase, pgTables } from "~/db/postgres";
import { type CountWhere, type PartsQuery, partsOf, partsReads, type UsagePart } from "./queries";
import type { UsageStore } from "./store";

/*
 * Usage on a PostgreSQL store (--database-url): the same reads as readUsageParts (partsReads
 * builds them for either dialect), folded by the same read model. No day cache: several
 * gateways write the store, and nothing here would see their commits.
 */

const { usageHourly, events, keys, credentials } = pgTables;

const countWhere: CountWhere = (condition) => sql`count(*) FILTER (WHERE ${condition})`;

export async function readUsagePartsPg(db: PgDatabase, query: PartsQuery): Promise<UsagePart[]> {
  const { hours, slice } = partsReads(usageHourly, events, countWhere, query);
  const [fromHours, fromEvents] = await Promise.all([
    db
      .select(hours.select)
      .from(usageHourly)
      .where(hours.where)
      .groupBy(...hours.groupBy),
    slice
      ? db
          .select(slice.select)
          .from(events)
          .where(slice.where)
          .groupBy(...slice.groupBy)
      : [],
  ]);
  return partsOf([...fromHours, ...fromEvents]);
}

export function pgUsage(db: PgDatabase): UsageStore {
  return {
    parts: (query) => readUsagePartsPg(db, query),
    window: ({ since, step }) => readUsagePartsPg(db, { since, step }),
    labels: async (of) => {
      const table = of === "key" ? keys : credentials;
      const rows = await db.select({ id: table.id, label: table.label }).from(table);
      return new Map(rows.map((row) => [row.id, row.label]));
    },
  };
}
