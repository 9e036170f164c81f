import { isBusy, type Store } from "~/db";
import { errorMessage } from "~/lib/errors";
import { log } from "~/lib/log";
import { writeEvents, type NewEvent } from "./queries";

export interface RecorderOptions {
  /** Events held in memory at most; past that, new ones are dropped and counted. */
  maxBuffered?: number;
  /** Events per transaction. */
  batchSize?: number;
  /** Longest an event waits in memory before it is written. */
  flushIntervalMs?: number;
}

/**
 * Records events off the request path: record() only appends to a bounded
 * buffer; batches are written in one transaction each, on a timer or when a
 * batch fills up. A locked database is retried on the next tick (the write
 * never waits for the lock), and one that cannot be written costs the events,
 * counted and logged, never a request.
 */
export class EventRecorder {
  private buffer: NewEvent[] = [];
  private scheduled = false;
  private timer: ReturnType<typeof setInterval>;
  private lastWarning = 0;
  private readonly maxBuffered: number;
  private readonly batchSize: number;
  dropped = 0;
  written = 0;

  constructor(
    private readonly store: Store,
    options: RecorderOptions = {},
  ) {
    this.maxBuffered = options.maxBuffered ?? 100_000;
    this.batchSize = options.batchSize ?? 2_000;
    this.timer = setInterval(() => this.flush(), options.flushIntervalMs ?? 200);
    this.timer.unref?.();
  }

  record(event: NewEvent): void {
    if (this.buffer.length >= this.maxBuffered) {
      this.drop(1, "the event buffer is full (the database is not keeping up)");
      return;
    }
    this.buffer.push(event);
    if (this.buffer.length >= this.batchSize && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes what is buffered, a batch per transaction. `waitForLock` is for shutdown only. */
  flush(waitForLock = false): void {
    this.scheduled = false;
    while (this.buffer.length > 0) {
      const batch = this.buffer.slice(0, this.batchSize);
      try {
        if (waitForLock) writeEvents(this.store, batch);
        else this.store.withBusyTimeout(0, () => writeEvents(this.store, batch));
      } catch (error) {
        if (!waitForLock && isBusy(error)) return; // another writer holds the lock: next tick
        this.buffer.splice(0, batch.length);
        this.drop(batch.length, errorMessage(error));
        continue;
      }
      this.buffer.splice(0, batch.length);
      this.written += batch.length;
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.flush(true);
  }

  private drop(count: number, reason: string): void {
    this.dropped += count;
    const now = Date.now();
    if (now - this.lastWarning < 10_000) return;
    this.lastWarning = now;
    log.warn(`dropped events: ${this.dropped} so far (${reason}); requests are unaffected`);
  }
}
