import { AppError } from "~/lib/errors";
import { log } from "~/lib/log";
import { githubHeaders, type UpstreamUrls } from "./config";

interface TokenResponse {
  token: string;
  /** Unix seconds. */
  expires_at: number;
  /** Seconds until GitHub wants it refreshed. */
  refresh_in: number;
}

/** Refresh this long before GitHub's refresh_in, so no request ever carries an expiring token. */
const REFRESH_MARGIN_MS = 60_000;

/**
 * Holds the short-lived Copilot token exchanged from the GitHub token:
 * fetched once per expiry (concurrent callers share one exchange), refreshed
 * ahead of time by a timer, and dropped on demand after an upstream 401.
 * The token itself is never logged.
 */
export class CopilotToken {
  private current?: { token: string; refreshAt: number };
  private inflight?: Promise<string>;
  private timer?: ReturnType<typeof setTimeout>;
  /** How many exchanges were made (tests and diagnostics). */
  exchanges = 0;

  constructor(
    private readonly urls: UpstreamUrls,
    private readonly githubToken: string,
  ) {}

  async get(): Promise<string> {
    if (this.current && Date.now() < this.current.refreshAt) return this.current.token;
    this.inflight ??= this.exchange().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /** The upstream rejected the token: forget it so the next get() exchanges a new one. */
  invalidate(rejected: string): void {
    if (this.current?.token === rejected) this.current = undefined;
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private async exchange(): Promise<string> {
    this.exchanges += 1;
    let response: Response;
    try {
      response = await fetch(`${this.urls.githubApi}/copilot_internal/v2/token`, { headers: githubHeaders(this.githubToken) });
    } catch (error) {
      throw new AppError(`cannot reach ${this.urls.githubApi} for a Copilot token: ${(error as Error).message}`, "check your network connection");
    }
    if (!response.ok) {
      const hint =
        response.status === 401
          ? "the GitHub token is invalid or revoked: run `copilot-api auth` again"
          : response.status === 403 || response.status === 404
            ? "this GitHub account has no Copilot access, or the token lacks it: check your Copilot subscription"
            : "GitHub may be having trouble; try again shortly";
      throw new UpstreamAuthError(`GitHub refused the Copilot token exchange (HTTP ${response.status})`, hint, response.status);
    }
    const body = (await response.json()) as TokenResponse;
    const now = Date.now();
    const refreshIn = Math.max(body.refresh_in * 1000 - REFRESH_MARGIN_MS, 1000);
    const expiresIn = body.expires_at * 1000 - now - REFRESH_MARGIN_MS;
    const refreshAt = now + Math.max(Math.min(refreshIn, expiresIn), 1000);
    this.current = { token: body.token, refreshAt };
    this.schedule(refreshAt - now);
    return body.token;
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.get().catch((error) => log.warn(`Copilot token refresh failed: ${(error as Error).message}`));
    }, ms);
    // A pending refresh must never keep the process alive on shutdown.
    this.timer.unref?.();
  }
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
