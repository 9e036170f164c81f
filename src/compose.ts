import type { Store } from "~/db";
import { StoreFileWatch } from "~/db";
import { appendAudit, auditRetention, retentionAudit } from "~/features/audit";
import { CredentialVault, SeatPool, Seats, sqliteCredentials, UpstreamRouter } from "~/features/credentials";
import { EventRecorder, RetentionJob } from "~/features/events";
import { announcePolicy, CreditBudget, type KeyPolicy, KeyResolver, keyLabels, LastUsedTracker, PremiumUsage, RateLimiter } from "~/features/keys";
import { type GatewayMetrics, type ListenAddress, loadMetrics, type MetricsKit } from "~/features/metrics";
import { WindowsFile, windowsFileOf } from "~/features/quota/windows";
import { ReplicationWorker } from "~/features/replication";
import type { ReplicaTarget } from "~/features/replication/litestream";
import { MAX_RESPONSE_BYTES, responsesRetention, StoredResponses } from "~/features/responses";
import { loadTracing, type Tracing } from "~/features/tracing";
import { cmd } from "~/lib/command-name";
import { log } from "~/lib/log";
import { isLoopback } from "~/lib/net";
import { stopAll, type Worker } from "~/lib/worker";
import { listen as listenOn, type ServingGate } from "~/listen";
import { TokenCounter } from "~/protocols/anthropic";
import { createApp, PROTOCOL_ROUTES } from "~/server";
import type { DefaultUpstream } from "~/upstream/default-upstream";
import { KeptTokens } from "~/upstream/kept-token";
import { type UpstreamHalf, type UpstreamOptions, upstreamDeps, upstreamOf } from "~/upstream-of";

// compose-pg.ts builds its upstream half with these too.
export { upstreamDeps, upstreamOf };

export interface ComposeOptions extends UpstreamOptions {
  /** The address the app will listen on: a loopback listener lets requests pass without a key while the store has none. */
  host: string;
  /** Authentication off: every request passes as __noauth__. */
  noAuth: boolean;
  /** Delete events older than this many days; 0 keeps everything. */
  eventsRetentionDays: number;
  /** Delete stored responses older than this many days; 0 keeps them. */
  responsesRetentionDays: number;
  /** --no-store-responses: keep no Responses API answers (previous_response_id is refused). */
  noStoreResponses: boolean;
  /** Delete audit entries older than this many days (default 365; 0 keeps them). */
  auditRetentionDays?: number;
  /** --pool: labels of the credentials unbound keys are spread over. */
  pool?: string[];
  /** --reserve-window: the last percent of each Copilot window kept for admin keys (0: none). */
  reserveWindowPercent?: number;
  /** --metrics serves GET /metrics to admin keys; --metrics-listen also on its own loopback listener (checked by parseMetricsListen). */
  metrics?: boolean;
  metricsListen?: ListenAddress;
  /** The metrics code, loaded by composeServer when --metrics or --metrics-listen asks for it (compose() alone serves no metrics). */
  metricsKit?: MetricsKit;
  /** OpenTelemetry tracing, loaded by the caller when --otlp-endpoint is set (loading is async); absent, tracing is off. */
  tracing?: Tracing;
  /** Litestream replicates the store to this target with this binary (checked before the store opened). */
  replica?: { target: ReplicaTarget; binary: string };
  /** Wall clock (Unix ms) for dashboard sessions; tests move it. Date.now by default. */
  now?: () => number;
}

/** The app and everything that lives as long as it: built, nothing started. */
export interface Composed {
  app: ReturnType<typeof createApp>;
  /** In start order; `close()` stops them in reverse. */
  workers: Worker[];
  /** The SQLite store; absent on PostgreSQL. */
  store?: Store;
  policy: KeyPolicy;
  resolver: KeyResolver;
  /** Prometheus metrics, when asked for (--metrics, --metrics-listen), and how to serve them on a listener of their own. */
  metrics?: { gauges: GatewayMetrics; serve: MetricsKit["serveMetrics"] };
  /** Starts every worker, in order (once the port is open). */
  start(): void;
  /** Stops every worker in reverse whatever fails, then closes the store, last; rejects with the first error. */
  close(): Promise<void>;
}

/**
 * A Composed from its parts: start() starts the workers in order, close() stops them in reverse
 * (whatever fails) and then runs `closeLast` in order (the store's close, last). Both stores' compositions end here.
 */
export function composedOf(parts: Omit<Composed, "start" | "close">, ...closeLast: (() => void)[]): Composed {
  return {
    ...parts,
    start: () => {
      for (const worker of parts.workers) worker.start();
    },
    close: () => stopAll(parts.workers, ...closeLast),
  };
}

/** Each Copilot seat's windows, by name: for /admin/quota, /healthz, the dashboard and /metrics. */
export const seatWindowsOf = (defaultUpstream: DefaultUpstream, seats: Seats) => () => {
  const windows = defaultUpstream.windows;
  return [...(windows ? [{ seat: "default", windows }] : []), ...seats.all().map((seat) => ({ seat: seat.credential.label, windows: seat.windows }))];
};

/**
 * The app composed once, over an opened store: the boot (start.ts), the tests
 * and the benchmarks all build it here, so what they run is what users run.
 * Throws (the store still open: the caller owns it) when the GitHub token
 * source named cannot be read.
 */
export function compose(store: Store, options: ComposeOptions, upstream?: UpstreamHalf): Composed & { store: Store } {
  const { urls, defaultUpstream, quota } = upstream ?? upstreamOf(options, new KeptTokens(store.path));
  // Each credential's seat is built on first use; the pool's are checked now, so a bad --pool fails the start.
  const seats = new Seats(sqliteCredentials(store.db), new CredentialVault(store), urls);
  const pool = options.pool?.length ? new SeatPool(seats.pool(options.pool)) : undefined;
  if (pool) log.info(`pool: keys bound to no credential are spread over ${options.pool?.join(", ")}`);

  const policy: KeyPolicy = { authDisabled: options.noAuth, loopbackListener: isLoopback(options.host) };
  const resolver = new KeyResolver(store, policy);
  const lastUsed = new LastUsedTracker(store);
  const premium = new PremiumUsage(store);
  const budget = new CreditBudget(store);
  // Each committed batch keeps the keys' premium usage this month current for --premium-quota;
  // metrics count committed events (off the request path), built only when asked for.
  let metrics: GatewayMetrics | undefined;
  const recorder = new EventRecorder(store, {
    onCommitted: (events) => {
      premium.committed(events);
      budget.committed(events);
      metrics?.committed(events);
    },
  });
  const storedResponses = new StoredResponses(store, {
    retentionDays: options.responsesRetentionDays,
    // No stored response larger than a request may be.
    maxResponseBytes: Math.min(options.bodyLimitBytes, MAX_RESPONSE_BYTES),
  });
  const fileWatch = new StoreFileWatch(store);
  // As the server starts (a token signed in later is the router's, per request).
  const { copilot, catalog } = defaultUpstream.current();
  const token = defaultUpstream.token;
  const tokens = new TokenCounter();
  const replica = options.replica;
  const seatWindows = seatWindowsOf(defaultUpstream, seats);
  const kit = options.metricsKit;
  if (kit) {
    metrics = new kit.GatewayMetrics({
      keyLabels: () => keyLabels(store.db),
      sqlite: store,
      recorder,
      catalog,
      token,
      replicating: replica !== undefined,
      protocols: PROTOCOL_ROUTES,
      windows: seatWindows,
    });
  }
  const tracing = options.tracing;
  // Litestream (when replicating) stops after the recorder's final flush, so its final sync carries the last events.
  const replication = replica && new ReplicationWorker(store, replica.target, { binary: replica.binary });
  if (replica) log.info(`replicating to ${replica.target.display} with ${replica.binary}`);
  const app = createApp({
    store,
    tokens,
    recorder,
    keys: { policy, resolver, limiter: new RateLimiter(), lastUsed, premium, budget },
    reserveWindowPercent: options.reserveWindowPercent ?? 0,
    windows: seatWindows,
    upstream: upstreamDeps(options, { copilot, catalog }),
    router: new UpstreamRouter(defaultUpstream, seats, pool),
    responses: { stored: storedResponses, storing: !options.noStoreResponses },
    quota,
    metricsRoute: kit && metrics && kit.metricsRoute(metrics),
    tracing,
    replication,
    now: options.now,
  });
  // Retention runs that deleted something are admin actions of the gateway's own: audited.
  const onPurged = (run: Parameters<typeof retentionAudit>[0]) => appendAudit(store.db, retentionAudit(run));
  // Started in this order once the port is open, stopped in reverse: the recorder
  // is the last to let go of the store but Litestream, after everything that could still produce an event.
  const workers: Worker[] = [
    // Stopped last: its final flush carries the spans of the last requests.
    ...(tracing ? [tracing] : []),
    ...(replication ? [replication] : []),
    recorder,
    // Written before the store closes: a completed response is never lost to a clean shutdown.
    storedResponses,
    lastUsed,
    new RetentionJob(store, { days: options.eventsRetentionDays, onPurged }),
    new RetentionJob(store, { days: options.responsesRetentionDays, target: responsesRetention, onPurged }),
    new RetentionJob(store, { days: options.auditRetentionDays ?? 365, target: auditRetention, onPurged }),
    fileWatch,
    // `quota` runs without the server: the windows the server saw are left beside the database for it.
    new WindowsFile(windowsFileOf(store.path), seatWindows),
    tokens,
    defaultUpstream,
    seats,
  ];
  const parts = { app, workers, store, policy, resolver, metrics: kit && metrics && { gauges: metrics, serve: kit.serveMetrics } };
  // Said once more at the end (fileWatch.check): a replaced file means the last events went nowhere.
  return {
    ...composedOf(
      parts,
      () => fileWatch.check(),
      () => store.close(),
    ),
    store,
  };
}

/**
 * compose() with what must be loaded first: OpenTelemetry, only when --otlp-endpoint is set, and
 * prom-client, only when --metrics or --metrics-listen is (neither is part of a plain start). What start.ts and the in-process test servers run.
 */
export async function composeServer(
  store: Store,
  options: ComposeOptions & { otlpEndpoint?: string },
  upstream?: UpstreamHalf,
): Promise<Composed & { store: Store }> {
  const [tracing, metricsKit] = await Promise.all([
    options.otlpEndpoint ? loadTracing(options.otlpEndpoint, "0.1.0") : undefined,
    options.metrics || options.metricsListen ? loadMetrics() : undefined,
  ]);
  if (options.otlpEndpoint) log.info(`tracing: OTLP/HTTP to ${options.otlpEndpoint}`);
  return compose(store, { ...options, tracing, metricsKit }, upstream);
}

/** The listeners a composed app serves on: its own, and the keyless metrics one when asked for. */
export interface Served {
  server: ReturnType<typeof listenOn>;
  metricsServer?: ReturnType<typeof Bun.serve>;
}

/**
 * Opens the port for a composed app and starts its workers: says the key
 * policy first, then "listening on …" (what the tests and users wait for).
 */
export function serve(composed: Composed, at: { port: number; host: string; metricsListen?: ListenAddress }): Served {
  announcePolicy(composed.policy, at.host, composed.resolver.keyCounts());
  // Served with Bun's limits set by listen() (connections of refused bodies closed).
  const server = listenOn({ port: at.port, hostname: at.host, fetch: composed.app.fetch });
  const metricsServer = composed.metrics && at.metricsListen ? composed.metrics.serve(at.metricsListen, composed.metrics.gauges) : undefined;
  log.success(`listening on http://${at.host}:${server.port}`);
  return started(composed, at, { server, metricsServer });
}

/**
 * A composed app behind the port start.ts opened before composing it (a loopback listener, no --pool, no
 * metrics listener: nothing of the composition could have refused the start). The key policy is said (on
 * loopback it refuses nothing), then "listening on …" as serve() says it, the workers start, and the
 * waiting requests go to the app.
 */
export function serveBehind(composed: Composed, at: { host: string }, server: Served["server"], gate: ServingGate): Served {
  announcePolicy(composed.policy, at.host, composed.resolver.keyCounts());
  log.success(`listening on http://${at.host}:${server.port}`);
  const served = started(composed, at, { server });
  gate.open(composed.app.fetch);
  return served;
}

/** What serving says once its port is open (the dashboard's and the metrics' addresses), then the workers start. */
function started(composed: Composed, at: { host: string; metricsListen?: ListenAddress }, served: Served): Served {
  const port = served.server.port;
  if (composed.store) log.info(`dashboard: http://${at.host}:${port}/dashboard (\`${cmd("dashboard")}\` prints a one-time sign-in link)`);
  if (served.metricsServer) log.info(`metrics on http://${at.metricsListen?.host}:${served.metricsServer.port}/metrics (loopback, no key)`);
  composed.start();
  return served;
}
