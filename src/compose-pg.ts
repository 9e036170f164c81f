import { type Composed, type ComposeOptions, composedOf, seatWindowsOf, upstreamDeps, upstreamOf } from "~/compose";
import type { PgStore } from "~/db";
import { retentionAudit } from "~/features/audit";
import { appendAuditPg, pgAuditLog } from "~/features/audit/pg";
import { SeatPool, Seats, UpstreamRouter } from "~/features/credentials";
import { PgCredentialMirror, pgCredentialVault } from "~/features/credentials/pg";
import type { AdminStore } from "~/features/dashboard";
import { pgEventPages, pgSessions, pgSignInLinks } from "~/features/dashboard/pg";
import { EventRecorder } from "~/features/events";
import { PgRetentionJob } from "~/features/events/pg-retention";
import { type KeyPolicy, KeyResolver, LastUsedTracker } from "~/features/keys";
import { pgKeyAdmin } from "~/features/keys/cli-pg";
import { PgKeyMirror, PgMonthlyLimit, PgRateLimiter, pgLastUsedWriter } from "~/features/keys/pg";
import { type GatewayMetrics, loadMetrics } from "~/features/metrics";
import { MAX_RESPONSE_BYTES, StoredResponses } from "~/features/responses";
import { loadTracing } from "~/features/tracing";
import { pgUsage } from "~/features/usage/pg";
import { AppError, errorMessage } from "~/lib/errors";
import { log } from "~/lib/log";
import { isLoopback } from "~/lib/net";
import type { Worker } from "~/lib/worker";
import { TokenCounter } from "~/protocols/anthropic";
import { createApp, PROTOCOL_ROUTES } from "~/server";

/** What `start --database-url` cannot do yet, each refused at start with what to do instead. */
export function refuseOnPostgres(options: ComposeOptions & { replicateTo?: string; dbPath?: string }): void {
  const refuse = (flag: string, why: string) => {
    throw new AppError(
      `${flag} does not work with --database-url yet: ${why}`,
      `start without ${flag}, or without --database-url (the SQLite store); see docs/scaling.md`,
    );
  };
  if (options.replicateTo)
    refuse("--replicate-to", "Litestream replicates a SQLite file; PostgreSQL is replicated by its own means (streaming replicas, pg_dump)");
  if (options.dbPath) refuse("--db-path", "the store is the PostgreSQL database the URL names");
}

/**
 * The app over a PostgreSQL store that several gateways share: the same createApp, protocols,
 * upstream and middleware order as compose(), with each stateful part on its shared form: keys
 * from a mirror kept current by LISTEN/NOTIFY, quota and budget holds in the database, events
 * and stored responses written in batches. Opens the key mirror (one read) before returning.
 */
export async function composeOnPostgres(pg: PgStore, options: ComposeOptions & { otlpEndpoint?: string }): Promise<Composed> {
  const [tracing, kit] = await Promise.all([
    options.otlpEndpoint ? loadTracing(options.otlpEndpoint, "0.1.0") : undefined,
    options.metrics || options.metricsListen ? loadMetrics() : undefined,
  ]);
  if (options.otlpEndpoint) log.info(`tracing: OTLP/HTTP to ${options.otlpEndpoint}`);
  const { urls, defaultUpstream, quota } = upstreamOf(options);
  const credentials = new PgCredentialMirror(pg);
  const mirror = new PgKeyMirror(pg, (rows) => credentials.knowAll(rows.map((row) => row.credentialId)));
  await Promise.all([mirror.open(), credentials.open()]);
  // The seats read the credentials from their mirror; their tokens open with this machine's credentials.key (docs/scaling.md).
  const seats = new Seats(credentials, pgCredentialVault(options.env ?? process.env), urls);
  const pool = options.pool?.length ? new SeatPool(seats.pool(options.pool)) : undefined;
  if (pool) log.info(`pool: keys bound to no credential are spread over ${options.pool?.join(", ")}`);
  const policy: KeyPolicy = { authDisabled: options.noAuth, loopbackListener: isLoopback(options.host) };
  const resolver = new KeyResolver(mirror, policy);
  const premium = new PgMonthlyLimit(pg.db, "premiumRequests");
  const budget = new PgMonthlyLimit(pg.db, "costNanoAiu");
  const storedResponses = new StoredResponses(pg, {
    retentionDays: options.responsesRetentionDays,
    maxResponseBytes: Math.min(options.bodyLimitBytes, MAX_RESPONSE_BYTES),
  });
  let metrics: GatewayMetrics | undefined;
  const recorder = new EventRecorder(pg, {
    onCommitted: (events) => {
      budget.committed(events);
      metrics?.committed(events);
    },
    // An answer leaves once its stored response is written too: any gateway can continue it at once.
    alsoSettle: () => storedResponses.settled(),
  });
  const lastUsed = new LastUsedTracker(pgLastUsedWriter(pg.db));
  const tokens = new TokenCounter();
  const windows = seatWindowsOf(defaultUpstream, seats);
  const { copilot, catalog } = defaultUpstream.current();
  if (kit) {
    // Key labels from the mirror (no query per scrape); no file gauges: there is no SQLite file, so no WAL, no replaced file, no Litestream.
    metrics = new kit.GatewayMetrics({
      keyLabels: () => mirror.labels(),
      recorder,
      catalog,
      token: defaultUpstream.token,
      protocols: PROTOCOL_ROUTES,
      windows,
    });
  }
  log.info("keys: read from PostgreSQL, kept current by LISTEN/NOTIFY (and every second)");
  // The dashboard and the /admin reads on the shared tables: a session or a key change made on one gateway holds on all.
  const admin: AdminStore = {
    sessions: pgSessions(pg.db),
    links: pgSignInLinks(pg.db),
    keys: pgKeyAdmin(pg),
    usage: pgUsage(pg.db),
    events: pgEventPages(pg.db),
    audit: pgAuditLog(pg.db),
  };
  const app = createApp({
    admin,
    tokens,
    recorder,
    keys: { policy, resolver, limiter: new PgRateLimiter(pg.db), lastUsed, premium, budget },
    reserveWindowPercent: options.reserveWindowPercent ?? 0,
    windows,
    upstream: upstreamDeps(options, { copilot, catalog }),
    router: new UpstreamRouter(defaultUpstream, seats, pool),
    responses: { stored: storedResponses, storing: !options.noStoreResponses },
    quota,
    metricsRoute: kit && metrics && kit.metricsRoute(metrics),
    tracing,
    now: options.now,
  });
  // Old rows purged by one gateway at a time (an advisory lock), whichever holds it; a pass that deleted something is audited, as on SQLite.
  const retention = new PgRetentionJob(pg, {
    eventsDays: options.eventsRetentionDays,
    responsesDays: options.responsesRetentionDays,
    auditDays: options.auditRetentionDays ?? 365,
    onPurged: (run) =>
      appendAuditPg(pg.db, retentionAudit(run)).catch((error) => log.warn(`retention: could not audit the ${run.what} it deleted: ${errorMessage(error)}`)),
  });
  const workers: Worker[] = [
    ...(tracing ? [tracing] : []),
    recorder,
    storedResponses,
    lastUsed,
    retention,
    mirror,
    credentials,
    tokens,
    defaultUpstream,
    seats,
  ];
  return composedOf({ app, workers, policy, resolver, metrics: kit && metrics && { gauges: metrics, serve: kit.serveMetrics } }, () => pg.close());
}
