import { getTableColumns } from "drizzle-orm";
import { type PgStore, pgTables } from "~/db/postgres";
import { eventRow, hourTotalsOf, type RecordedEvent, SUMMED } from "./queries";

const { events, usageHourly } = pgTables;

/** A table's columns (but `skip`) as SQL names and types: what an INSERT … SELECT FROM json_to_recordset() needs. */
function columnsOf(table: typeof events | typeof usageHourly, skip: string[] = []) {
  return Object.entries(getTableColumns(table))
    .filter(([key]) => !skip.includes(key))
    .map(([key, column]) => ({ key, name: column.name, type: column.getSQLType() }));
}

/** Ids come from the identity column, except in a batch with children (they name their parent's id). */
const EVENT_COLUMNS = columnsOf(events, ["id"]);
const EVENT_COLUMNS_WITH_ID = columnsOf(events);
const HOUR_COLUMNS = columnsOf(usageHourly);

/**
 * `INSERT INTO t (a, b, …) SELECT a, b, … FROM json_to_recordset($n) AS r(a type, b type, …)`: the
 * rows travel as one JSON parameter, so a batch of 2,000 events is one short statement, not
 * 46,000 parameters (measured in bench/postgres.ts).
 */
const jsonInsert = (table: string, columns: { name: string; type: string }[], parameter: number) => {
  const names = columns.map((c) => `"${c.name}"`).join(", ");
  return `INSERT INTO ${table} (${names}) SELECT ${names} FROM json_to_recordset($${parameter}::json) AS r(${columns.map((c) => `"${c.name}" ${c.type}`).join(", ")})`;
};

/**
 * Events and their hourly totals in ONE statement (a data-modifying WITH): one round trip, atomic.
 * Every counter is added to on conflict, so several gateways' batches add up exactly; only the max is a max.
 */
const writeSql = (eventColumns: { name: string; type: string }[]) => `WITH written AS (${jsonInsert("events", eventColumns, 1)} RETURNING 1)
  ${jsonInsert("usage_hourly", HOUR_COLUMNS, 2)}
  ON CONFLICT (hour, key_id, model, credential_id) DO UPDATE SET
  latency_ms_max = greatest(usage_hourly.latency_ms_max, excluded.latency_ms_max),
  ${SUMMED.map((key) => usageHourly[key].name)
    .map((name) => `"${name}" = usage_hourly."${name}" + excluded."${name}"`)
    .join(", ")}`;
const WRITE_SQL = writeSql(EVENT_COLUMNS);
const WRITE_WITH_IDS_SQL = writeSql(EVENT_COLUMNS_WITH_ID);

/** Rows as the JSON json_to_recordset reads: SQL column names. */
const asJson = (columns: { key: string; name: string }[], rows: Record<string, unknown>[]) =>
  JSON.stringify(rows.map((row) => Object.fromEntries(columns.map(({ key, name }) => [name, row[key] ?? null]))));

/**
 * A batch of events on PostgreSQL in one round trip: the events and the hourly totals they add,
 * in one statement. Ids are taken from the events' sequence first (one more round trip) only
 * when a batch holds children (web searches), which name their parent's id.
 */
export async function writeEventsPg(pg: PgStore, batch: readonly RecordedEvent[]): Promise<void> {
  // Sorted, so two gateways adding to the same hours lock them in the same order (no deadlock).
  const hours = hourTotalsOf(batch).sort((a, b) => a.hour - b.hour || cmp(a.keyId, b.keyId) || cmp(a.model, b.model) || cmp(a.credentialId, b.credentialId));
  const parents = batch.filter((e) => !e.rowless);
  const rows: Record<string, unknown>[] = [];
  const withChildren = parents.some((e) => e.children?.length);
  if (withChildren) {
    const count = parents.reduce((n, e) => n + 1 + (e.children?.length ?? 0), 0);
    const ids = (await pg.client<{ id: string }[]>`SELECT nextval(pg_get_serial_sequence('events', 'id')) AS id FROM generate_series(1, ${count})`).map((row) =>
      Number(row.id),
    );
    let next = 0;
    for (const e of parents) {
      const id = ids[next++]!;
      rows.push({ ...eventRow(e, null, asBoolean), id });
      for (const child of e.children ?? []) rows.push({ ...eventRow(child, id, asBoolean), id: ids[next++] });
    }
  } else {
    for (const e of parents) rows.push(eventRow(e, null, asBoolean));
  }
  const columns = withChildren ? EVENT_COLUMNS_WITH_ID : EVENT_COLUMNS;
  await pg.client.unsafe(withChildren ? WRITE_WITH_IDS_SQL : WRITE_SQL, [asJson(columns, rows), asJson(HOUR_COLUMNS, hours)]);
}

const asBoolean = (value: boolean) => value;
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
