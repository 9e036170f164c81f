import { dirname } from "node:path";
import { openStore, removeStaleBackupTemps, StoreFileWatch } from "~/db";
import { appendAudit, auditRetention, GATEWAY_ACTOR } from "~/features/audit";
import { CredentialVault, SeatPool, Seats, UpstreamRouter } from "~/features/credentials";
import { EventRecorder, RetentionJob } from "~/features/events";
import { announcePolicy, CreditBudget, type KeyPolicy, KeyResolver, LastUsedTracker, PremiumUsage, RateLimiter } from "~/features/keys";
import { GatewayMetrics, type ListenAddress, serveMetrics } from "~/features/metrics";
import { QuotaSource } from "~/features/quota/quota";
import { WindowsFile, windowsFileOf } from "~/features/quota/windows";
import { findLitestream, ReplicationWorker, replicaTarget } from "~/features/replication";
import { MAX_RESPONSE_BYTES, responsesRetention, StoredResponses } from "~/features/responses";
import { loadTracing } from "~/features/tracing";
import { AppError, describeError, errorMessage } from "~/lib/errors";
import { log } from "~/lib/log";
import { isLoopback } from "~/lib/net";
import { dbPath } from "~/lib/paths";
import type { Worker } from "~/lib/worker";
import { listen } from "~/listen";
import { TokenCounter } from "~/protocols/anthropic";
import { createApp, PROTOCOL_ROUTES } from "~/server";
import { onStopRequests } from "~/stop-requests";
import { type AccountType, upstreamUrls } from "~/upstream/config";
import { CopilotClient } from "~/upstream/copilot-client";
import { CopilotToken } from "~/upstream/copilot-token";
import { resolveGithubToken } from "~/upstream/github-token";
import { ModelCatalog } from "~/upstream/model-catalog";

export interface StartOptions {
  port: number;
  host: string;
  dbPath?: string;
  accountType: AccountType;
  githubToken?: string;
  /** --github-token-file: read the token from this file. */
  githubTokenFile?: string;
  /** --enterprise-url: a GHE.com tenant host. */
  enterpriseUrl?: string;
  bodyLimitBytes: number;
  /** Authentication off: every request passes as __noauth__. */
  noAuth: boolean;
  /** Delete events older than this many days; 0 keeps everything. */
  eventsRetentionDays: number;
  /** Delete stored responses older than this many days; 0 keeps them. */
  responsesRetentionDays: number;
  /** --no-store-responses: keep no Responses API answers (previous_response_id is refused). */
  noStoreResponses: boolean;
  /** --replicate-to / COPILOT_API_REPLICATE_TO: Litestream replicates the store to this URL. */
  replicateTo?: string;
  /** delete audit entries older than this many days (default 365; 0 keeps them). */
  auditRetentionDays?: number;
  /** --otlp-endpoint / OTEL_EXPORTER_OTLP_ENDPOINT: export traces there (OTLP/HTTP JSON); absent, tracing is off and not loaded. */
  otlpEndpoint?: string;
  /** --metrics serves GET /metrics to admin keys; --metrics-listen also on its own loopback listener (checked by parseMetricsListen). */
  metrics?: boolean;
  metricsListen?: ListenAddress;
  /** --reserve-window: the last percent of each Copilot window kept for admin keys (0: none). */
  reserveWindowPercent?: number;
  /** --pool: labels of the credentials unbound keys are spread over. */
  pool?: string[];
}

/**
 * The one place that orders the boot: paths, open, migrate, upstream, app, and
 * only then listen. Anything that throws before `Bun.serve` means no port is
 * ever bound.
 */
export async function start(options: StartOptions): Promise<void> {
  const path = dbPath(options.dbPath);
  // Checked before the store opens: a bad URL or a missing binary changes nothing on disk.
  const replica = options.replicateTo ? { target: replicaTarget(options.replicateTo), binary: findLitestream() } : undefined;
  log.info(`database ${path}`);
  const store = openStore({ path });
  const onPurged = (run: { what: string; deleted: number; cutoff: number; days: number }) =>
    appendAudit(store.db, {
      ...GATEWAY_ACTOR,
      action: "retention.run",
      target: run.what,
      after: { deleted: run.deleted, olderThanDays: run.days, cutoff: new Date(run.cutoff).toISOString() },
    });
  // A backup killed halfway leaves its temporary file beside the database.
  removeStaleBackupTemps(dirname(path));

  let github: ReturnType<typeof resolveGithubToken>;
  try {
    github = resolveGithubToken({ token: options.githubToken, file: options.githubTokenFile });
  } catch (error) {
    store.close();
    throw error;
  }
  const urls = upstreamUrls(options.accountType, { enterpriseUrl: options.enterpriseUrl });
  const token = github ? new CopilotToken(urls, github.token) : undefined;
  // Each credential's seat is built on first use; the pool's are checked now, so a bad --pool fails the start.
  const seats = new Seats(store, new CredentialVault(store), urls);
  let pool: SeatPool | undefined;
  try {
    pool = options.pool?.length ? new SeatPool(seats.pool(options.pool)) : undefined;
  } catch (error) {
    store.close();
    throw error;
  }
  if (pool) log.info(`pool: keys bound to no credential are spread over ${options.pool!.join(", ")}`);
  if (github) log.info(`GitHub token from ${github.source}; Copilot account type ${options.accountType}`);
  else log.warn("no GitHub token: /healthz works, proxy routes answer 503 until you run `copilot-api auth` (or pass --github-token-file / GH_TOKEN)");

  const policy: KeyPolicy = { authDisabled: options.noAuth, loopbackListener: isLoopback(options.host) };
  const resolver = new KeyResolver(store, policy);
  const lastUsed = new LastUsedTracker(store);
  const premium = new PremiumUsage(store);
  const budget = new CreditBudget(store);
  // Each committed batch keeps the keys' premium usage this month current for --premium-quota.
  // Metrics count committed events (off the request path); built only when asked for.
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
  const copilot = token && new CopilotClient(urls, token);
  // Copilot's model catalog routes every protocol: loaded once the port is open, refreshed every 10 minutes.
  const catalog = copilot && new ModelCatalog(() => copilot.models(), { onError: (error) => log.warn(`model catalog: ${describeError(error)}`) });
  const tokens = new TokenCounter();
  // Each Copilot seat's windows, by name: for /admin/quota, /healthz and /metrics.
  const seatWindows = () => [
    ...(copilot ? [{ seat: "default", windows: copilot.windows }] : []),
    ...seats.all().map((seat) => ({ seat: seat.credential.label, windows: seat.windows })),
  ];
  if (options.metrics || options.metricsListen) {
    metrics = new GatewayMetrics({ store, recorder, catalog, token, replicating: replica !== undefined, protocols: PROTOCOL_ROUTES, windows: seatWindows });
  }
  const tracing = options.otlpEndpoint ? await loadTracing(options.otlpEndpoint, "0.1.0") : undefined;
  if (options.otlpEndpoint) log.info(`tracing: OTLP/HTTP to ${options.otlpEndpoint}`);
  // Litestream (when replicating) stops after the recorder's final flush, so its final sync carries the last events.
  const replication = replica && new ReplicationWorker(store, replica.target, { binary: replica.binary });
  const app = createApp({
    store,
    tokens,
    recorder,
    keys: { policy, resolver, limiter: new RateLimiter(), lastUsed, premium, budget },
    upstream: { copilot, catalog, bodyLimitBytes: options.bodyLimitBytes },
    reserveWindowPercent: options.reserveWindowPercent ?? 0,
    windows: seatWindows,
    router: new UpstreamRouter({ copilot, catalog }, seats, pool),
    responses: { stored: storedResponses, storing: !options.noStoreResponses },
    quota: github && new QuotaSource(urls, github.token),
    metrics,
    tracing,
    replication,
  });
  if (replica) log.info(`replicating to ${replica.target.display} with ${replica.binary}`);
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
    tokens,
    ...(token ? [token] : []),
    ...(catalog ? [catalog] : []),
    seats,
    new WindowsFile(windowsFileOf(path), seatWindows),
  ];
  /** Everything that holds the store, in the order it must let go of it. */
  const release = async () => {
    for (const worker of workers.toReversed()) await worker.stop();
    // Said once more at the end: a replaced file means the last events went nowhere.
    fileWatch.check();
    store.close();
  };

  // Handlers go in before the port opens: a signal's default action would kill
  // the process outright, skipping the final event flush and WAL checkpoint.
  let server: ReturnType<typeof listen> | undefined;
  let metricsServer: ReturnType<typeof Bun.serve> | undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: stopping`);
    // Let in-flight requests finish, but never hang shutdown on an idle keep-alive client.
    if (server) await Promise.race([server.stop(), Bun.sleep(5000).then(() => server?.stop(true))]);
    metricsServer?.stop(true);
    // In-flight requests have finished, so every event is in the recorder: flush it, then close.
    await release();
    log.info("stopped cleanly");
    process.exit(0);
  };
  onStopRequests((why) => void stop(why));

  try {
    announcePolicy(policy, options.host, resolver.keyCounts());
    server = listen({ port: options.port, hostname: options.host, fetch: app.fetch });
    if (metrics && options.metricsListen) metricsServer = serveMetrics(options.metricsListen, metrics);
  } catch (error) {
    await release();
    if (error instanceof AppError) throw error;
    throw new AppError(`cannot listen on ${options.host}:${options.port}: ${errorMessage(error)}`, "pick another --port or --host");
  }
  log.success(`listening on http://${options.host}:${server.port}`);
  log.info(`dashboard: http://${options.host}:${server.port}/dashboard (\`copilot-api dashboard\` prints a one-time sign-in link)`);
  if (metricsServer) log.info(`metrics on http://${options.metricsListen?.host}:${metricsServer.port}/metrics (loopback, no key)`);
  for (const worker of workers) worker.start();
}
