import { dirname } from "node:path";
import { type Composed, type ComposeOptions, composeServer, type Served, serve } from "~/compose";
import { type Migration, openStore, removeStaleBackupTemps, type Store } from "~/db";
import { type Drain, drain } from "~/drain";
import { findLitestream, replicaTarget } from "~/features/replication";
import { AppError, describeError, errorMessage } from "~/lib/errors";
import { log } from "~/lib/log";
import { dbPath } from "~/lib/paths";
import { onStopRequests } from "~/stop-requests";

export interface StartOptions extends Omit<ComposeOptions, "replica" | "env" | "quota" | "now" | "tracing" | "bodyReads"> {
  port: number;
  dbPath?: string;
  /** --replicate-to / COPILOT_API_REPLICATE_TO: Litestream replicates the store to this URL. */
  replicateTo?: string;
  /** --otlp-endpoint / OTEL_EXPORTER_OTLP_ENDPOINT: export traces there (OTLP/HTTP JSON); absent, tracing is off and not loaded. */
  otlpEndpoint?: string;
  /** --database-url / COPILOT_API_DATABASE_URL: serve from this PostgreSQL store (shared with other gateways) instead of the SQLite file. */
  databaseUrl?: string;
}

/** The server's open step: open and migrate the store, then clear what a backup killed halfway left beside it. */
export function openServerStore(path: string, migrations?: Migration[]): Store {
  log.info(`database ${path}`);
  const store = openStore({ path, migrations });
  // A backup killed halfway leaves its temporary file beside the database.
  removeStaleBackupTemps(dirname(path));
  return store;
}

/** The SQLite boot: paths, open, migrate, compose. */
async function composedOnSqlite(options: StartOptions): Promise<Composed> {
  const path = dbPath(options.dbPath);
  // Checked before the store opens: a bad URL or a missing binary changes nothing on disk.
  const replica = options.replicateTo ? { target: replicaTarget(options.replicateTo), binary: findLitestream() } : undefined;
  const store = openServerStore(path);
  try {
    return await composeServer(store, { ...options, replica });
  } catch (error) {
    store.close();
    throw error;
  }
}

/** The PostgreSQL boot: what it cannot do refused first, then connect, migrate (under the advisory lock), compose. */
export async function composedOnPostgres(url: string, options: StartOptions & { env?: Record<string, string | undefined> }): Promise<Composed> {
  // Loaded here only: a gateway on its SQLite file never loads the Postgres driver or schema.
  const [{ composeOnPostgres, refuseOnPostgres }, { openPgStore }] = await Promise.all([import("~/compose-pg"), import("~/db/postgres")]);
  refuseOnPostgres(options);
  const pg = await openPgStore(url);
  try {
    return await composeOnPostgres(pg, options);
  } catch (error) {
    await pg.close();
    throw error;
  }
}

/**
 * The one place that orders the boot: paths, open, migrate, compose, and only
 * then listen. Anything that throws before the port opens means no port is ever bound.
 */
export async function start(options: StartOptions): Promise<void> {
  const composed = options.databaseUrl ? await composedOnPostgres(options.databaseUrl, options) : await composedOnSqlite(options);

  // Handlers go in before the port opens: a signal's default action would kill
  // the process outright, skipping the final event flush and WAL checkpoint.
  let served: Served | undefined;
  let stopping = false;
  let draining: Drain | undefined;
  const stop = async (why: string) => {
    // A second Ctrl-C cuts what is still in flight; the stop goes on (the final flush still runs).
    if (stopping) return draining?.now(why);
    stopping = true;
    log.info(`${why}: stopping`);
    // Let in-flight requests finish, for a while (said in the log), and never hang on an idle keep-alive client.
    if (served) {
      draining = drain(served.server);
      await draining.finished;
    }
    served?.metricsServer?.stop(true);
    // In-flight requests have finished, so every event is in the recorder: flush it, then close.
    try {
      await composed.close();
    } catch (error) {
      log.error(`stopping failed: ${describeError(error)}`);
      process.exit(1);
    }
    log.info("stopped cleanly");
    process.exit(0);
  };
  onStopRequests((why) => void stop(why));

  try {
    served = serve(composed, { port: options.port, host: options.host, metricsListen: options.metricsListen });
  } catch (error) {
    await composed.close();
    if (error instanceof AppError) throw error;
    throw new AppError(`cannot listen on ${options.host}:${options.port}: ${errorMessage(error)}`, "pick another --port or --host");
  }
}
