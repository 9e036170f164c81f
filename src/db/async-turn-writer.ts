import { errorMessage } from "~/lib/errors";
import { TurnWriter, type TurnWriterOptions } from "./turn-writer";

/** A database reached over the network has no lock to wait on here: the busy timeout is SQLite's. */
const NO_BUSY_TIMEOUT = { backgroundWrite: <R>(fn: () => R) => fn() };

/**
 * The TurnWriter for a store whose writes are asynchronous (PostgreSQL): the same queue,
 * batching (everything added in one event-loop turn goes in one write), drop counting and
 * warnings, but each batch is written by an awaited `write`, one write at a time, in order.
 * settled() resolves once what is queued now is written (or dropped), so an answer still
 * leaves only after its event is in the database.
 */
export class AsyncTurnWriter<T> extends TurnWriter<T> {
  private tail: Promise<void> = Promise.resolve();
  private writing = false;
  /** settled() callers waiting for the next write to take what they queued. */
  private waiters: (() => void)[] = [];

  constructor(
    private readonly writeAsync: (batch: T[]) => Promise<void>,
    options: Omit<TurnWriterOptions<T>, "write">,
  ) {
    super(NO_BUSY_TIMEOUT, {
      ...options,
      write: () => {
        throw new Error("AsyncTurnWriter writes with writeAsync");
      },
    });
  }

  override settled(): Promise<void> {
    if (this.size === 0) return this.tail;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.waiters.push(resolve);
    return promise;
  }

  /** Writes what is queued after the write in progress, if any; resolves once done. */
  override flush(): Promise<void> {
    this.scheduled = false;
    this.tail = this.tail.then(() => this.writeQueued());
    return this.tail;
  }

  override stop(): Promise<void> {
    this.stopped = true;
    return this.flush();
  }

  /** Whether a write is running now. */
  get busy(): boolean {
    return this.writing;
  }

  private async writeQueued(): Promise<void> {
    const waiters = this.waiters;
    this.waiters = [];
    this.writing = true;
    const { batchSize, onWritten, onFailed } = this.options;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.slice(0, batchSize);
        this.take(batch.length);
        try {
          await this.writeAsync(batch);
        } catch (error) {
          this.lastWriteError = errorMessage(error);
          this.drop(batch.length, this.lastWriteError);
          onFailed?.(batch);
          continue;
        }
        this.lastWriteError = undefined;
        this.written += batch.length;
        onWritten?.(batch);
      }
    } finally {
      this.writing = false;
      for (const resolve of waiters) resolve();
    }
  }
}
