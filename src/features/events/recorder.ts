import { isBusy, type Store } from "~/db";
import { errorMessage } from "~/lib/errors";
import { log } from "~/lib/log";
import type { Worker } from "~/lib/worker";
import { type RecordedEvent, writeEvents } from "./queries";

export interface RecorderOptions {
  /** Events held in memory at most; past that, new ones are dropped and counted. */
  maxBuffered?: number;
  /** Events per transaction. */
  batchSize?: number;
  /**
   * Failed-authentication events (our own 401s) stored as rows per minute at
   * most; past that they are only counted in usage_hourly, so a flood of
   * keyless requests cannot fill the disk.
   */
  unauthorizedRowsPerMinute?: number;
  /** How long /healthz stays degraded after events were dropped. */
  degradedForMs?: number;
  /** Told each batch once it is committed (the keys' premium quota keeps its sums current with it). */
  onCommitted?: (events: readonly RecordedEvent[]) => void;
}

const MINUTE_MS = 60_000;
/** After SQLITE_BUSY (another process holds the write lock), the write is tried again this much later. */
const BUSY_RETRY_MS = 10;
const RESOLVED = Promise.resolve();

/**
 * Records events off the request path: record() only appends to a bounded
 * buffer and, for the first event of a batch, schedules a write at the end of
 * the current event-loop turn (setImmediate), so everything recorded in one
 * turn goes into one transaction. Telemetry awaits committed() before handing
 * the response back, so an answered request's event is on disk before the
 * client sees the answer: a crash (kill -9) loses only requests in flight.
 *
 * A locked database is retried a few milliseconds later (the write never waits
 * for the lock, and neither does a response), and one that cannot be written
 * costs the events, counted, logged and shown by /healthz, never a request.
 */
export class EventRecorder implements Worker {
  private buffer: RecordedEvent[] = [];
  /** A write is scheduled: an immediate for this turn, or a retry timer after SQLITE_BUSY. */
  private scheduled = false;
  private retryTimer?: ReturnType<typeof setTimeout>;
  private retrying = false;
  private waiting?: PromiseWithResolvers<void>;
  private stopped = false;
  private lastWarning = Number.NEGATIVE_INFINITY;
  private lastNotStoredWarning = Number.NEGATIVE_INFINITY;
  private unauthorizedWindowStart = Number.NEGATIVE_INFINITY;
  private unauthorizedInWindow = 0;
  private lastDropAt = Number.NEGATIVE_INFINITY;
  private lastDropReason = "";
  /** Set when the last write attempt failed (not merely busy); cleared by the next one that succeeds. */
  private lastWriteError: string | undefined;
  private readonly maxBuffered: number;
  private readonly batchSize: number;
  private readonly unauthorizedRowsPerMinute: number;
  private readonly degradedForMs: number;
  private readonly onCommitted?: (events: readonly RecordedEvent[]) => void;
  dropped = 0;
  written = 0;
  /** Failed-authentication requests counted in usage_hourly without an event row (over the per-minute cap). */
  notStored = 0;

  constructor(
    private readonly store: Store,
    options: RecorderOptions = {},
  ) {
    this.maxBuffered = options.maxBuffered ?? 100_000;
    this.batchSize = options.batchSize ?? 2_000;
    this.unauthorizedRowsPerMinute = options.unauthorizedRowsPerMinute ?? 60;
    this.degradedForMs = options.degradedForMs ?? MINUTE_MS;
    this.onCommitted = options.onCommitted;
  }

  /** Nothing to begin: the recorder has no timer of its own; each record() schedules its turn's write. */
  start(): void {}

  record(event: RecordedEvent): void {
    if (this.stopped) {
      this.drop(1, "the recorder was already stopped");
      return;
    }
    if (this.buffer.length >= this.maxBuffered) {
      this.drop(1, "the event buffer is full (the database is not keeping up)");
      return;
    }
    if (event.error === "unauthorized" && !this.unauthorizedRowAllowed()) event = { ...event, rowless: true };
    this.buffer.push(event);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushFromLoop);
    }
  }

  /**
   * Settles once what is buffered now has been written, dropped, or left for a
   * retry because another process holds the lock (a response never waits for
   * that). Resolves at once when nothing is pending.
   */
  committed(): Promise<void> {
    if (!this.scheduled || this.retrying || this.stopped) return RESOLVED;
    this.waiting ??= Promise.withResolvers<void>();
    return this.waiting.promise;
  }

  /** Writes what is buffered, a batch per transaction. `waitForLock` is for shutdown only. */
  flush(waitForLock = false): void {
    this.scheduled = false;
    this.retrying = false;
    clearTimeout(this.retryTimer);
    try {
      while (this.buffer.length > 0) {
        const batch = this.buffer.length <= this.batchSize ? this.buffer : this.buffer.slice(0, this.batchSize);
        try {
          if (waitForLock) writeEvents(this.store, batch);
          else this.store.withBusyTimeout(0, () => writeEvents(this.store, batch));
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
          continue;
        }
        this.take(batch.length);
        this.lastWriteError = undefined;
        this.written += batch.length;
        this.onCommitted?.(batch);
      }
    } finally {
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting?.resolve();
    }
  }

  /**
   * Why /healthz should not say ok: events dropped within the last minute, or
   * the last write failed (the store is not writable). Empty when healthy.
   */
  problems(now = performance.now()): string[] {
    const problems: string[] = [];
    if (this.lastWriteError !== undefined) problems.push(`the last event write failed: ${this.lastWriteError}`);
    if (now - this.lastDropAt < this.degradedForMs) {
      problems.push(`events were dropped ${Math.round((now - this.lastDropAt) / 1000)} s ago (${this.lastDropReason}); ${this.dropped} dropped since start`);
    }
    return problems;
  }

  stop(): void {
    this.flush(true);
    this.stopped = true;
  }

  private readonly flushFromLoop = () => {
    if (!this.stopped) this.flush();
  };

  private take(count: number): void {
    if (count === this.buffer.length) this.buffer = [];
    else this.buffer.splice(0, count);
  }

  /** A fixed one-minute window on the monotonic clock, opened by the first failed authentication after the last one closed. */
  private unauthorizedRowAllowed(): boolean {
    const now = performance.now();
    if (now - this.unauthorizedWindowStart >= MINUTE_MS) {
      this.unauthorizedWindowStart = now;
      this.unauthorizedInWindow = 0;
    }
    if (this.unauthorizedInWindow < this.unauthorizedRowsPerMinute) {
      this.unauthorizedInWindow += 1;
      return true;
    }
    this.notStored += 1;
    if (now - this.lastNotStoredWarning >= MINUTE_MS) {
      this.lastNotStoredWarning = now;
      log.warn(
        `failed authentication: more than ${this.unauthorizedRowsPerMinute} a minute; the rest are counted in usage_hourly but not stored as event rows (${this.notStored} so far, also in /healthz as eventsNotStored)`,
      );
    }
    return false;
  }

  private drop(count: number, reason: string): void {
    this.dropped += count;
    const now = performance.now();
    this.lastDropAt = now;
    this.lastDropReason = reason;
    if (now - this.lastWarning < 10_000) return;
    this.lastWarning = now;
    log.warn(`dropped events: ${this.dropped} so far (${reason}); requests are unaffected`);
  }
}
