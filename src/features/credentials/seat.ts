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

/**
 * One credential's Copilot session: its own token exchange and refresh, its own
 * model catalog and quota counters. Built on first use, started then.
 * Its state (ok / refused / exhausted, the last refusal, until when it is
 * exhausted) is what the pool reads to skip it, and what `onState` persists.
 */
export class Seat implements Forwarder {
  readonly token: CopilotToken;
  readonly client: CopilotClient;
  readonly catalog: ModelCatalog;
  readonly quota: QuotaSource;
  state: CredentialState = "ok";
  lastRefusal: Refusal | null = null;
  /** Unix ms until which Copilot said this seat is rate limited (Retry-After); null when not. */
  exhaustedUntil: number | null = null;

  constructor(
    readonly credential: CredentialView,
    githubToken: string,
    urls: UpstreamUrls,
    private readonly onState: (seat: Seat) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {
    this.token = new CopilotToken(urls, githubToken, { credential: credential.label });
    this.client = new CopilotClient(urls, this.token);
    this.catalog = new ModelCatalog(() => this.client.models(), {
      onError: (error) => log.warn(`model catalog of credential ${credential.label}: ${describeError(error)}`),
    });
    this.quota = new QuotaSource(urls, githubToken);
  }

  get windows() {
    return this.client.windows;
  }

  get id(): string {
    return this.credential.id;
  }

  /** Ready for requests: not refused, not inside a 429's back-off. */
  usable(): boolean {
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
    this.token.start();
    this.catalog.start();
  }

  stop(): void {
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
