import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "~/app-env";
import { apiError } from "~/lib/api-error";

/** Milliseconds from an arbitrary start, never going backwards. */
export type MonotonicClock = () => number;

/**
 * Per-key token buckets: a key with a limit of N requests per minute may burst
 * N, then gets one more every 60/N seconds. In memory, per server process.
 * Time comes from a monotonic clock, so a wall-clock step (NTP, a suspended
 * laptop, a manual change) neither empties a bucket nor refills it.
 */
export class RateLimiter {
  private buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly clock: MonotonicClock = () => performance.now()) {}

  /** Returns 0 when the request may pass, else the seconds to wait (for Retry-After). */
  take(keyId: string, perMinute: number): number {
    const now = this.clock();
    const refillPerMs = perMinute / 60_000;
    const bucket = this.buckets.get(keyId) ?? { tokens: perMinute, at: now };
    // Time never runs backwards here, even if an injected clock did.
    bucket.tokens = Math.min(perMinute, bucket.tokens + Math.max(0, now - bucket.at) * refillPerMs);
    bucket.at = now;
    this.buckets.set(keyId, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return secondsToNextToken(bucket.tokens, perMinute);
  }
}

/** Seconds to wait for the next token of a bucket holding `tokens` that refills `perMinute` a minute (for Retry-After). */
export const secondsToNextToken = (tokens: number, perMinute: number) => Math.max(1, Math.ceil((1 - tokens) / (perMinute / 60_000) / 1000));

/** Token buckets several gateways share (PostgreSQL, ./pg.ts): the same answer, one round trip away. */
export interface SharedRateLimiter {
  take(keyId: string, perMinute: number): Promise<number>;
}

/** 429 with Retry-After once a key with a --rate-limit has used its requests for the minute. */
export function rateLimit(limiter: RateLimiter | SharedRateLimiter): MiddlewareHandler<AppEnv> {
  return async function rateLimit(c, next) {
    const key = c.get("apiKey");
    // On SQLite the bucket is in memory and the check synchronous; shared, it is a round trip.
    const taken = key.rateLimit === null ? 0 : limiter.take(key.id, key.rateLimit);
    const wait = typeof taken === "number" ? taken : await taken;
    if (wait > 0) {
      c.header("retry-after", String(wait));
      return apiError(c, 429, {
        message: `rate limit of ${key.rateLimit} requests per minute reached for key ${key.id}; retry in ${wait}s`,
        type: "rate_limit_error",
        code: "rate_limit_exceeded",
      });
    }
    await next();
  };
}
