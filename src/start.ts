import { dirname } from "node:path";
import { openStore } from "~/db";
import { removeStaleBackupTemps } from "~/db/backup";
import { StoreFileWatch } from "~/db/watch";
import { AppError, errorMessage } from "~/lib/errors";
import { log } from "~/lib/log";
import { dbPath } from "~/lib/paths";
import { createApp } from "~/server";
import { EventRecorder } from "~/features/events/recorder";
import { RetentionJob } from "~/features/events/retention";
import { LastUsedTracker } from "~/features/keys/last-used";
import { RateLimiter } from "~/features/keys/rate-limit";
import type { KeyCounts } from "~/features/keys/queries";
import { KeyResolver } from "~/features/keys/resolver";
import { isLoopback } from "~/lib/net";
import { upstreamUrls, type AccountType } from "~/upstream/config";
import { CopilotClient } from "~/upstream/copilot-client";
import { CopilotToken } from "~/upstream/copilot-token";
import { QuotaSource } from "~/features/quota/quota";
import { resolveGithubToken } from "~/upstream/github-token";

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
}

/**
 * The one place that orders the boot: paths, open, migrate, upstream, app, and
 * only then listen. Anything that throws before `Bun.serve` means no port is
 * ever bound.
 */
export async function start(options: StartOptions): Promise<void> {
  const path = dbPath(options.dbPath);
  log.info(`database ${path}`);
  const store = openStore({ path });
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
  if (github && token) {
    log.info(`GitHub token from ${github.source}; Copilot account type ${options.accountType}`);
    // Exchange now so the first request does not wait; a failure is reported, not fatal.
    token.get().catch((error) => log.warn(`Copilot token: ${errorMessage(error)}${error instanceof AppError && error.hint ? ` (${error.hint})` : ""}`));
  } else {
    log.warn("no GitHub token: /healthz works, proxy routes answer 503 until you run `copilot-api auth` (or pass --github-token-file / GH_TOKEN)");
  }

  const loopbackListener = isLoopback(options.host);
  const resolver = new KeyResolver(store, { authDisabled: options.noAuth, openWhenNoKeys: loopbackListener });
  const lastUsed = new LastUsedTracker(store);
  const recorder = new EventRecorder(store);
  const retention = new RetentionJob(store, { days: options.eventsRetentionDays });
  const fileWatch = new StoreFileWatch(store);

  const app = createApp({
    store,
    proxy: { copilot: token && new CopilotClient(urls, token), bodyLimitBytes: options.bodyLimitBytes },
    keys: { resolver, limiter: new RateLimiter(), lastUsed },
    guards: { loopbackListener, authDisabled: options.noAuth },
    recorder,
    quota: github && new QuotaSource(urls, github.token),
  });
  /** Everything that holds the store, in the order it must let go of it. */
  const release = async () => {
    token?.stop();
    fileWatch.stop();
    await retention.stop();
    lastUsed.stop();
    recorder.stop();
    // Said once more at the end: a replaced file means the last events went nowhere.
    fileWatch.check();
    store.close();
  };

  // Handlers go in before the port opens: a signal's default action would kill
  // the process outright, skipping the final event flush and WAL checkpoint.
  let server: ReturnType<typeof Bun.serve> | undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: stopping`);
    // Let in-flight requests finish, but never hang shutdown on an idle keep-alive client.
    if (server) await Promise.race([server.stop(), Bun.sleep(5000).then(() => server?.stop(true))]);
    // In-flight requests have finished, so every event is in the recorder: flush it, then close.
    await release();
    log.info("stopped cleanly");
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));

  try {
    checkAuthPolicy(options, resolver.keyCounts());
    server = Bun.serve({ port: options.port, hostname: options.host, fetch: app.fetch, idleTimeout: 255 });
  } catch (error) {
    await release();
    if (error instanceof AppError) throw error;
    throw new AppError(`cannot listen on ${options.host}:${options.port}: ${errorMessage(error)}`, "pick another --port or --host");
  }
  log.success(`listening on http://${options.host}:${server.port}`);
  retention.start();
  fileWatch.start();
}

/**
 * Who may call the API, said at startup the way the resolver will apply it;
 * refuses to expose a server without an active key to the network.
 */
function checkAuthPolicy(options: StartOptions, keys: KeyCounts): void {
  const loopback = isLoopback(options.host);
  if (options.noAuth) {
    log.warn(
      `SECURITY: --no-auth: API keys are not checked (a key sent is ignored; requests are recorded as __noauth__); anyone who can reach this port can use your Copilot quota${
        loopback ? ". Requests must name localhost, 127.0.0.1 or [::1] in Host, and cross-site web pages are refused" : ". Web pages from other sites are refused"
      }`,
    );
    return;
  }
  if (keys.active > 0) {
    log.info(`${keys.active} active API key(s): every request needs one`);
    return;
  }
  if (!loopback) {
    throw new AppError(
      `refusing to listen on ${options.host} with no active API key${keys.total > 0 ? ` (all ${keys.total} revoked)` : ""}: anyone on the network could use your Copilot quota`,
      "create a key with `copilot-api keys create`, listen on 127.0.0.1, or pass --no-auth if this network is trusted",
    );
  }
  if (keys.total > 0) {
    log.warn(`no active API key (all ${keys.total} revoked): every request is refused with 401 until you create one with \`copilot-api keys create\``);
    return;
  }
  log.warn(
    "no API key yet: requests from this machine pass without one (as __noauth__), if addressed to localhost and not from another site's web page; once you create a key with `copilot-api keys create`, every request needs one",
  );
}
