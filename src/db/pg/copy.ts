import { getTableColumns, getTableName, sql } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import { AppError } from "~/lib/errors";
import type { AppDatabase } from "..";
import * as pgSchema from "../pg-schema";
import * as schema from "../schema";
import type { PgDatabase } from "./connect";

/**
 * `db migrate-to postgres://…`: every row of a SQLite store copied into an empty PostgreSQL
 * store of the same schema version, in one PostgreSQL transaction (all or nothing). The two
 * schemas declare the same columns under the same names (tests/db/pg-dialect.test.ts), so a
 * row read through schema.ts is written through pg-schema.ts as it is; Drizzle maps booleans,
 * JSON and blobs on each side.
 */

/** Parents before children (foreign keys); a table of schema.ts missing here is refused below, so none is skipped silently. */
const TABLE_ORDER = [
  "credentials",
  "keys",
  "sessions",
  "sign_in_links",
  "events",
  "usage_hourly",
  "responses",
  "audit_log",
  "limit_holds",
  "rate_buckets",
  "response_bytes",
];
/** Rows per INSERT: the widest table (26 columns) stays far below PostgreSQL's 65,535 parameters. */
const PAGE = 1000;

type Pair = { name: string; from: SQLiteTable; to: PgTable };

function tablePairs(): Pair[] {
  const byName = <T extends SQLiteTable | PgTable>(tables: Record<string, unknown>, isTable: (t: unknown) => t is T) =>
    new Map(
      Object.values(tables)
        .filter(isTable)
        .map((t) => [getTableName(t), t]),
    );
  const sqliteTables = byName(schema, (t): t is SQLiteTable => typeof t === "object" && t !== null && "getSQL" in t && getTableName(t as SQLiteTable) !== "");
  const pgTables = byName(pgSchema, (t): t is PgTable => typeof t === "object" && t !== null && "getSQL" in t && getTableName(t as PgTable) !== "");
  const unknown = [...sqliteTables.keys()].filter((name) => !TABLE_ORDER.includes(name));
  if (unknown.length > 0) throw new Error(`db migrate-to does not know where to copy ${unknown.join(", ")}: add it to TABLE_ORDER in src/db/pg/copy.ts`);
  return TABLE_ORDER.map((name) => ({ name, from: sqliteTables.get(name)!, to: pgTables.get(name)! }));
}

/** The target's own entry for the migrations that just made it (audited like any): not data, and kept after the copy. */
const OWN_ENTRY = sql`action = 'db.migrations_applied'`;
/** The audit_log columns but its identity id: the own entries are appended again with new ids. */
const AUDIT_COLUMNS = sql.raw("ts, action, actor_kind, actor, address, user_agent, target, before, after");

/** Rows each table holds in the target (but its own migration entries), for the emptiness check and the report. */
async function pgCounts(db: PgDatabase, pairs: Pair[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const { name, to } of pairs) {
    const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(to);
    counts.set(name, row?.n ?? 0);
  }
  const [own] = await db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM audit_log WHERE ${OWN_ENTRY}`);
  counts.set("audit_log", (counts.get("audit_log") ?? 0) - (own?.n ?? 0));
  return counts;
}

/** Copies every table; returns the rows copied per table. Refuses a target that holds any row. */
export async function copyToPostgres(from: AppDatabase, to: PgDatabase, shown: string): Promise<Map<string, number>> {
  const pairs = tablePairs();
  const held = [...(await pgCounts(to, pairs))].filter(([, n]) => n > 0);
  if (held.length > 0) {
    throw new AppError(
      `${shown} already holds data (${held.map(([name, n]) => `${n} ${name}`).join(", ")}): db migrate-to copies into an empty database only`,
      "create an empty database (createdb copilot_api) and pass its URL; nothing was written",
    );
  }
  const copied = new Map<string, number>();
  await to.transaction(async (tx) => {
    // Taken out so the copied ids fit, and appended again after them: the log stays in time order.
    const own = await tx.execute(sql`DELETE FROM audit_log WHERE ${OWN_ENTRY} RETURNING ${AUDIT_COLUMNS}`);
    for (const { name, from: source, to: target } of pairs) {
      const columns = getTableColumns(source);
      let last = Number.NEGATIVE_INFINITY;
      let count = 0;
      for (;;) {
        // Keyset paging on the rowid: each page costs the same however far in.
        const page = from
          .select({ rowid: sql<number>`rowid`, ...columns })
          .from(source)
          .where(sql`rowid > ${last}`)
          .orderBy(sql`rowid`)
          .limit(PAGE)
          .all() as ({ rowid: number } & Record<string, unknown>)[];
        if (page.length === 0) break;
        last = page.at(-1)!.rowid;
        await tx.insert(target).values(page.map(({ rowid: _rowid, ...row }) => row));
        count += page.length;
      }
      copied.set(name, count);
    }
    // Identity columns were given their values: their sequences go on after the largest.
    for (const table of ["events", "audit_log"]) {
      await tx.execute(sql`SELECT setval(pg_get_serial_sequence(${table}, 'id'), coalesce((SELECT max(id) FROM ${sql.identifier(table)}), 0) + 1, false)`);
    }
    if (own.length > 0) {
      await tx.execute(sql`
        INSERT INTO audit_log (${AUDIT_COLUMNS})
        SELECT ${AUDIT_COLUMNS} FROM jsonb_populate_recordset(NULL::audit_log, ${JSON.stringify(own)}::jsonb) ORDER BY ts`);
    }
  });
  return copied;
}
