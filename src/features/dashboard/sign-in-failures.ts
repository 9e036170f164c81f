import type { EventError } from "~/db/schema";
import { type EventRecorder, UNAUTHENTICATED_KEY_ID } from "~/features/events";
import { clip } from "~/lib/clip";
import { log } from "~/lib/log";
import { MinuteCaps } from "~/lib/minute-caps";

/** Failed sign-ins said in the log per minute at most; the rest are still recorded as events (capped) and counted. */
const LOGGED_PER_MINUTE = 10;

export interface SignInFailure {
  address: string;
  /** The key presented, when it is one of this server's (a client key, or a revoked or expired one); never the secret. */
  keyId?: string;
  status: 401 | 403 | 429;
  error: EventError;
  /** What went wrong, for the log. */
  why: string;
  at: number;
  latencyMs: number;
}

/**
 * Leaves a trace of every failed dashboard sign-in: a log line (address and
 * why, never the key), up to LOGGED_PER_MINUTE a minute then one line saying
 * the rest are not logged; and an event on route /dashboard/login through the
 * recorder, whose per-key cap bounds the rows and whose usage_hourly counts all.
 */
export class SignInFailures {
  private readonly logged = new MinuteCaps(LOGGED_PER_MINUTE, 1);
  private readonly overflowSaid = new MinuteCaps(1, 1);
  private notLogged = 0;

  constructor(private readonly recorder?: EventRecorder) {}

  note(failure: SignInFailure): void {
    if (this.logged.allow("sign-in")) {
      log.warn(`dashboard sign-in failed from ${clip(failure.address, 64)}: ${failure.why} (answered ${failure.status})`);
    } else {
      this.notLogged += 1;
      if (this.overflowSaid.allow("sign-in")) {
        log.warn(
          `dashboard sign-in: more than ${LOGGED_PER_MINUTE} failures a minute; the rest are not logged (${this.notLogged} so far), only recorded as events on /dashboard/login and counted in usage_hourly`,
        );
      }
    }
    this.recorder?.record({
      ts: failure.at,
      keyId: failure.keyId ?? UNAUTHENTICATED_KEY_ID,
      route: "/dashboard/login",
      status: failure.status,
      latencyMs: failure.latencyMs,
      error: failure.error,
    });
  }
}
