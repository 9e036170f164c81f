import type { Clock } from "~/upstream/clock";

/**
 * A clock that moves only when told: advance() runs the timers that fall due,
 * in order, and waits for what each one started (a token refresh is a real
 * request to the fake upstream), so minutes pass without waiting for them.
 */
export class ManualClock implements Clock {
  private t = 1_000_000;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; run: () => unknown }>();
  /** Every delay a timer was set for, in order. */
  readonly delays: number[] = [];

  now(): number {
    return this.t;
  }

  setTimeout(run: () => unknown, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + ms, run });
    this.delays.push(ms);
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Delays from now of the timers still pending. */
  pending(): number[] {
    return [...this.timers.values()].map((timer) => timer.at - this.t).sort((a, b) => a - b);
  }

  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    for (;;) {
      const due = [...this.timers].filter(([, timer]) => timer.at <= target).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = due[1].at;
      await due[1].run();
    }
    this.t = target;
  }
}
