import { sql } from "drizzle-orm";
import { column, foreignKey, index, type SchemaShape, type TableShape } from "../introspect";
import { LEDGER_TABLE } from "../migrations";
import type { PgDatabase } from "./connect";

/**
 * A live Postgres schema in SQLite's terms (SchemaShape, src/db/introspect.ts), so
 * one comparison serves both: the dialect-match test (Postgres migrated vs SQLite
 * migrated) and `db verify`'s drift on Postgres (the database vs schema.ts). Types
 * become SQLite's (the mapping pg-schema.ts states), defaults lose their casts
 * ('client'::text → 'client'), identity columns are the rowid's equivalent.
 */
const SQLITE_TYPE: Record<string, string> = {
  bigint: "integer",
  integer: "integer",
  smallint: "integer",
  boolean: "integer",
  "double precision": "real",
  real: "real",
  text: "text",
  jsonb: "text",
  json: "text",
  bytea: "blob",
};

const ACTION: Record<string, string> = { a: "no action", r: "restrict", c: "cascade", n: "set null", d: "set default" };

/** 'x'::text → 'x', ('[]'::jsonb) → '[]': the cast is Postgres spelling, not a different default. */
function portableDefault(expr: string | null): string | null {
  if (expr === null) return null;
  return expr.replace(/::[a-z ]+(\[\])?/gi, "").replace(/^\((.*)\)$/s, "$1");
}

export async function shapeOfPgDatabase(db: PgDatabase): Promise<SchemaShape> {
  const columns = await db.execute<{ table: string; name: string; type: string; not_null: boolean; dflt: string | null }>(sql`
    SELECT c.relname AS "table", a.attname AS name, format_type(a.atttypid, NULL) AS type, a.attnotnull AS not_null,
           pg_get_expr(d.adbin, d.adrelid) AS dflt
    FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
    WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace AND c.relname <> ${LEDGER_TABLE}
    ORDER BY c.relname, a.attnum`);
  const indexes = await db.execute<{ table: string; name: string; unique: boolean; primary: boolean; columns: string[] }>(sql`
    SELECT t.relname AS "table", i.relname AS name, x.indisunique AS "unique", x.indisprimary AS "primary",
           array(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY AS k(attnum, n)
                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.n)::text[] AS columns
    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
    WHERE t.relnamespace = current_schema()::regnamespace AND t.relname <> ${LEDGER_TABLE}`);
  const constraints = await db.execute<{
    table: string;
    name: string;
    kind: string;
    from: string[];
    to_table: string;
    to: string[];
    del: string;
    upd: string;
  }>(sql`
    SELECT t.relname AS "table", k.conname AS name, k.contype AS kind,
           array(SELECT attname FROM pg_attribute WHERE attrelid = k.conrelid AND attnum = ANY (k.conkey))::text[] AS "from",
           coalesce(f.relname, '') AS to_table,
           array(SELECT attname FROM pg_attribute WHERE attrelid = k.confrelid AND attnum = ANY (k.confkey))::text[] AS "to",
           k.confdeltype AS del, k.confupdtype AS upd
    FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid LEFT JOIN pg_class f ON f.oid = k.confrelid
    WHERE k.contype IN ('c', 'f') AND t.relnamespace = current_schema()::regnamespace`);

  const shape: SchemaShape = {};
  const table = (name: string): TableShape => {
    shape[name] ??= { columns: {}, indexes: {}, foreignKeys: [], checks: [] };
    return shape[name];
  };
  const primaryKeys = new Map(indexes.filter((i) => i.primary).map((i) => [i.table, i.columns]));
  for (const c of columns) {
    const pk = primaryKeys.get(c.table);
    const primary = pk?.length === 1 && pk[0] === c.name;
    table(c.table).columns[c.name] = column(SQLITE_TYPE[c.type] ?? c.type, c.not_null, primary, portableDefault(c.dflt));
  }
  for (const i of indexes) if (!i.primary) table(i.table).indexes[i.name] = index(i.columns, i.unique);
  for (const k of constraints) {
    if (k.kind === "c") table(k.table).checks.push(k.name);
    else table(k.table).foreignKeys.push(foreignKey(k.from, k.to_table, k.to, ACTION[k.del] ?? k.del, ACTION[k.upd] ?? k.upd));
  }
  for (const t of Object.values(shape)) {
    t.checks.sort();
    t.foreignKeys.sort();
  }
  return shape;
}
