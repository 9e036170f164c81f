import { errorMessage } from "~/lib/errors";
import { log } from "~/lib/log";
import type { Worker } from "~/lib/worker";

/**
 * WAL checkpoints on a thread of their own. SQLite's automatic checkpoint runs inside the
 * COMMIT that takes the WAL past 1,000 pages, on the event loop: it copies the WAL into the
 * database and fsyncs both, 5–40 ms on a small VM disk every few hundred one-event commits,
 * during which no request is answered (at one request at a time, most of a commit's average
 * time). While this worker runs, the server's connection does not checkpoint by itself;
 * a thread with a connection of its own runs a PASSIVE checkpoint whenever this connection
 * wrote since the last one (at most every `everyMs`): it never waits for a writer or a reader,
 * and its fsyncs block that thread only.
 *
 * A passive checkpoint never blocks writers, so under writes that never pause it never
 * catches up with the WAL's last frame, and SQLite only starts the WAL over from the front
 * once it has. Past MAX_WAL_PAGES the connection's own autocheckpoint is turned back on until
 * the WAL has started over: one checkpoint on the event loop per MAX_WAL_PAGES of sustained
 * writes (and then with little left to copy), instead of one per 1,000 pages.
 *
 * Durability is unchanged: a transaction is committed (in the WAL, written before the answer
 * leaves) exactly as before; a checkpoint only copies committed pages into the main file.
 * While Litestream replicates, checkpoints are Litestream's and this thread runs none.
 *
 * The thread's code is a string: it needs bun:sqlite and nothing of the app, so it is the
 * same in a source checkout, the bundle and a compiled binary, and loads no module of ours.
 */
const THREAD_CODE = `
import { Database } from "bun:sqlite";
let db;
self.onmessage = ({ data }) => {
  try {
    if (data.open) {
      // readwrite without create: a path that no longer names a database is an error, never a new file.
      db = new Database(data.open, { readwrite: true, create: false });
      db.run("PRAGMA busy_timeout = 1000");
      postMessage({ opened: true });
    } else if (data.checkpoint) {
      const { busy, log } = db.query("PRAGMA wal_checkpoint(PASSIVE)").get();
      postMessage({ checkpointed: busy === 0, log });
    } else if (data.close) {
      db?.close();
      db = undefined;
      Atomics.store(data.closed, 0, 1);
      Atomics.notify(data.closed, 0);
    }
  } catch (error) {
    postMessage({ failed: String(error?.message ?? error) });
    if (data.close) {
      Atomics.store(data.closed, 0, 1);
      Atomics.notify(data.closed, 0);
    }
  }
};
`;

/** What the thread needs of the store. */
export interface CheckpointedStore {
  path: string;
  /** Turns the connection's own autocheckpoint off (true) or back on (false). */
  checkpointOffThread(on: boolean): void;
  /** Litestream checkpoints now (Store.handOverCheckpoints): the thread runs none. */
  checkpointsHandedOver(): boolean;
  /** Rows this connection changed since it opened: moved means there is something to checkpoint. */
  totalChanges(): number;
}

/** WAL pages past which the connection checkpoints again by itself, so that the WAL starts over (40 MB of 4 KB pages). */
const MAX_WAL_PAGES = 10_000;

/** How long stop() waits for the thread to close its connection before ending it anyway. */
const CLOSE_WAIT_MS = 2000;

export class CheckpointThread implements Worker {
  private thread: globalThis.Worker | undefined;
  private timer?: ReturnType<typeof setInterval>;
  private running = false;
  private seenChanges = Number.NaN;
  private failures = 0;
  /** Checkpoints the thread completed (all frames copied); for tests and benchmarks. */
  completed = 0;

  private readonly everyMs: number;
  private readonly maxWalPages: number;

  constructor(
    private readonly store: CheckpointedStore,
    options: { everyMs?: number; maxWalPages?: number } = {},
  ) {
    this.everyMs = options.everyMs ?? 250;
    this.maxWalPages = options.maxWalPages ?? MAX_WAL_PAGES;
  }

  start(): void {
    if (this.thread) return;
    let url: string;
    try {
      url = URL.createObjectURL(new Blob([THREAD_CODE], { type: "application/javascript" }));
      this.thread = new Worker(url, { smol: true } as WorkerOptions);
    } catch (error) {
      log.warn(`checkpoints stay on the event loop: the checkpoint thread did not start (${errorMessage(error)})`);
      return;
    }
    this.thread.onmessage = ({ data }: MessageEvent) => {
      // Only once the thread has loaded its code (it does so asynchronously).
      if (data.opened) URL.revokeObjectURL(url);
      this.answered(data);
    };
    this.thread.postMessage({ open: this.store.path });
    // Until the thread's connection is open, the store checkpoints as before.
    this.timer = setInterval(() => this.tick(), this.everyMs);
    this.timer.unref?.();
  }

  /** Closes the thread's connection (waiting for it, so the store's close is the last) and ends the thread. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    const thread = this.thread;
    if (!thread) return;
    this.thread = undefined;
    this.store.checkpointOffThread(false);
    const closed = new Int32Array(new SharedArrayBuffer(4));
    thread.postMessage({ close: true, closed });
    // The store closes next, and its close folds the WAL only when it is the last connection.
    Atomics.wait(closed, 0, 0, CLOSE_WAIT_MS);
    thread.terminate();
  }

  private answered(data: { opened?: true; checkpointed?: boolean; log?: number; failed?: string }): void {
    this.running = false;
    if (data.opened) this.store.checkpointOffThread(true);
    if (data.checkpointed) this.completed++;
    // A WAL that never got to start over: the connection checkpoints until it has.
    if (data.log !== undefined) this.store.checkpointOffThread(data.log <= this.maxWalPages);
    if (data.failed !== undefined) {
      this.failures++;
      log.warn(`checkpoint thread: ${data.failed}; the server checkpoints on its own connection again`);
      // Whatever went wrong, the WAL must not grow without bound: the connection's autocheckpoint takes over.
      this.store.checkpointOffThread(false);
      clearInterval(this.timer);
    }
  }

  private tick(): void {
    if (this.running || this.failures > 0 || this.store.checkpointsHandedOver()) return;
    const changes = this.store.totalChanges();
    if (changes === this.seenChanges) return;
    this.seenChanges = changes;
    this.running = true;
    this.thread?.postMessage({ checkpoint: true });
  }
}
