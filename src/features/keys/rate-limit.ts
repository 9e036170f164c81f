/**
 * Per-key token buckets: a key with a limit of N requests per minute may burst
 * N, then gets one more every 60/N seconds. In memory, per server process.
 */
export class RateLimiter {
  private buckets = new Map<string, { tokens: number; at: number }>();

  /** Returns 0 when the request may pass, else the seconds to wait (for Retry-After). */
  take(keyId: string, perMinute: number, now = Date.now()): number {
    const refillPerMs = perMinute / 60_000;
    const bucket = this.buckets.get(keyId) ?? { tokens: perMinute, at: now };
    bucket.tokens = Math.min(perMinute, bucket.tokens + (now - bucket.at) * refillPerMs);
    bucket.at = now;
    this.buckets.set(keyId, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / refillPerMs / 1000));
  }
}
