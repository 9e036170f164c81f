import type { Database } from "bun:sqlite";
import { type BunSQLiteDatabase, drizzle } from "drizzle-orm/bun-sqlite";
import * as schema from "./schema";

/** The typed Drizzle handle every feature uses (Store.db). */
export type AppDatabase = BunSQLiteDatabase<typeof schema>;

/** A transaction's handle (Store.transaction hands it to its function). */
export type Tx = Parameters<Parameters<AppDatabase["transaction"]>[0]>[0];

/** The typed Drizzle handle over a store's connection (./index.ts makes it on first use), and its outermost transaction object. */
export function typedOver(sqlite: Database): { db: AppDatabase; tx: Tx } {
  const db = drizzle({ client: sqlite, schema });
  // Drizzle makes a transaction object (a query builder per table) and bun:sqlite a wrapper
  // per transaction; a write per request would pay both. Made once: the outermost transaction
  // object holds nothing of its own (the connection's session), and a nested Store.transaction
  // still becomes a savepoint (bun:sqlite's wrapper sees the open transaction).
  return { db, tx: db.transaction((outermost) => outermost) };
}
