import { statSync } from "node:fs";
import { describeError } from "~/lib/errors";
import { log } from "~/lib/log";
import type { Worker } from "~/lib/worker";
import type { UpstreamUrls } from "./config";
import { CopilotClient } from "./copilot-client";
import { CopilotToken } from "./copilot-token";
import type { UpstreamChoice } from "./forwarder";
import type { DefaultTokenSource, WatchedTokenFile } from "./github-token";
import type { KeptTokens } from "./kept-token";
import { ModelCatalog } from "./model-catalog";

/** A server without a working token looks at its token file at most this often (a request may ask on every call). */
export const TOKEN_RECHECK_MS = 2000;

/** What the default token's requests go through: its Copilot token, client and catalog, built together. */
interface Built extends UpstreamChoice {
  githubToken: string;
  token: CopilotToken;
  copilot: CopilotClient;
}

/**
 * The default GitHub token's Copilot client and catalog: what a request uses when
 * its key is bound to no credential and there is no --pool.
 *
 * Signing in must not need a restart: a server started without a token, or whose
 * token GitHub refused, looks at the token's file again when a request comes (at
 * most every TOKEN_RECHECK_MS, and only then: a working token costs a request
 * nothing). When the file's mtime or size changed and it holds another token, the
 * Copilot token, client and catalog are built anew from it and the old ones stopped.
 * A token from --github-token or GH_TOKEN has no file, so it never changes.
 */
export class DefaultUpstream implements Worker {
  private built?: Built;
  private stamp?: string;
  private checkedAt = Number.NEGATIVE_INFINITY;
  private started = false;
  private readonly file?: WatchedTokenFile;

  constructor(
    private readonly urls: UpstreamUrls,
    githubToken: string | undefined,
    private readonly source: DefaultTokenSource,
    private readonly now: () => number = () => performance.now(),
    /** Where each GitHub token's Copilot token is kept between runs (beside the database); absent, every start exchanges. */
    private readonly kept?: KeptTokens,
  ) {
    this.file = source.file;
    this.stamp = this.file && stampOf(this.file.path);
    if (githubToken) this.built = this.build(githubToken);
  }

  /** The client and catalog for this request; without a working token, a token written to the file since is picked up first. */
  current(): UpstreamChoice {
    if (this.file && (!this.built || this.built.token.refused)) this.recheck(this.file);
    return this.built ?? {};
  }

  /** The windows of the client in use now (Copilot's session and weekly limits), for /admin/quota, /healthz and /metrics. */
  get windows(): CopilotClient["windows"] | undefined {
    return this.built?.copilot.windows;
  }

  /** The Copilot token in use now, for /metrics. */
  get token(): CopilotToken | undefined {
    return this.built?.token;
  }

  /** Starts the token and the catalog; again is nothing (the boot starts it before the other workers, see start.ts). */
  start(): void {
    if (this.started) return;
    this.started = true;
    if (this.built) startBuilt(this.built);
  }

  stop(): void {
    this.started = false;
    if (this.built) stopBuilt(this.built);
  }

  private recheck(file: WatchedTokenFile): void {
    const now = this.now();
    if (now - this.checkedAt < TOKEN_RECHECK_MS) return;
    this.checkedAt = now;
    const stamp = stampOf(file.path);
    if (stamp === this.stamp) return;
    this.stamp = stamp;
    let githubToken: string | undefined;
    try {
      githubToken = file.read();
    } catch (error) {
      log.warn(`GitHub token file changed but cannot be used: ${describeError(error)}`);
      return;
    }
    if (!githubToken || githubToken === this.built?.githubToken) return;
    const old = this.built;
    this.built = this.build(githubToken);
    if (old) stopBuilt(old);
    if (this.started) startBuilt(this.built);
    log.info(`GitHub token from ${file.path} ${old ? "changed" : "found"}: requests use it from now on (no restart needed)`);
  }

  private build(githubToken: string): Built {
    const token = new CopilotToken(this.urls, githubToken, { refusedHint: this.source.refusedHint, keeper: this.kept?.for(this.urls, githubToken) });
    const copilot = new CopilotClient(this.urls, token);
    // Copilot's model catalog routes every protocol: loaded once started, refreshed every 10 minutes.
    const catalog = new ModelCatalog(() => copilot.models(), { onError: (error) => log.warn(`model catalog: ${describeError(error)}`) });
    return { githubToken, token, copilot, catalog };
  }
}

const startBuilt = (built: Built) => {
  built.token.start();
  built.catalog?.start();
};

const stopBuilt = (built: Built) => {
  built.catalog?.stop();
  built.token.stop();
};

/** What tells a rewritten file from the one already read, without reading it: its mtime and size; absent, undefined. */
function stampOf(path: string): string | undefined {
  try {
    const stat = statSync(path);
    return `${stat.mtimeMs}:${stat.size}`;
  } catch {
    return undefined;
  }
}
