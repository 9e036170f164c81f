/*
 * The store's PostgreSQL face (--database-url): loaded only by what runs on Postgres,
 * so a gateway on its SQLite file never loads the driver or the Postgres schema.
 */
export type { PgDatabase } from "./pg/connect";
export { openPgStore, type PgStore, withPgStore } from "./pg/store";
export * as pgTables from "./pg-schema";
