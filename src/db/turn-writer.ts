import { errorMessage } from "~/lib/errors";
import { log } from "~/lib/log";
import { isBusy } from "./busy";

export interface TurnWriterOptions<T> {
  /** Writes one batch in one transaction (a Store.backgroundWrite: busy timeout 0, except in stop()). */
  write: (batch: T[]) => void;
  /** Items per transaction. */
  batchSize: number;
  /**
   * When a turn's write runs: "immediate" (setImmediate, the end of this event-loop
   * turn) or "timer" (setTimeout 0, after what this turn's check phase sends first).
   */
  after?: "immediate" | "timer";
  /** The warning for dropped items (logged at most every 10 s): `dropped` counts all so far. */
  warning: (dropped: number, reason: string) => string;
  /** Told each batch once it is committed. */
  onWritten?: (batch: readonly T[]) => void;
  /** Told each batch that could not be written (already counted as dropped). */
  onFailed?: (batch: readonly T[]) => void;
}

/** After SQLITE_BUSY (another process holds the write lock), the write is tried again this much later. */
const BUSY_RETRY_MS = 10;
const WARN_EVERY_MS = 10_000;
const RESOLVED = Promise.resolve();

/**
 * Writes off the request path, one transaction per turn: add() appends to a queue and,
 * for the first item of a batch, schedules the write for the end of the current
 * event-loop turn, so everything added in one turn goes into one transaction (in
 * batches of `batchSize`). The write never waits for the lock: the busy timeout is 0
 * around it, and SQLITE_BUSY (another process writing) retries 10 ms later. Any other
 * error drops the batch, counted, remembered and warned about (at most every 10 s).
 * stop() writes everything left, waiting for the lock; an add() after it is written at once.
 */
export class TurnWriter<T> {
  protected queue: T[] = [];
  /** A write is scheduled: for this turn, or a retry timer after SQLITE_BUSY. */
  protected scheduled = false;
  private retrying = false;
  private retryTimer?: ReturnType<typeof setTimeout>;
  private waiting?: PromiseWithResolvers<void>;
  private lastWarning = Number.NEGATIVE_INFINITY;
  protected readonly options: TurnWriterOptions<T>;
  private readonly scheduleTurn: () => void;
  stopped = false;
  written = 0;
  dropped = 0;
  /** performance.now() of the last drop, and why. */
  lastDropAt = Number.NEGATIVE_INFINITY;
  lastDropReason = "";
  /** Set when the last write failed (not merely busy); cleared by the next one that succeeds. */
  lastWriteError: string | undefined;

  constructor(
    private readonly store: { backgroundWrite<R>(fn: () => R): R },
    options: TurnWriterOptions<T>,
  ) {
    this.options = options;
    this.scheduleTurn = options.after === "timer" ? () => setTimeout(this.flushFromLoop, 0) : () => setImmediate(this.flushFromLoop);
  }

  /** Items waiting for their write. */
  get size(): number {
    return this.queue.length;
  }

  add(item: T): void {
    this.queue.push(item);
    if (this.stopped) {
      // A straggler after shutdown began: written now rather than lost.
      this.flush(true);
    } else if (!this.scheduled) {
      this.scheduled = true;
      this.scheduleTurn();
    }
  }

  /** Takes an item out of the queue before its write (by identity); whether it was there. */
  remove(item: T): boolean {
    const at = this.queue.indexOf(item);
    if (at >= 0) this.queue.splice(at, 1);
    return at >= 0;
  }

  /**
   * Settles once what is queued now has been written, dropped, or left for a retry
   * because another process holds the lock (a caller never waits for that).
   * Resolves at once when nothing is scheduled.
   */
  settled(): Promise<void> {
    if (!this.scheduled || this.retrying || this.stopped) return RESOLVED;
    this.waiting ??= Promise.withResolvers<void>();
    return this.waiting.promise;
  }

  /** Counts items dropped (never written) and warns, at most every 10 s. */
  drop(count: number, reason: string): void {
    this.dropped += count;
    const now = performance.now();
    this.lastDropAt = now;
    this.lastDropReason = reason;
    if (now - this.lastWarning < WARN_EVERY_MS) return;
    this.lastWarning = now;
    log.warn(this.options.warning(this.dropped, reason));
  }

  /** Writes what is queued, a batch per transaction. `waitForLock` is for shutdown only. */
  flush(waitForLock = false): void {
    this.scheduled = false;
    this.retrying = false;
    clearTimeout(this.retryTimer);
    const { write, batchSize, onWritten, onFailed } = this.options;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.length <= batchSize ? this.queue : this.queue.slice(0, batchSize);
        try {
          if (waitForLock) write(batch);
          else this.store.backgroundWrite(() => write(batch));
        } catch (error) {
          if (!waitForLock && isBusy(error)) {
            // Another writer holds the lock: try again shortly, never wait for it on the event loop.
            this.scheduled = this.retrying = true;
            this.retryTimer = setTimeout(this.flushFromLoop, BUSY_RETRY_MS);
            return;
          }
          this.take(batch.length);
          this.lastWriteError = errorMessage(error);
          this.drop(batch.length, this.lastWriteError);
          onFailed?.(batch);
          continue;
        }
        this.take(batch.length);
        this.lastWriteError = undefined;
        this.written += batch.length;
        onWritten?.(batch);
      }
    } finally {
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting?.resolve();
    }
  }

  stop(): void {
    this.stopped = true;
    this.flush(true);
  }

  protected readonly flushFromLoop = () => {
    if (!this.stopped) this.flush();
  };

  protected take(count: number): void {
    if (count === this.queue.length) this.queue = [];
    else this.queue.splice(0, count);
  }
}
