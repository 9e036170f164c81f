import { AsyncTurnWriter, type PgStore, type Store, TurnWriter } from "~/db";
import type { EventError } from "~/db/schema";
import { log } from "~/lib/log";
import { MinuteCaps } from "~/lib/minute-caps";
import type { Worker } from "~/lib/worker";
import { type RecordedEvent, writeEvents } from "./queries";

/** The PostgreSQL writer, loaded on a Postgres store's first batch: a gateway on SQLite never loads the driver. */
const pgEvents = () => import("./pg");

export interface RecorderOptions {
  /** Events held in memory at most; past that, new ones are dropped and counted. */
  maxBuffered?: number;
  /** Events per transaction. */
  batchSize?: number;
  /**
   * Requests the gateway itself refused (401 failed authentication, 429 rate
   * limit or quota, 403 model not allowed, 400, 413) stored as rows per minute
   * at most, per key (keyless requests share one): past that they are only
   * counted in usage_hourly, so a flood of refused requests cannot fill the disk.
   */
  refusedRowsPerMinute?: number;
  /** How long /healthz stays degraded after events were dropped. */
  degradedForMs?: number;
  /** Told each batch once it is committed (the keys' premium quota keeps its sums current with it). */
  onCommitted?: (events: readonly RecordedEvent[]) => void;
  /**
   * Also awaited before an answer leaves (PostgreSQL: the stored responses' write, so another
   * gateway can continue the conversation the moment the client has the answer).
   */
  alsoSettle?: () => Promise<void>;
}

const MINUTE_MS = 60_000;

/** The gateway's own refusals (never Copilot's: those are tagged upstream_*): capped as rows, always counted. */
const REFUSALS: ReadonlySet<EventError> = new Set([
  "unauthorized",
  "forbidden",
  "bad_request",
  "payload_too_large",
  "rate_limited",
  "quota_exceeded",
  "budget_exceeded",
]);

/**
 * Records events off the request path: record() only appends to a bounded
 * buffer and, for the first event of a batch, schedules a write at the end of
 * the current event-loop turn (setImmediate), so everything recorded in one
 * turn goes into one transaction (a TurnWriter). Telemetry awaits committed()
 * before handing the response back, so an answered request's event is on disk
 * before the client sees the answer: a crash (kill -9) loses only requests in flight.
 *
 * A locked database is retried a few milliseconds later (the write never waits
 * for the lock, and neither does a response), and one that cannot be written
 * costs the events, counted, logged and shown by /healthz, never a request.
 */
export class EventRecorder implements Worker {
  private readonly writer: TurnWriter<RecordedEvent>;
  private readonly refusedRows: MinuteCaps;
  private readonly notStoredWarnings = new MinuteCaps(1);
  private readonly maxBuffered: number;
  private readonly refusedRowsPerMinute: number;
  private readonly degradedForMs: number;
  private readonly alsoSettle?: () => Promise<void>;
  /** Refused requests counted in usage_hourly without an event row (over the per-minute cap). */
  notStored = 0;

  /** On SQLite a transaction per turn; on PostgreSQL (a PgStore) the same batches, written asynchronously. */
  constructor(store: Store | PgStore, options: RecorderOptions = {}) {
    this.maxBuffered = options.maxBuffered ?? 100_000;
    this.refusedRowsPerMinute = options.refusedRowsPerMinute ?? 60;
    this.refusedRows = new MinuteCaps(this.refusedRowsPerMinute);
    this.degradedForMs = options.degradedForMs ?? MINUTE_MS;
    this.alsoSettle = options.alsoSettle;
    const writing = {
      batchSize: options.batchSize ?? 2_000,
      warning: (dropped: number, reason: string) => `dropped events: ${dropped} so far (${reason}); requests are unaffected`,
      onWritten: options.onCommitted,
    };
    this.writer =
      "sqlite" in store
        ? new TurnWriter(store, { ...writing, write: (batch) => writeEvents(store, batch) })
        : new AsyncTurnWriter(async (batch) => (await pgEvents()).writeEventsPg(store, batch), writing);
  }

  get written(): number {
    return this.writer.written;
  }

  /** Set while the last write failed (the store is not writable); for /metrics. */
  get lastWriteError(): string | undefined {
    return this.writer.lastWriteError;
  }

  /** Events lost: over the buffer, after stop(), or in a write that failed. */
  get dropped(): number {
    return this.writer.dropped;
  }

  /** Nothing to begin: the recorder has no timer of its own; each record() schedules its turn's write. */
  start(): void {}

  record(event: RecordedEvent): void {
    const writer = this.writer;
    if (writer.stopped) {
      writer.drop(1, "the recorder was already stopped");
      return;
    }
    if (writer.size >= this.maxBuffered) {
      writer.drop(1, "the event buffer is full (the database is not keeping up)");
      return;
    }
    if (event.error && REFUSALS.has(event.error) && !this.refusedRowAllowed(event.keyId)) event = { ...event, rowless: true };
    writer.add(event);
  }

  /**
   * Settles once what is buffered now has been written, dropped, or left for a
   * retry because another process holds the lock (a response never waits for
   * that). Resolves at once when nothing is pending.
   */
  committed(): Promise<void> {
    const also = this.alsoSettle;
    return also ? Promise.all([this.writer.settled(), also()]).then(() => {}) : this.writer.settled();
  }

  /** Writes what is buffered, a batch per transaction. `waitForLock` is for shutdown only. */
  flush(waitForLock = false): void | Promise<void> {
    return this.writer.flush(waitForLock);
  }

  /**
   * Why /healthz should not say ok: events dropped within the last minute, or
   * the last write failed (the store is not writable). Empty when healthy.
   */
  problems(now = performance.now()): string[] {
    const { lastWriteError, lastDropAt, lastDropReason, dropped } = this.writer;
    const problems: string[] = [];
    if (lastWriteError !== undefined) problems.push(`the last event write failed: ${lastWriteError}`);
    if (now - lastDropAt < this.degradedForMs) {
      problems.push(`events were dropped ${Math.round((now - lastDropAt) / 1000)} s ago (${lastDropReason}); ${dropped} dropped since start`);
    }
    return problems;
  }

  stop(): void | Promise<void> {
    return this.writer.stop();
  }

  /** Within the key's per-minute cap of refused-request rows; past it, counted and said once a minute per key. */
  private refusedRowAllowed(keyId: string): boolean {
    if (this.refusedRows.allow(keyId)) return true;
    this.notStored += 1;
    if (this.notStoredWarnings.allow(keyId)) {
      log.warn(
        `refused requests (${keyId}): more than ${this.refusedRowsPerMinute} a minute; the rest are counted in usage_hourly but not stored as event rows (${this.notStored} so far, also in /healthz as eventsNotStored)`,
      );
    }
    return false;
  }
}
