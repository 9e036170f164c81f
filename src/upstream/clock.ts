/**
 * Time as the upstream code sees it: a monotonic clock and timers, injectable so
 * tests can move time by minutes without waiting for it.
 *
 * `now()` is monotonic (milliseconds since an arbitrary origin), never the wall
 * clock: a machine whose clock is wrong must not change when tokens are refreshed
 * or how long a cached answer lives.
 */
export interface Clock {
  now(): number;
  /** `run` may return a promise (a manual clock in tests awaits it). */
  setTimeout(run: () => unknown, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (run, ms) => {
    const timer = setTimeout(run, ms);
    // A pending refresh or keep-alive must never keep the process alive on shutdown.
    timer.unref?.();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
