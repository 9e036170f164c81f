const MINUTE_MS = 60_000;

/**
 * At most `limit` things a minute per name (a key, an address): fixed
 * one-minute windows on the monotonic clock, each opened by the first thing
 * after the last one closed. Bounded: past `maxNames` the oldest window is
 * forgotten (that name starts afresh), so a flood of names cannot grow memory.
 */
export class MinuteCaps {
  private readonly windows = new Map<string, { start: number; used: number }>();

  constructor(
    private readonly limit: number,
    private readonly maxNames = 10_000,
  ) {}

  /** True when `name` may have one more this minute (and counts it); false past the limit. */
  allow(name: string, now = performance.now()): boolean {
    let window = this.windows.get(name);
    if (!window || now - window.start >= MINUTE_MS || now < window.start) {
      if (window) this.windows.delete(name);
      else if (this.windows.size >= this.maxNames) this.windows.delete(this.windows.keys().next().value!);
      window = { start: now, used: 0 };
      this.windows.set(name, window);
    }
    if (window.used >= this.limit) return false;
    window.used += 1;
    return true;
  }
}
