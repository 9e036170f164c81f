import { log } from "~/lib/log";
import { loadPgMigrations, type Migration } from "../migrations";
import { connectPostgres, type PgConnection } from "./connect";
import { applyPgMigrations } from "./runner";

/** The gateway's connection to a PostgreSQL store: opened, migrated, then closed once. */
export interface PgStore extends PgConnection {
  /** Calls fn on every NOTIFY on the channel (from any gateway or CLI); resolves once listening. */
  listen(channel: string, fn: () => void): Promise<void>;
  /** NOTIFY channel: every gateway listening on it is told. */
  notify(channel: string): Promise<void>;
}

/** Connections a gateway keeps: the event writer, the limit checks and the lookups run side by side. */
const SERVER_POOL = 10;

/**
 * The Postgres open step of `start --database-url`: connect, apply pending migrations
 * (under the runner's advisory lock, so gateways booting together take turns), and only
 * then hand the store back: no port is opened before its migrations finished.
 */
export async function openPgStore(url: string, migrations: Migration[] = loadPgMigrations()): Promise<PgStore> {
  const conn = await connectPostgres(url, { max: SERVER_POOL });
  log.info(`database ${conn.shown}`);
  try {
    const applied = await applyPgMigrations(conn.db, migrations, {
      target: conn.shown,
      onApplying: (m) => log.info(`applying ${m.file}…`),
      onApplied: (m, ms) => log.info(`applied ${m.file} (schema ${m.version}) in ${ms.toFixed(1)} ms`),
    });
    if (applied.length > 0) log.success(`database at schema ${applied.at(-1)!.version}`);
  } catch (error) {
    await conn.close();
    throw error;
  }
  return {
    ...conn,
    listen: async (channel, fn) => {
      await conn.client.listen(channel, fn);
    },
    notify: async (channel) => {
      await conn.client.notify(channel, "");
    },
  };
}

/** Opens the store (migrating it, as the SQLite CLI's open does) for one CLI command, runs fn, and always disconnects. */
export async function withPgStore<T>(url: string, fn: (pg: PgStore) => Promise<T>): Promise<T> {
  const pg = await openPgStore(url);
  try {
    return await fn(pg);
  } finally {
    await pg.close();
  }
}
