import { cmd } from "~/lib/command-name";
import { AppError, describeError, errorMessage } from "~/lib/errors";
import { log } from "~/lib/log";
import type { Worker } from "~/lib/worker";
import { type Clock, systemClock } from "./clock";
import { type ClientIdentity, clientIdentity, githubHeaders, parseEndpointsApi, type UpstreamUrls } from "./config";
import type { TokenKeeper } from "./kept-token";

interface TokenResponse {
  token?: unknown;
  /** Unix seconds, by GitHub's clock. */
  expires_at?: unknown;
  /** Seconds until GitHub wants it refreshed. */
  refresh_in?: unknown;
  endpoints?: { api?: unknown };
}

/** A Copilot token and the API base URL it was issued for (endpoints.api), when GitHub named one. */
export interface CopilotSession {
  token: string;
  apiUrl?: string;
}

/** Never refresh more often than this, whatever refresh_in says. */
export const REFRESH_FLOOR_MS = 60_000;
/** Failed refreshes are retried after 1, 2, 4, 8 then every 16 minutes. */
export const REFRESH_BACKOFF_CAP_MS = 16 * 60_000;
/** A GitHub token that GitHub refused is answered at once for this long, without asking GitHub again. */
export const REJECTION_MEMORY_MS = 60_000;
/** No token is trusted for longer than this, whatever the answer implies. */
const MAX_LIFETIME_MS = 24 * 3_600_000;

interface Held extends CopilotSession {
  /** Monotonic times (Clock.now). */
  refreshAt: number;
  expiresAt: number;
}

export interface CopilotTokenOptions {
  clock?: Clock;
  identity?: ClientIdentity;
  /** The stored credential this token belongs to (its label), for errors that say which seat and what to do. */
  credential?: string;
  /** What to do when GitHub refuses the token, when the default remedy does not fit (a server that picks up a new token). */
  refusedHint?: string;
  /** Keeps the token between runs (sealed, beside the database): a restart within its lifetime skips the exchange. */
  keeper?: TokenKeeper;
  /** Wall clock (Unix ms), only to carry a kept token's times from one run to the next. */
  wallNow?: () => number;
}

/**
 * Holds the short-lived Copilot token exchanged from the GitHub token.
 *
 * Timing never reads the local wall clock (a clock 30 minutes fast used to mean
 * one exchange per second): the refresh is scheduled `refresh_in` seconds after
 * the exchange was sent (at least a minute), on a monotonic clock. The token's
 * lifetime is GitHub's `expires_at` minus GitHub's own `Date` header, both
 * server-side, so local skew cancels out; when that cannot be read, the lifetime
 * is taken as `refresh_in` (GitHub always asks for a refresh before expiry, so
 * this errs on the short side). Both are counted from when the exchange was sent.
 *
 * A failed refresh is retried with exponential backoff while requests keep using
 * the current token until that lifetime is over; only then does a request wait
 * for an exchange of its own. Concurrent callers share one exchange. A GitHub
 * token that GitHub refuses (401) is remembered for a minute and answered at once.
 * With a keeper, each token is kept sealed between runs and a restart starts from
 * it while it has minutes left. The tokens are never logged.
 */
export class CopilotToken implements Worker {
  private held?: Held;
  private inflight?: Promise<CopilotSession>;
  private timer?: unknown;
  private failures = 0;
  /** Failed refreshes since start (never reset, unlike `failures`): for /metrics. */
  refreshFailures = 0;
  private rejected?: { error: GithubTokenRejected; until: number };
  private stopped = false;
  private readonly clock: Clock;
  private readonly identity: ClientIdentity;
  private readonly credential?: string;
  private readonly refusedHint?: string;
  private readonly keeper?: TokenKeeper;
  private readonly wallNow: () => number;
  /** The kept token is looked at once, before the first exchange. */
  private keptLooked = false;

  constructor(
    private readonly urls: UpstreamUrls,
    private readonly githubToken: string,
    options: CopilotTokenOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.identity = options.identity ?? clientIdentity();
    this.credential = options.credential;
    this.refusedHint = options.refusedHint;
    this.keeper = options.keeper;
    this.wallNow = options.wallNow ?? Date.now;
  }

  /** GitHub refused the GitHub token at the last exchange (it is never asked again for it before REJECTION_MEMORY_MS). */
  get refused(): boolean {
    return this.rejected !== undefined;
  }

  async get(): Promise<string> {
    return (await this.session()).token;
  }

  /** The current token while it lives; otherwise one exchange, shared by every caller waiting for it. */
  session(): Promise<CopilotSession> {
    if (!this.keptLooked) this.takeKept();
    const held = this.held;
    if (held && this.clock.now() < held.expiresAt) return Promise.resolve({ token: held.token, apiUrl: held.apiUrl });
    return this.exchangeOnce();
  }

  /** The upstream rejected the token: forget it so the next session() exchanges a new one. */
  invalidate(rejected: string): void {
    if (this.held?.token === rejected) this.held = undefined;
  }

  /** Exchanges now, so the first request does not wait; a failure is reported, not fatal (requests retry it). */
  start(): void {
    this.session().catch((error) => log.warn(`Copilot token: ${describeError(error)}`));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** A token kept by an earlier run, while it lives: held as if just exchanged, its refresh due when that run planned it. */
  private takeKept(): void {
    this.keptLooked = true;
    const kept = this.keeper?.load();
    if (!kept) return;
    const now = this.clock.now();
    const wall = this.wallNow();
    this.held = { token: kept.token, apiUrl: kept.apiUrl, expiresAt: now + (kept.expiresAt - wall), refreshAt: now + Math.max(kept.refreshAt - wall, 0) };
    this.schedule(this.held.refreshAt - now);
  }

  /** Hands the token to the keeper with its times on the wall clock (the next run's monotonic clock starts elsewhere). */
  private keep(held: Held): void {
    if (!this.keeper) return;
    const offset = this.wallNow() - this.clock.now();
    this.keeper.save({ token: held.token, apiUrl: held.apiUrl, expiresAt: held.expiresAt + offset, refreshAt: held.refreshAt + offset });
  }

  private exchangeOnce(): Promise<CopilotSession> {
    const rejected = this.rejected;
    if (rejected && this.clock.now() < rejected.until) return Promise.reject(rejected.error);
    this.inflight ??= this.exchange().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async exchange(): Promise<CopilotSession> {
    const sentAt = this.clock.now();
    let response: Response;
    try {
      response = await fetch(`${this.urls.githubApi}/copilot_internal/v2/token`, { headers: githubHeaders(this.githubToken, this.identity) });
    } catch (error) {
      throw new AppError(`cannot reach ${this.urls.githubApi} for a Copilot token: ${errorMessage(error)}`, "check your network connection");
    }
    if (!response.ok) {
      const error = await githubRefusal(response, this.urls.githubApi, "the Copilot token exchange", this.credential, this.refusedHint);
      if (error instanceof GithubTokenRejected) this.rejected = { error, until: this.clock.now() + REJECTION_MEMORY_MS };
      throw error;
    }
    let body: TokenResponse;
    try {
      body = (await response.json()) as TokenResponse;
    } catch {
      throw new AppError("GitHub's Copilot token answer is not JSON", "GitHub may be having trouble; try again shortly");
    }
    if (typeof body?.token !== "string" || !body.token || typeof body.refresh_in !== "number" || !(body.refresh_in > 0)) {
      throw new AppError("GitHub's Copilot token answer lacks token or refresh_in", `GitHub may have changed the token exchange; run \`${cmd("doctor")}\``);
    }
    const refreshMs = Math.max(body.refresh_in * 1000, REFRESH_FLOOR_MS);
    const held: Held = {
      token: body.token,
      apiUrl: parseEndpointsApi(body.endpoints?.api),
      refreshAt: sentAt + refreshMs,
      expiresAt: sentAt + tokenLifetimeMs(body, response.headers.get("date")),
    };
    this.held = held;
    this.rejected = undefined;
    this.failures = 0;
    this.keep(held);
    this.schedule(held.refreshAt - this.clock.now());
    return { token: held.token, apiUrl: held.apiUrl };
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => this.refresh(), Math.max(ms, 0));
  }

  private async refresh(): Promise<void> {
    this.timer = undefined;
    try {
      await this.exchangeOnce();
    } catch (error) {
      this.failures += 1;
      this.refreshFailures += 1;
      const delay = Math.min(REFRESH_FLOOR_MS * 2 ** (this.failures - 1), REFRESH_BACKOFF_CAP_MS);
      const left = this.held ? Math.max(0, Math.round((this.held.expiresAt - this.clock.now()) / 1000)) : 0;
      log.warn(
        `Copilot token refresh failed: ${describeError(error)}; retrying in ${delay / 1000}s` +
          (left > 0 ? `; requests keep using the current token for up to ${left}s` : ""),
      );
      this.schedule(delay);
    }
  }
}

/**
 * How long the token lives, without the local wall clock: GitHub's expires_at
 * minus GitHub's Date header; refresh_in when that is missing or implausible.
 */
export function tokenLifetimeMs(body: { expires_at?: unknown; refresh_in?: unknown }, date: string | null): number {
  const refreshMs = typeof body.refresh_in === "number" ? body.refresh_in * 1000 : 0;
  const serverNow = date ? Date.parse(date) : Number.NaN;
  if (typeof body.expires_at === "number" && Number.isFinite(serverNow)) {
    const lifetime = body.expires_at * 1000 - serverNow;
    if (lifetime > 0 && lifetime <= MAX_LIFETIME_MS) return lifetime;
  }
  return Math.min(refreshMs, MAX_LIFETIME_MS);
}

export class UpstreamAuthError extends AppError {
  constructor(
    message: string,
    hint: string,
    readonly status: number,
  ) {
    super(message, hint);
  }
}

/**
 * GitHub answered 401 to the GitHub token: it is invalid, expired or revoked.
 * Retrying cannot help, so the proxy answers 503 with `x-should-retry: false`.
 */
export class GithubTokenRejected extends UpstreamAuthError {
  /** `credential`: the stored credential's label, when the token is one (then the remedy is to re-add it). */
  constructor(
    githubApi: string,
    readonly credential?: string,
    hint?: string,
  ) {
    super(
      credential
        ? `GitHub (${githubApi}) refused the token of credential ${credential}: it is invalid, expired or revoked`
        : `GitHub (${githubApi}) refused the GitHub token: it is invalid, expired or revoked`,
      hint ??
        (credential
          ? `add it again with \`${cmd(`auth --label ${credential}`)}\` (or \`${cmd(`credentials add --label ${credential} --token-file PATH`)}\`): that replaces its token and its keys stay bound; a running server picks it up on its next request, no restart needed`
          : `run \`${cmd("auth")}\` again (or pass a valid --github-token-file / GH_TOKEN)`),
      401,
    );
  }
}

/**
 * GitHub's API refused a request made with the GitHub token (`what`, e.g. "the
 * Copilot quota request"): 401 means the token itself is bad; 403/404 that the
 * account has no Copilot; anything else is GitHub's trouble. The body is discarded.
 */
export async function githubRefusal(
  response: Response,
  githubApi: string,
  what: string,
  credential?: string,
  refusedHint?: string,
): Promise<UpstreamAuthError> {
  await response.body?.cancel();
  if (response.status === 401) return new GithubTokenRejected(githubApi, credential, refusedHint);
  const hint =
    response.status === 403 || response.status === 404
      ? "this GitHub account has no Copilot access, or the token lacks it: check your Copilot subscription"
      : "GitHub may be having trouble; try again shortly";
  return new UpstreamAuthError(`GitHub refused ${what} (HTTP ${response.status})`, hint, response.status);
}
