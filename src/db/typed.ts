import type { Database } from "bun:sqlite";
import { type BunSQLiteDatabase, drizzle } from "drizzle-orm/bun-sqlite";

/**
 * The typed Drizzle handle every feature uses (Store.db). Without the schema object: the features query with
 * the query builder over the tables they import (never db.query's relational API), and handing Drizzle the
 * schema would have it build the relational configuration of every table on every boot (1.5–3.7 ms here).
 */
export type AppDatabase = BunSQLiteDatabase;

/** A transaction's handle (Store.transaction hands it to its function). */
export type Tx = Parameters<Parameters<AppDatabase["transaction"]>[0]>[0];

/** The typed Drizzle handle over a store's connection (./index.ts makes it on first use), and its outermost transaction object. */
export function typedOver(sqlite: Database): { db: AppDatabase; tx: Tx } {
  const db = drizzle({ client: sqlite });
  // Drizzle makes a transaction object (a query builder per table) and bun:sqlite a wrapper
  // per transaction; a write per request would pay both. Made once: the outermost transaction
  // object holds nothing of its own (the connection's session), and a nested Store.transaction
  // still becomes a savepoint (bun:sqlite's wrapper sees the open transaction).
  return { db, tx: db.transaction((outermost) => outermost) };
}
