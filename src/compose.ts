import type { Store } from "~/db";
import { StoreFileWatch } from "~/db";
import { EventRecorder, RetentionJob } from "~/features/events";
import { announcePolicy, type KeyPolicy, KeyResolver, LastUsedTracker, PremiumUsage, RateLimiter } from "~/features/keys";
import { QuotaSource } from "~/features/quota/quota";
import { ReplicationWorker } from "~/features/replication";
import type { ReplicaTarget } from "~/features/replication/litestream";
import { responsesRetention, StoredResponses } from "~/features/responses";
import { describeError } from "~/lib/errors";
import { log } from "~/lib/log";
import { isLoopback } from "~/lib/net";
import { stopAll, type Worker } from "~/lib/worker";
import { createApp } from "~/server";
import { type AccountType, upstreamUrls } from "~/upstream/config";
import { CopilotClient } from "~/upstream/copilot-client";
import { CopilotToken } from "~/upstream/copilot-token";
import { resolveGithubToken } from "~/upstream/github-token";
import { ModelCatalog } from "~/upstream/model-catalog";

export interface ComposeOptions {
  /** The address the app will listen on: a loopback listener lets requests pass without a key while the store has none. */
  host: string;
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
  /** Litestream replicates the store to this target with this binary (checked before the store opened). */
  replica?: { target: ReplicaTarget; binary: string };
  /** Where GH_TOKEN and the COPILOT_API_*_URL overrides are read; process.env by default. */
  env?: Record<string, string | undefined>;
  /** Admin quota source; by default the GitHub token's (none without a token). */
  quota?: QuotaSource;
  /** Wall clock (Unix ms) for dashboard sessions; tests move it. Date.now by default. */
  now?: () => number;
}

/** The app and everything that lives as long as it: built, nothing started. */
export interface Composed {
  app: ReturnType<typeof createApp>;
  /** In start order; `close()` stops them in reverse. */
  workers: Worker[];
  store: Store;
  policy: KeyPolicy;
  resolver: KeyResolver;
  /** Starts every worker, in order (once the port is open). */
  start(): void;
  /** Stops every worker in reverse whatever fails, then closes the store, last; rejects with the first error. */
  close(): Promise<void>;
}

/**
 * The app composed once, over an opened store: the boot (start.ts), the tests
 * and the benchmarks all build it here, so what they run is what users run.
 * Throws (the store still open: the caller owns it) when the GitHub token
 * source named cannot be read.
 */
export function compose(store: Store, options: ComposeOptions): Composed {
  const env = options.env ?? process.env;
  const github = resolveGithubToken({ token: options.githubToken, file: options.githubTokenFile }, env);
  const urls = upstreamUrls(options.accountType, { enterpriseUrl: options.enterpriseUrl, env });
  const token = github ? new CopilotToken(urls, github.token) : undefined;
  if (github) log.info(`GitHub token from ${github.source}; Copilot account type ${options.accountType}`);
  else log.warn("no GitHub token: /healthz works, proxy routes answer 503 until you run `copilot-api auth` (or pass --github-token-file / GH_TOKEN)");

  const policy: KeyPolicy = { authDisabled: options.noAuth, loopbackListener: isLoopback(options.host) };
  const resolver = new KeyResolver(store, policy);
  const lastUsed = new LastUsedTracker(store);
  const premium = new PremiumUsage(store);
  // Each committed batch keeps the keys' premium usage this month current for --premium-quota.
  const recorder = new EventRecorder(store, { onCommitted: (events) => premium.committed(events) });
  const storedResponses = new StoredResponses(store);
  const fileWatch = new StoreFileWatch(store);
  const copilot = token && new CopilotClient(urls, token);
  // Copilot's model catalog routes every protocol: loaded once the port is open, refreshed every 10 minutes.
  const catalog = copilot && new ModelCatalog(() => copilot.models(), { onError: (error) => log.warn(`model catalog: ${describeError(error)}`) });
  const app = createApp({
    store,
    recorder,
    keys: { policy, resolver, limiter: new RateLimiter(), lastUsed, premium },
    upstream: { copilot, catalog, bodyLimitBytes: options.bodyLimitBytes },
    responses: { stored: storedResponses, storing: !options.noStoreResponses },
    quota: options.quota ?? (github && new QuotaSource(urls, github.token)),
    now: options.now,
  });
  // Litestream (when replicating) stops after the recorder's final flush, so its final sync carries the last events.
  const replica = options.replica;
  const replication = replica && new ReplicationWorker(store, replica.target, { binary: replica.binary });
  if (replica) log.info(`replicating to ${replica.target.display} with ${replica.binary}`);
  // Started in this order once the port is open, stopped in reverse: the recorder
  // is the last to let go of the store but Litestream, after everything that could still produce an event.
  const workers: Worker[] = [
    ...(replication ? [replication] : []),
    recorder,
    // Written before the store closes: a completed response is never lost to a clean shutdown.
    storedResponses,
    lastUsed,
    new RetentionJob(store, { days: options.eventsRetentionDays }),
    new RetentionJob(store, { days: options.responsesRetentionDays, target: responsesRetention }),
    fileWatch,
    ...(token ? [token] : []),
    ...(catalog ? [catalog] : []),
  ];
  return {
    app,
    workers,
    store,
    policy,
    resolver,
    start: () => {
      for (const worker of workers) worker.start();
    },
    // Said once more at the end (fileWatch.check): a replaced file means the last events went nowhere.
    close: () =>
      stopAll(
        workers,
        () => fileWatch.check(),
        () => store.close(),
      ),
  };
}

/**
 * Opens the port for a composed app and starts its workers: says the key
 * policy first, then "listening on …" (what the tests and users wait for).
 */
export function serve(composed: Composed, listen: { port: number; host: string }): ReturnType<typeof Bun.serve> {
  announcePolicy(composed.policy, listen.host, composed.resolver.keyCounts());
  const server = Bun.serve({ port: listen.port, hostname: listen.host, fetch: composed.app.fetch, idleTimeout: 255 });
  log.success(`listening on http://${listen.host}:${server.port}`);
  composed.start();
  return server;
}
