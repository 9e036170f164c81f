import { isBusy, type Store } from "~/db";
import { errorMessage } from "~/lib/errors";
import { log } from "~/lib/log";
import type { Worker } from "~/lib/worker";
import { deleteResponse, insertResponses, responseById, type StoredResponse } from "./queries";

export interface StoredResponsesOptions {
  /** Responses per transaction. */
  batchSize?: number;
}

/** After SQLITE_BUSY (another process holds the write lock), the write is tried again this much later. */
const BUSY_RETRY_MS = 10;

/**
 * The stored responses. save() costs the request path a map insert: the write (JSON, maybe
 * compression, the INSERT) happens once the answer has left, on the next timer turn, every
 * response saved meanwhile in one transaction (the event recorder's batching). Until it is
 * committed a response sits in memory, and every lookup reads that first: a follow-up request
 * that arrives the moment the answer did finds it (read your own writes). A locked database
 * is retried a few milliseconds later, never waited for on the event loop; stop() writes
 * whatever is left, waiting for the lock, so a clean shutdown loses no completed response.
 */
export class StoredResponses implements Worker {
  /** Saved and not yet committed, by id: what lookups read first. */
  private readonly pending = new Map<string, StoredResponse>();
  private scheduled = false;
  private retryTimer?: ReturnType<typeof setTimeout>;
  private stopped = false;
  private lastWarning = Number.NEGATIVE_INFINITY;
  private readonly batchSize: number;
  written = 0;
  /** Responses that could not be written (the store failed, not merely busy). */
  dropped = 0;

  constructor(
    private readonly store: Store,
    options: StoredResponsesOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 500;
  }

  /** Nothing to begin: the first save() after a write schedules the next one. */
  start(): void {}

  /** Keeps a response: visible to lookups at once, on disk on the next timer turn. */
  save(response: StoredResponse): void {
    this.pending.set(response.id, response);
    if (this.stopped) {
      // A straggler after shutdown began: written now rather than lost.
      this.flush(true);
      return;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      // A timer, not setImmediate: the answer (and its event, committed in this turn's check phase) leaves first.
      setTimeout(this.flushFromLoop, 0);
    }
  }

  /** The response with this id if `keyId` owns it; undefined if there is none, or it is another key's. */
  find(id: string, keyId: string): StoredResponse | undefined {
    const found = this.pending.get(id) ?? responseById(this.store, id);
    return found && found.keyId === keyId ? found : undefined;
  }

  /** Deletes the response if `keyId` owns it; whether it existed. */
  delete(id: string, keyId: string): boolean {
    const pending = this.pending.get(id);
    if (pending && pending.keyId === keyId) {
      this.pending.delete(id);
      return true;
    }
    return deleteResponse(this.store, id, keyId);
  }

  /** How many responses wait for their write. */
  get waiting(): number {
    return this.pending.size;
  }

  /** Writes what is pending, a batch per transaction. `waitForLock` is for shutdown only. */
  flush(waitForLock = false): void {
    this.scheduled = false;
    clearTimeout(this.retryTimer);
    while (this.pending.size > 0) {
      const batch: StoredResponse[] = [];
      for (const response of this.pending.values()) {
        batch.push(response);
        if (batch.length >= this.batchSize) break;
      }
      try {
        if (waitForLock) insertResponses(this.store, batch);
        else this.store.withBusyTimeout(0, () => insertResponses(this.store, batch));
        this.written += batch.length;
      } catch (error) {
        if (!waitForLock && isBusy(error)) {
          // Another writer holds the lock: try again shortly; lookups still find these in memory.
          this.scheduled = true;
          this.retryTimer = setTimeout(this.flushFromLoop, BUSY_RETRY_MS);
          return;
        }
        this.dropped += batch.length;
        this.warn(`${this.dropped} stored responses could not be written (${errorMessage(error)}); previous_response_id will not find them`);
      }
      for (const response of batch) if (this.pending.get(response.id) === response) this.pending.delete(response.id);
    }
  }

  stop(): void {
    this.stopped = true;
    this.flush(true);
  }

  private readonly flushFromLoop = () => {
    if (!this.stopped) this.flush();
  };

  private warn(message: string): void {
    const now = performance.now();
    if (now - this.lastWarning < 10_000) return;
    this.lastWarning = now;
    log.warn(message);
  }
}
