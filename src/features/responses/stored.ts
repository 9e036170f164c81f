import { type Store, TurnWriter } from "~/db";
import type { Worker } from "~/lib/worker";
import { deleteResponse, insertResponses, responseById, type StoredResponse } from "./queries";

export interface StoredResponsesOptions {
  /** Responses per transaction. */
  batchSize?: number;
}

/**
 * The stored responses. save() costs the request path a map insert: the write (JSON, maybe
 * compression, the INSERT) happens once the answer has left, on the next timer turn, every
 * response saved meanwhile in one transaction (a TurnWriter, as the event recorder). Until it
 * is committed a response sits in memory, and every lookup reads that first: a follow-up request
 * that arrives the moment the answer did finds it (read your own writes). A locked database
 * is retried a few milliseconds later, never waited for on the event loop; stop() writes
 * whatever is left, waiting for the lock, so a clean shutdown loses no completed response.
 */
export class StoredResponses implements Worker {
  /** Saved and not yet committed, by id: what lookups read first. The writer's queue holds the same responses. */
  private readonly pending = new Map<string, StoredResponse>();
  private readonly writer: TurnWriter<StoredResponse>;

  constructor(
    private readonly store: Store,
    options: StoredResponsesOptions = {},
  ) {
    const forget = (batch: readonly StoredResponse[]) => {
      for (const response of batch) if (this.pending.get(response.id) === response) this.pending.delete(response.id);
    };
    this.writer = new TurnWriter(store, {
      write: (batch) => insertResponses(store, batch),
      batchSize: options.batchSize ?? 500,
      // A timer, not setImmediate: the answer (and its event, committed in this turn's check phase) leaves first.
      after: "timer",
      warning: (dropped, reason) => `${dropped} stored responses could not be written (${reason}); previous_response_id will not find them`,
      onWritten: forget,
      onFailed: forget,
    });
  }

  get written(): number {
    return this.writer.written;
  }

  /** Responses that could not be written (the store failed, not merely busy). */
  get dropped(): number {
    return this.writer.dropped;
  }

  /** Nothing to begin: the first save() after a write schedules the next one. */
  start(): void {}

  /** Keeps a response: visible to lookups at once, on disk on the next timer turn (at once after stop()). */
  save(response: StoredResponse): void {
    const replaced = this.pending.get(response.id);
    if (replaced) this.writer.remove(replaced);
    this.pending.set(response.id, response);
    this.writer.add(response);
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
      this.writer.remove(pending);
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
    this.writer.flush(waitForLock);
  }

  stop(): void {
    this.writer.stop();
  }
}
