import { AsyncTurnWriter, type PgStore, type Store, TurnWriter } from "~/db";
import { log } from "~/lib/log";
import type { Worker } from "~/lib/worker";
import { jsonOf } from "./codec";
import { deleteResponse, type EncodedResponse, encodeResponse, insertResponses, responseById, type StoredResponse, storedBytesOf, trimKey } from "./queries";

/** The PostgreSQL queries, loaded on a Postgres store's first use: a gateway on SQLite never loads the driver. */
const pgResponses = () => import("./pg");

export interface StoredResponsesOptions {
  /** Responses per transaction. */
  batchSize?: number;
  /** --responses-retention-days: an older response is gone for every lookup at once, before the purge deletes it. 0 keeps them. */
  retentionDays?: number;
  /** A response whose JSON (input and answer) is larger is not kept; only a note of its size is, so a later previous_response_id says why. */
  maxResponseBytes?: number;
  /** What one key's stored responses may take in the table (on PostgreSQL, the database's total across gateways); past it, the key's oldest are deleted. */
  maxKeyBytes?: number;
  /** Wall clock (Unix ms); tests inject one. */
  now?: () => number;
}

/** Where a chain's links are looked up: the store itself on SQLite, or (PostgreSQL) the chain read ahead. */
export interface ChainSource {
  find(id: string, keyId: string): StoredResponse | undefined;
}

/** Default limit per stored response (the server passes the smaller of this and --body-limit-mb). */
export const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;
/** Default limit per key: 512 MiB of stored (mostly compressed) bodies. */
export const MAX_KEY_BYTES = 512 * 1024 * 1024;
const DAY_MS = 86_400_000;

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
  /**
   * Bytes each key's responses take in the table, as far as known: read once per key, then
   * counted up on every write. Retention's deletes are not subtracted, so it can only be too
   * high; a trim recounts exactly before it deletes anything.
   */
  private readonly keyBytes = new Map<string, number>();
  readonly maxResponseBytes: number;
  readonly maxKeyBytes: number;
  private readonly retentionMs: number;
  private readonly now: () => number;

  /** On SQLite; on PostgreSQL (a PgStore, shared by several gateways) lookups go through lookup() and writes are asynchronous. */
  constructor(
    private readonly store: Store | PgStore,
    options: StoredResponsesOptions = {},
  ) {
    this.maxResponseBytes = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
    this.maxKeyBytes = options.maxKeyBytes ?? MAX_KEY_BYTES;
    this.retentionMs = (options.retentionDays ?? 0) * DAY_MS;
    this.now = options.now ?? Date.now;
    const forget = (batch: readonly StoredResponse[]) => {
      for (const response of batch) if (this.pending.get(response.id) === response) this.pending.delete(response.id);
    };
    const writing = {
      batchSize: options.batchSize ?? 500,
      // A timer, not setImmediate: the answer (and its event, committed in this turn's check phase) leaves first.
      after: "timer" as const,
      warning: (dropped: number, reason: string) => `${dropped} stored responses could not be written (${reason}); previous_response_id will not find them`,
      onWritten: forget,
      onFailed: forget,
    };
    this.writer =
      "sqlite" in store
        ? new TurnWriter(store, { ...writing, write: (batch) => this.write(store, batch) })
        : new AsyncTurnWriter(async (batch) => {
            const trimmed = await (await pgResponses()).insertResponsesPg(store.db, this.encoded(batch), this.maxKeyBytes);
            for (const [keyId, deleted] of trimmed) this.saidTrimmed(keyId, deleted);
          }, writing);
  }

  /**
   * Where the chain ending at `id` is walked: this object on SQLite (synchronous); on
   * PostgreSQL the chain read in one round trip (within `budgetBytes` of stored bodies),
   * then looked up like the store, answers not yet written first.
   */
  lookup(id: string, budgetBytes = Number.POSITIVE_INFINITY): ChainSource | Promise<ChainSource> {
    const store = this.store;
    if ("sqlite" in store) return this;
    return pgResponses()
      .then(({ chainPg }) => chainPg(store.db, id, budgetBytes))
      .then((links) => {
        const read = new Map(links.map((link) => [link.id, link]));
        return { find: (linkId, keyId) => this.visible(this.pending.get(linkId) ?? read.get(linkId), keyId) };
      });
  }

  /** Settles once what was saved by now is written (PostgreSQL: another gateway can then continue it). */
  settled(): Promise<void> {
    return this.writer.settled();
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

  /** The response with this id if `keyId` owns it; undefined if there is none, it is another key's, or past the retention window. */
  find(id: string, keyId: string): StoredResponse | undefined {
    const store = this.store;
    return this.visible(this.pending.get(id) ?? ("sqlite" in store ? responseById(store, id) : undefined), keyId);
  }

  private visible(found: StoredResponse | undefined, keyId: string): StoredResponse | undefined {
    if (!found || found.keyId !== keyId) return undefined;
    // Past the window it is gone, as documented, whether or not the hourly purge has deleted it yet.
    if (this.retentionMs > 0 && found.createdAt < this.now() - this.retentionMs) return undefined;
    return found;
  }

  /** The JSON size of a response's body: known for one read back, measured once for one still waiting for its write. */
  static sizeOf(response: StoredResponse): number {
    response.bodyBytes ??= jsonOf({ input: response.input, response: response.response }).length;
    return response.bodyBytes;
  }

  /** One batch, one transaction: each body encoded (a note only when past the limit), then each key held to its limit, oldest first out. */
  private write(store: Store, batch: readonly StoredResponse[]): void {
    const rows = this.encoded(batch);
    const totals = new Map<string, number>();
    store.transaction(() => {
      for (const { row } of rows) {
        if (!totals.has(row.keyId)) totals.set(row.keyId, this.keyBytes.get(row.keyId) ?? storedBytesOf(store, row.keyId));
      }
      insertResponses(store, rows);
      for (const { row, storedBytes } of rows) totals.set(row.keyId, (totals.get(row.keyId) ?? 0) + storedBytes);
      for (const [keyId, bytes] of totals) {
        if (bytes <= this.maxKeyBytes) continue;
        // Down to 90 %, so a key at its limit is not trimmed again on every write.
        const trimmed = trimKey(store, keyId, Math.floor(this.maxKeyBytes * 0.9));
        totals.set(keyId, trimmed.bytes);
        if (trimmed.deleted > 0) this.saidTrimmed(keyId, trimmed.deleted);
      }
    });
    for (const [keyId, bytes] of totals) this.keyBytes.set(keyId, bytes);
  }

  private saidTrimmed(keyId: string, deleted: number): void {
    log.warn(`stored responses of key ${keyId} passed ${this.maxKeyBytes} bytes: deleted its ${deleted} oldest (previous_response_id to them now answers 404)`);
  }

  /** Each body encoded (a note only when past the limit, said in the log). */
  private encoded(batch: readonly StoredResponse[]): EncodedResponse[] {
    const rows = batch.map((response) => encodeResponse(response, this.maxResponseBytes));
    for (const { row, omittedBytes } of rows) {
      if (omittedBytes === undefined) continue;
      log.warn(
        `response ${row.id} was not stored: its body is ${omittedBytes} bytes, above the ${this.maxResponseBytes}-byte limit per stored response; previous_response_id to it will be refused`,
      );
    }
    return rows;
  }

  /** Deletes the response if `keyId` owns it; whether it existed. */
  delete(id: string, keyId: string): boolean | Promise<boolean> {
    const pending = this.pending.get(id);
    if (pending && pending.keyId === keyId) {
      this.pending.delete(id);
      this.writer.remove(pending);
      return true;
    }
    const store = this.store;
    return "sqlite" in store ? deleteResponse(store, id, keyId) : pgResponses().then(({ deleteResponsePg }) => deleteResponsePg(store.db, id, keyId));
  }

  /** How many responses wait for their write. */
  get waiting(): number {
    return this.pending.size;
  }

  /** Writes what is pending, a batch per transaction. `waitForLock` is for shutdown only. */
  flush(waitForLock = false): void | Promise<void> {
    return this.writer.flush(waitForLock);
  }

  stop(): void | Promise<void> {
    return this.writer.stop();
  }
}
