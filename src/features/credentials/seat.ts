import type { CredentialState } from "~/db/schema";
import { QuotaSource } from "~/features/quota";
import { describeError } from "~/lib/errors";
import { log } from "~/lib/log";
import type { UpstreamUrls } from "~/upstream/config";
import { CopilotClient, type ForwardOptions } from "~/upstream/copilot-client";
import { CopilotToken, GithubTokenRejected } from "~/upstream/copilot-token";
import type { Forwarder } from "~/upstream/forwarder";
import { ModelCatalog } from "~/upstream/model-catalog";
import type { CredentialView } from "./queries";

/** A Copilot refusal a seat remembers: what the windows feature (issue 20) will read and refine. */
export interface Refusal {
  status: number;
  /** Unix ms. */
  at: number;
}

/** How long a seat that answered 429 without Retry-After is passed over by the pool. */
const DEFAULT_BACKOFF_MS = 60_000;
/** A refused seat reads its credential's token again at most this often: a token replaced since (`auth --label`) is used without a restart. */
const RENEW_CHECK_MS = 2000;

/**
 * One credential's Copilot session: its own token exchange and refresh, its own
 * model catalog and quota counters. Built on first use, started then.
 * Its state (ok / refused / exhausted, the last refusal, until when it is
 * exhausted) is what the pool reads to skip it, and what `onState` persists.
 */
export class Seat implements Forwarder {
  token!: CopilotToken;
  client!: CopilotClient;
  catalog!: ModelCatalog;
  quota!: QuotaSource;
  state: CredentialState = "ok";
  lastRefusal: Refusal | null = null;
  /** Unix ms until which Copilot said this seat is rate limited (Retry-After); null when not. */
  exhaustedUntil: number | null = null;

  private started = false;
  private renewCheckedAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly credential: CredentialView,
    private githubToken: string,
    private readonly urls: UpstreamUrls,
    private readonly onState: (seat: Seat) => void = () => {},
    private readonly now: () => number = Date.now,
    /** The credential's token as the store holds it now (undefined once removed). */
    private readonly reread?: () => string | undefined,
  ) {
    this.build(githubToken);
  }

  /** Its Copilot session from this GitHub token: token exchange, client, catalog, quota. */
  private build(githubToken: string): void {
    this.githubToken = githubToken;
    this.token = new CopilotToken(this.urls, githubToken, { credential: this.credential.label });
    const client = new CopilotClient(this.urls, this.token);
    this.client = client;
    this.catalog = new ModelCatalog(() => client.models(), {
      onError: (error) => log.warn(`model catalog of credential ${this.credential.label}: ${describeError(error)}`),
    });
    this.quota = new QuotaSource(this.urls, githubToken);
  }

  /**
   * A seat GitHub refused reads its credential again (at most every RENEW_CHECK_MS): a token
   * replaced since with `auth --label` or `credentials add` is used from now on, no restart.
   */
  renewIfRefused(): void {
    if (!this.reread || !(this.state === "refused" || this.token.refused)) return;
    const now = this.now();
    if (now - this.renewCheckedAt < RENEW_CHECK_MS) return;
    this.renewCheckedAt = now;
    let githubToken: string | undefined;
    try {
      githubToken = this.reread();
    } catch (error) {
      log.warn(`credential ${this.credential.label}: its token could not be read again: ${describeError(error)}`);
      return;
    }
    if (!githubToken || githubToken === this.githubToken) return;
    const running = this.started;
    this.stop();
    this.build(githubToken);
    if (running) this.start();
    log.info(`credential ${this.credential.label}: its token was replaced; requests use it from now on (no restart needed)`);
    this.note("ok");
  }

  get windows() {
    return this.client.windows;
  }

  get id(): string {
    return this.credential.id;
  }

  /** Ready for requests: not refused, not inside a 429's back-off. */
  usable(): boolean {
    this.renewIfRefused();
    return this.state !== "refused" && (this.exhaustedUntil === null || this.now() >= this.exhaustedUntil);
  }

  async forward(options: ForwardOptions): Promise<Response> {
    let response: Response;
    try {
      response = await this.client.forward(options);
    } catch (error) {
      if (error instanceof GithubTokenRejected) this.note("refused", 401);
      throw error;
    }
    if (response.status === 429) {
      const seconds = Number(response.headers.get("retry-after"));
      this.exhaustedUntil = this.now() + (Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : DEFAULT_BACKOFF_MS);
      this.note("exhausted", 429);
    } else if (response.ok && this.state !== "ok") {
      this.exhaustedUntil = null;
      this.note("ok");
    }
    return response;
  }

  start(): void {
    this.started = true;
    this.token.start();
    this.catalog.start();
  }

  stop(): void {
    this.started = false;
    this.token.stop();
    this.catalog.stop();
  }

  private note(state: CredentialState, status?: number): void {
    if (status !== undefined) this.lastRefusal = { status, at: this.now() };
    if (state === this.state) return;
    this.state = state;
    this.onState(this);
  }
}
