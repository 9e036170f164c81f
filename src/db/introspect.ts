import type { Database } from "bun:sqlite";
import { is, SQL } from "drizzle-orm";
import { getTableConfig, type SQLiteColumn, SQLiteSyncDialect, SQLiteTable } from "drizzle-orm/sqlite-core";
import { LEDGER_TABLE } from "./migrations";
import { LITESTREAM_TABLES } from "./replication";

/** Tables, columns, indexes and foreign keys in one comparable shape (src/db/pg/introspect.ts reads Postgres into it too). */
export type SchemaShape = Record<string, TableShape>;

export interface TableShape {
  columns: Record<string, string>;
  indexes: Record<string, string>;
  foreignKeys: string[];
  /** Names of CHECK constraints (their expressions are not compared). */
  checks: string[];
}

// A single-column primary key is never null in practice (drizzle-kit writes NOT NULL, hand-written SQL often does not).
export const column = (type: string, notNull: boolean, primary: boolean, dflt: string | null) =>
  `${type.toLowerCase()}${primary ? " primary key" : notNull ? " not null" : ""}${dflt === null ? "" : ` default ${unwrap(dflt)}`}`;

/** SQLite reports `DEFAULT (unixepoch())` as `unixepoch()`: compare expressions without their outer parentheses. */
function unwrap(expr: string): string {
  let s = expr.trim();
  while (s.startsWith("(") && s.endsWith(")") && closingParen(s) === s.length - 1) s = s.slice(1, -1).trim();
  return s;
}

function closingParen(s: string): number {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "(") depth += 1;
    else if (s[i] === ")" && --depth === 0) return i;
  }
  return -1;
}
export const index = (columns: string[], unique: boolean) => `${unique ? "unique " : ""}(${columns.join(", ")})`;
export const foreignKey = (from: string[], table: string, to: string[], onDelete: string, onUpdate: string) =>
  `(${from.join(", ")}) -> ${table}(${to.join(", ")}) on delete ${onDelete.toLowerCase()} on update ${onUpdate.toLowerCase()}`;

/** What a live database holds, ignoring SQLite's own tables, the migration ledger and Litestream's (see replication.ts). */
export function shapeOfDatabase(sqlite: Database): SchemaShape {
  const tables = sqlite
    .query<{ name: string; sql: string }, []>(
      `SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> '${LEDGER_TABLE}' AND name NOT LIKE '${LITESTREAM_TABLES}' ESCAPE '\\' ORDER BY name`,
    )
    .all();
  const shape: SchemaShape = {};
  for (const { name, sql: ddl } of tables) {
    const q = (pragma: string) => `SELECT * FROM pragma_${pragma}('${name.replace(/'/g, "''")}')`;
    const columns = sqlite
      .query<{ name: string; type: string; notnull: number; dflt_value: string | null; pk: number; hidden: number }, []>(q("table_xinfo"))
      .all();
    const pkCount = columns.filter((c) => c.pk > 0).length;
    const table: TableShape = { columns: {}, indexes: {}, foreignKeys: [], checks: namedChecks(ddl) };
    for (const c of columns) {
      if (c.hidden !== 0) continue;
      table.columns[c.name] = column(c.type, c.notnull === 1, c.pk > 0 && pkCount === 1, c.dflt_value);
    }
    for (const idx of sqlite.query<{ name: string; unique: number; origin: string }, []>(q("index_list")).all()) {
      if (idx.origin === "pk") continue;
      const cols = sqlite
        .query<{ name: string }, []>(`SELECT name FROM pragma_index_info('${idx.name.replace(/'/g, "''")}') ORDER BY seqno`)
        .all()
        .map((r) => r.name);
      table.indexes[idx.name] = index(cols, idx.unique === 1);
    }
    const fks = new Map<number, { from: string[]; to: string[]; table: string; onDelete: string; onUpdate: string }>();
    for (const fk of sqlite
      .query<{ id: number; table: string; from: string; to: string; on_delete: string; on_update: string }, []>(q("foreign_key_list"))
      .all()) {
      const entry = fks.get(fk.id) ?? { from: [], to: [], table: fk.table, onDelete: fk.on_delete, onUpdate: fk.on_update };
      entry.from.push(fk.from);
      entry.to.push(fk.to);
      fks.set(fk.id, entry);
    }
    table.foreignKeys = [...fks.values()].map((f) => foreignKey(f.from, f.table, f.to, f.onDelete, f.onUpdate)).sort();
    shape[name] = table;
  }
  return shape;
}

/** CONSTRAINT "name" CHECK (...) clauses of a CREATE TABLE statement. */
function namedChecks(ddl: string): string[] {
  return [...ddl.matchAll(/CONSTRAINT\s+["`[]?(\w+)["`\]]?\s+CHECK/gi)].map((m) => m[1]!).sort();
}

const dialect = new SQLiteSyncDialect();

/** The SQL text SQLite reports as a column's default, from Drizzle's declared default. */
function declaredDefault(col: SQLiteColumn): string | null {
  const value: unknown = col.default;
  if (value === undefined || value === null) return null;
  if (is(value, SQL)) return dialect.sqlToQuery(value).sql;
  if (typeof value === "string") return `'${value.replace(/'/g, "''")}'`;
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "object") return `'${JSON.stringify(value).replace(/'/g, "''")}'`;
  return String(value);
}

/** What the Drizzle schema module declares, in the same shape. */
export function shapeOfSchema(schemaModule: Record<string, unknown>): SchemaShape {
  const shape: SchemaShape = {};
  for (const value of Object.values(schemaModule)) {
    if (!is(value, SQLiteTable)) continue;
    const config = getTableConfig(value);
    const compositePk = config.primaryKeys.length > 0;
    const table: TableShape = { columns: {}, indexes: {}, foreignKeys: [], checks: config.checks.map((c) => c.name).sort() };
    for (const col of config.columns) {
      table.columns[col.name] = column(col.getSQLType(), col.notNull, col.primary && !compositePk, declaredDefault(col));
      if (col.isUnique) table.indexes[col.uniqueName ?? `${config.name}_${col.name}_unique`] = index([col.name], true);
    }
    for (const idx of config.indexes) {
      const cols = idx.config.columns.map((c) => (is(c, SQL) ? dialect.sqlToQuery(c).sql : (c as SQLiteColumn).name));
      table.indexes[idx.config.name] = index(cols, idx.config.unique);
    }
    for (const u of config.uniqueConstraints) {
      table.indexes[u.getName() ?? `${config.name}_${u.columns.map((c) => c.name).join("_")}_unique`] = index(
        u.columns.map((c) => c.name),
        true,
      );
    }
    table.foreignKeys = config.foreignKeys
      .map((fk) => {
        const ref = fk.reference();
        return foreignKey(
          ref.columns.map((c) => c.name),
          getTableConfig(ref.foreignTable).name,
          ref.foreignColumns.map((c) => c.name),
          fk.onDelete ?? "no action",
          fk.onUpdate ?? "no action",
        );
      })
      .sort();
    shape[config.name] = table;
  }
  return shape;
}

/** Each difference as a sentence; empty when the two agree. */
export function diffShapes(declared: SchemaShape, actual: SchemaShape): string[] {
  const out: string[] = [];
  const names = (a: object, b: object) => [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  for (const t of names(declared, actual)) {
    const want = declared[t];
    const have = actual[t];
    if (!have) {
      out.push(`table ${t} is declared but missing from the database`);
      continue;
    }
    if (!want) {
      out.push(`table ${t} is in the database but not declared in schema.ts`);
      continue;
    }
    for (const kind of ["columns", "indexes"] as const) {
      for (const n of names(want[kind], have[kind])) {
        const w = want[kind][n];
        const h = have[kind][n];
        if (w !== h)
          out.push(`${t}: ${kind.slice(0, -1).replace("indexe", "index")} ${n} is declared as ${w ?? "(absent)"} but the database has ${h ?? "(absent)"}`);
      }
    }
    const wc = want.checks.join(", ");
    const hc = have.checks.join(", ");
    if (wc !== hc) out.push(`${t}: CHECK constraints are declared as [${wc}] but the database has [${hc}]`);
    const wf = want.foreignKeys.join("; ");
    const hf = have.foreignKeys.join("; ");
    if (wf !== hf) out.push(`${t}: foreign keys are declared as [${wf}] but the database has [${hf}]`);
  }
  return out;
}
