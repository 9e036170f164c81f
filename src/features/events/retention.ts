import { isBusy, type Store } from "~/db";
import { errorMessage } from "~/lib/errors";
import { log } from "~/lib/log";
import { PeriodicPasses, type Worker } from "~/lib/worker";
import { deleteOldEvents, deleteOldHours } from "./queries";

const DAY_MS = 86_400_000;
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** What a retention job deletes: events by default; other features bring their own (stored responses). */
export interface RetentionTarget {
  /** What is deleted, as the log says it: "events", "stored responses". */
  what: string;
  /** Deletes up to `limit` rows older than `cutoff` (Unix ms), oldest first; returns how many went. */
  deleteBatch(store: Store, cutoff: number, limit: number): number;
  /** Runs once after a pass (events: their hourly totals). */
  afterPass?(store: Store, cutoff: number): void;
}

const EVENTS: RetentionTarget = { what: "events", deleteBatch: deleteOldEvents, afterPass: deleteOldHours };

export interface RetentionOptions {
  /** Keep this many days; 0 keeps everything. */
  days: number;
  /** What to delete; events by default. */
  target?: RetentionTarget;
  /** Rows in the first DELETE; later batches are sized to take about `batchMs`. */
  batchSize?: number;
  /** Time one batch may hold the event loop. */
  batchMs?: number;
  everyMs?: number;
  /** Told after a pass that deleted rows (issue 23: the audit log records retention runs). */
  onPurged?: (run: { what: string; deleted: number; cutoff: number; days: number }) => void;
}

/**
 * Deletes rows older than the retention window (events, or another target's),
 * every hour, in small batches with the event loop free between them, so
 * purging millions of rows never stalls requests.
 */
export class RetentionJob implements Worker {
  private stopped = false;
  private readonly passes: PeriodicPasses<number>;
  private readonly target: RetentionTarget;

  constructor(
    private readonly store: Store,
    private readonly options: RetentionOptions,
  ) {
    this.target = options.target ?? EVENTS;
    this.passes = new PeriodicPasses((now) => this.purgePass(now), {
      everyMs: options.everyMs ?? 3_600_000,
      failed: (error) => log.warn(`retention of ${this.target.what} failed: ${errorMessage(error)}`),
    });
  }

  start(): void {
    if (this.options.days > 0) this.passes.start();
  }

  /** One pass; returns how many rows it deleted. */
  purge(now = Date.now()): Promise<number> {
    return this.passes.once(now);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.passes.stop();
  }

  private async purgePass(now: number): Promise<number> {
    if (this.options.days <= 0) return 0;
    const cutoff = now - this.options.days * DAY_MS;
    const budgetMs = this.options.batchMs ?? 4;
    let batchSize = this.options.batchSize ?? 500;
    let total = 0;
    while (!this.stopped) {
      const started = performance.now();
      let deleted: number;
      try {
        deleted = this.store.backgroundWrite(() => this.target.deleteBatch(this.store, cutoff, batchSize));
      } catch (error) {
        if (!isBusy(error)) throw error;
        await Bun.sleep(50); // another writer has the lock: never wait for it on the event loop
        continue;
      }
      total += deleted;
      if (deleted < batchSize) break;
      // Disks and row sizes differ: aim each batch at the time budget, not at a fixed count.
      const took = Math.max(performance.now() - started, 0.1);
      batchSize = Math.round(Math.min(Math.max((batchSize * budgetMs) / took, 50), 20_000));
      await yieldToEventLoop();
    }
    this.target.afterPass?.(this.store, cutoff);
    if (total > 0) {
      log.info(`retention: deleted ${total} ${this.target.what} older than ${this.options.days} days`);
      this.options.onPurged?.({ what: this.target.what, deleted: total, cutoff, days: this.options.days });
    }
    return total;
  }
}
