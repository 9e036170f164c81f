import { dirname } from "node:path";
import type { Composed, ComposeOptions, Served } from "~/compose";
import { type Migration, openStore, removeStaleBackupTemps, type Store } from "~/db";
import { type Drain, drain } from "~/drain";
import { findLitestream, replicaTarget } from "~/features/replication";
import { AppError, describeError, errorMessage } from "~/lib/errors";
import { log } from "~/lib/log";
import { isLoopback } from "~/lib/net";
import { dbPath } from "~/lib/paths";
import { listen, ServingGate } from "~/listen";
import { onStopRequests } from "~/stop-requests";
import { KeptTokens } from "~/upstream/kept-token";
import { type UpstreamHalf, upstreamOf } from "~/upstream-of";

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
 * True when composing the app can refuse the start: --pool names credentials that must exist, a listener
 * off loopback needs an active key (unless --no-auth), and --metrics-listen binds a port of its own. Such a
 * start composes before its port opens; any other opens the port as soon as the store is ready.
 */
const compositionMayRefuse = (options: StartOptions) =>
  Boolean(options.pool?.length) || (!options.noAuth && !isLoopback(options.host)) || options.metricsListen !== undefined;

/** What serving has, as the boot gets it: the port (once open), the composed app (once composed). */
interface Serving {
  composed?: Composed;
  served?: Served;
  /** Settles once the app is composed behind the open port (or failed to be). */
  composing?: Promise<unknown>;
}

/**
 * The one place that orders the boot: paths, open, migrate, the checks that can refuse the start, and only
 * then the port. Anything that throws before the port opens means no port is ever bound. On SQLite the port
 * opens as soon as the store is open and migrated (unless composing could still refuse the start); the app is
 * loaded and composed behind it, and a request that arrives meanwhile waits and is served once it is ready.
 */
export async function start(options: StartOptions): Promise<void> {
  if (options.databaseUrl) return serveWhenComposed(await composedOnPostgres(options.databaseUrl, options), options);
  const path = dbPath(options.dbPath);
  // Checked before the store opens: a bad URL or a missing binary changes nothing on disk.
  const replica = options.replicateTo ? { target: replicaTarget(options.replicateTo), binary: findLitestream() } : undefined;
  const store = openServerStore(path);
  let upstream: UpstreamHalf;
  try {
    // The GitHub token and Copilot's URLs: checks that can refuse the start.
    upstream = upstreamOf(options, new KeptTokens(store.path));
    if (compositionMayRefuse(options)) {
      const { composeServer } = await import("~/compose");
      return serveWhenComposed(await composeServer(store, { ...options, replica }, upstream), options);
    }
  } catch (error) {
    store.close();
    throw error;
  }

  const serving: Serving = {};
  onStopRequests((why) => void stopServing(serving, why, () => store.close()));
  const gate = new ServingGate();
  let server: Served["server"];
  try {
    server = listenOrExplain(options, () => listen({ port: options.port, hostname: options.host, fetch: gate.fetch }));
  } catch (error) {
    store.close();
    throw error;
  }
  serving.served = { server };
  // "listening on …" is said once the app serves (serveBehind): the log reads as it always did, and whoever
  // waits for that line finds every line of the boot before it. The port accepts connections from now on.
  // The Copilot token exchange and the model catalog go over the network while the app loads.
  upstream.defaultUpstream.start();
  const composing = (async () => {
    const { composeServer, serveBehind } = await import("~/compose");
    serving.composed = await composeServer(store, { ...options, replica }, upstream);
    serving.served = serveBehind(serving.composed, options, server, gate);
  })();
  serving.composing = composing;
  try {
    await composing;
  } catch (error) {
    // Nothing was answered yet: those waiting are cut with the port, and the start fails as if it never listened.
    void server.stop(true);
    upstream.defaultUpstream.stop();
    if (serving.composed) await serving.composed.close().catch(() => {});
    store.close();
    throw error;
  }
}

/** Opens the port for a composed app (Postgres, or a start whose composition could refuse it), then serves. */
async function serveWhenComposed(composed: Composed, options: StartOptions): Promise<void> {
  const serving: Serving = { composed };
  // Handlers go in before the port opens: a signal's default action would kill
  // the process outright, skipping the final event flush and WAL checkpoint.
  onStopRequests((why) => void stopServing(serving, why, () => {}));
  const { serve } = await import("~/compose");
  try {
    serving.served = listenOrExplain(options, () => serve(composed, { port: options.port, host: options.host, metricsListen: options.metricsListen }));
  } catch (error) {
    await composed.close();
    throw error;
  }
}

/** Runs `open`; a port that cannot be bound becomes an AppError saying what to do. */
function listenOrExplain<T>(options: StartOptions, open: () => T): T {
  try {
    return open();
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new AppError(`cannot listen on ${options.host}:${options.port}: ${errorMessage(error)}`, "pick another --port or --host");
  }
}

let stopping = false;
let draining: Drain | undefined;

/** A clean stop: stop listening, drain in-flight requests, stop the workers (final flushes), close the store. */
async function stopServing(serving: Serving, why: string, closeUncomposed: () => void): Promise<void> {
  // A second Ctrl-C cuts what is still in flight; the stop goes on (the final flush still runs).
  if (stopping) return draining?.now(why);
  stopping = true;
  log.info(`${why}: stopping`);
  // A stop while the app is composed behind the open port waits for it: then it stops as any other.
  await serving.composing?.catch(() => {});
  // Let in-flight requests finish, for a while (said in the log), and never hang on an idle keep-alive client.
  if (serving.served) {
    draining = drain(serving.served.server);
    await draining.finished;
  }
  serving.served?.metricsServer?.stop(true);
  // In-flight requests have finished, so every event is in the recorder: flush it, then close.
  try {
    if (serving.composed) await serving.composed.close();
    else closeUncomposed();
  } catch (error) {
    log.error(`stopping failed: ${describeError(error)}`);
    process.exit(1);
  }
  log.info("stopped cleanly");
  process.exit(0);
}
