import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "~/app-env";
import type { AppDatabase, Store } from "~/db";
import { apiError } from "~/lib/api-error";
import { cmd } from "~/lib/command-name";
import { type Reservation, Reservations } from "~/lib/reservations";
import { premiumUsedBetween, premiumUsedByKey } from "./queries";
import { utcTime } from "./settings";

/** The calendar month (UTC) holding `ms`: its first millisecond and the next month's. */
export function monthOf(ms: number): { start: number; end: number } {
  const d = new Date(ms);
  return { start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) };
}

/** Each key's premium requests this calendar month (UTC), from the hourly totals; keys that used none are absent. For lists: `keys list`, the dashboard. */
export function premiumUsedThisMonth(db: AppDatabase, now = Date.now()): Map<string, number> {
  const month = monthOf(now);
  return premiumUsedByKey(db, month.start, month.end);
}

/** What a committed event tells a monthly limit: whose it was, when, and what it cost (premium requests, nano-AIU). */
export interface CommittedUse {
  keyId: string;
  ts: number;
  premiumRequests?: number | null;
  costNanoAiu?: number | null;
}

export interface PremiumUsageOptions {
  /** Wall clock (Unix ms): calendar months are dates. */
  now?: () => number;
  /** Monotonic clock for the cache's age. */
  monotonic?: () => number;
  /** How long a sum read from the database is trusted without this process's commits (another process may write). */
  ttlMs?: number;
}

/** A monthly limit checked for one request: what the key used, what is held, and the request's hold when it may go. */
export interface LimitCheck {
  used: number;
  reserved: number;
  hold?: Reservation;
}

/** A monthly limit several gateways share (PostgreSQL): the check and its hold are one round trip (./pg.ts). */
export interface SharedLimit {
  now(): number;
  take(keyId: string, limit: number, amount: number, now: number): Promise<LimitCheck>;
}

/**
 * What each key used this calendar month (UTC) of one monthly limit, as usage_hourly
 * counts it. A key's sum is read from the database once, then kept current
 * by this process's own commits (`committed`, called by the event recorder),
 * and read again after `ttlMs` in case another process recorded some, or when
 * the month turns.
 */
export class MonthlyUse {
  /** What each key's requests in flight hold, until their events are committed. */
  readonly inFlight = new Reservations();
  private cache = new Map<string, { month: number; used: number; readAt: number }>();
  readonly now: () => number;
  private readonly monotonic: () => number;
  private readonly ttlMs: number;

  constructor(
    private readonly store: Store,
    private readonly usedBetween: (db: AppDatabase, keyId: string, from: number, to: number) => number,
    private readonly costOf: (event: CommittedUse) => number | null | undefined,
    options: PremiumUsageOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.monotonic = options.monotonic ?? (() => performance.now());
    this.ttlMs = options.ttlMs ?? 5_000;
  }

  /** Premium requests the key used in the month holding `at`. */
  used(keyId: string, at = this.now()): number {
    const month = monthOf(at);
    const cached = this.cache.get(keyId);
    const t = this.monotonic();
    if (cached && cached.month === month.start && t - cached.readAt < this.ttlMs) return cached.used;
    const used = this.usedBetween(this.store.db, keyId, month.start, month.end);
    this.cache.set(keyId, { month: month.start, used, readAt: t });
    return used;
  }

  /**
   * The key's use and what its requests in flight hold; with a hold of `amount` (until its
   * event is committed) when the two leave room under `limit`.
   */
  take(keyId: string, limit: number, amount: number, now = this.now()): LimitCheck {
    const used = this.used(keyId, now);
    const reserved = this.inFlight.reserved(keyId);
    return used + reserved < limit ? { used, reserved, hold: this.inFlight.reserve(keyId, amount) } : { used, reserved };
  }

  /** Events just committed to usage_hourly: their cost is added to the cached sums. */
  committed(events: readonly CommittedUse[]): void {
    for (const event of events) {
      const cost = this.costOf(event);
      if (!cost) continue;
      const cached = this.cache.get(event.keyId);
      if (cached && cached.month === monthOf(event.ts).start) cached.used += cost;
    }
  }
}

/** Premium requests each key used this calendar month (UTC): what --premium-quota reads. */
export class PremiumUsage extends MonthlyUse {
  constructor(store: Store, options: PremiumUsageOptions = {}) {
    super(store, premiumUsedBetween, (event) => event.premiumRequests, options);
  }
}

/** Premium requests are fractional (multipliers like 0.33): said to two decimals. */
const amount = (n: number) => String(Math.round(n * 100) / 100);

/**
 * What a request holds of its key's quota from the moment it passes until its
 * cost is known: one premium request, the most a single request costs unless
 * its model's multiplier is larger (then it is resized to that before sending).
 */
const UNKNOWN_COST = 1;

/**
 * 429 once a key with a --premium-quota has used that many premium requests
 * this calendar month (UTC), until the first of next month. Requests in flight
 * count too: each one that passes holds its expected cost (UNKNOWN_COST, then
 * its model's multiplier for a person's request, 0 for an agent turn) until
 * its event is committed, so concurrent requests pass the quota by at most
 * the last one's cost. Refused only because of what is in flight: 429 with a
 * short Retry-After, since the holds are released within the requests' time.
 */
export function premiumQuota(usage: PremiumUsage | SharedLimit): MiddlewareHandler<AppEnv> {
  return async function premiumQuota(c, next) {
    const key = c.get("apiKey");
    if (key.premiumQuota === null) return next();
    const now = usage.now();
    // Shared across gateways (PostgreSQL), the check is a round trip; on SQLite it stays synchronous.
    const taken = usage.take(key.id, key.premiumQuota, UNKNOWN_COST, now);
    const { used, reserved, hold } = taken instanceof Promise ? await taken : taken;
    if (!hold) {
      c.get("event").error = "quota_exceeded";
      if (used < key.premiumQuota) {
        c.header("retry-after", "1");
        return apiError(c, 429, {
          message: `premium request quota of key ${key.id} is taken by requests in flight: ${amount(used)} used this month (UTC) and ${amount(reserved)} held by requests still running, of ${key.premiumQuota}; retry when they finish. To raise it: \`${cmd(`keys update ${key.id} --premium-quota N`)}\``,
          type: "rate_limit_error",
          code: "premium_quota_exceeded",
        });
      }
      const resets = monthOf(now).end;
      c.header("retry-after", String(Math.ceil((resets - now) / 1000)));
      // Retrying within seconds cannot help: tell SDKs not to.
      c.header("x-should-retry", "false");
      return apiError(c, 429, {
        message: `premium request quota of key ${key.id} reached: ${amount(used)} of ${key.premiumQuota} premium requests used this month (UTC); it resets at ${utcTime(resets)}. To raise it: \`${cmd(`keys update ${key.id} --premium-quota N`)}\``,
        type: "rate_limit_error",
        code: "premium_quota_exceeded",
      });
    }
    c.get("event").reservation = hold;
    await next();
  };
}
