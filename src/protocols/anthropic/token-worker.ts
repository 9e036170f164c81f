/**
 * count_tokens on a thread of its own. Counting a large request takes the tokenizer tens to
 * hundreds of milliseconds even when bounded (./count-tokens.ts), time during which the event
 * loop would answer nothing: no stream chunk, no /healthz, no SIGTERM. Here one worker thread,
 * started on the first count and kept warm, counts one request at a time; the others wait in a
 * queue bounded in bytes, and a count that overruns its deadline ends the thread (the only way
 * to stop it) and answers an error; the next count starts a fresh one.
 *
 * The thread runs this very module (import.meta.url), which is also what `bun build` and
 * `bun build --compile` leave it as: the bundle or the binary itself, whose entry point
 * (src/main.ts) does nothing on a thread that is not the main one.
 */
import { isMainThread, parentPort, Worker as Thread, workerData } from "node:worker_threads";
import type { Worker } from "~/lib/worker";
import { countInputTokensWith, loadTokenizer } from "./count-tokens";
import type { CountTokensRequest } from "./request-schema";

const ROLE = "copilot-api count_tokens";

interface Job {
  id: number;
  text: string;
}

type Reply = { id: number; tokens: number } | { id: number; error: string };

/** What a count came to: the tokens, or why there are none. */
export type CountOutcome = { tokens: number } | { busy: { waitingBytes: number } } | { timedOut: { ms: number } } | { failed: string };

export interface TokenCounterOptions {
  /** A count that takes longer ends the thread and answers `timedOut`. */
  timeoutMs?: number;
  /** Bodies waiting for the thread, in bytes; past this a count answers `busy` at once. */
  maxWaitingBytes?: number;
}

/** 30 s: a bounded count of the largest body takes about a second here; this is for a machine that stalls. */
export const COUNT_TIMEOUT_MS = 30_000;
const MAX_WAITING_BYTES = 64 * 1024 * 1024;

interface Waiting extends Job {
  settle: (outcome: CountOutcome) => void;
}

/** The main thread's side: queues counts for the worker thread. Constructing it starts nothing; the first count starts the thread. */
export class TokenCounter implements Worker {
  private thread: Thread | undefined;
  private readonly queue: Waiting[] = [];
  private current: { job: Waiting; timer: ReturnType<typeof setTimeout> } | undefined;
  private waitingBytes = 0;
  private nextId = 1;
  private readonly timeoutMs: number;
  private readonly maxWaitingBytes: number;

  constructor(options: TokenCounterOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? COUNT_TIMEOUT_MS;
    this.maxWaitingBytes = options.maxWaitingBytes ?? MAX_WAITING_BYTES;
  }

  /** Counts the input tokens of a count_tokens body (JSON text already checked against the schema). */
  count(text: string): Promise<CountOutcome> {
    if (this.queue.length > 0 && this.waitingBytes + text.length > this.maxWaitingBytes) {
      return Promise.resolve({ busy: { waitingBytes: this.waitingBytes } });
    }
    return new Promise((settle) => {
      this.queue.push({ id: this.nextId++, text, settle });
      this.waitingBytes += text.length;
      this.next();
    });
  }

  /** Whether a count is running on the thread now. */
  get running(): boolean {
    return this.current !== undefined;
  }

  start(): void {}

  /** Ends the thread; counts still waiting answer `failed`. */
  async stop(): Promise<void> {
    const left = [...(this.current ? [this.current.job] : []), ...this.queue.splice(0)];
    if (this.current) clearTimeout(this.current.timer);
    this.current = undefined;
    this.waitingBytes = 0;
    for (const job of left) job.settle({ failed: "copilot-api is stopping" });
    const thread = this.thread;
    this.thread = undefined;
    await thread?.terminate();
  }

  private next(): void {
    if (this.current) return;
    const job = this.queue.shift();
    if (!job) return;
    this.waitingBytes -= job.text.length;
    const timer = setTimeout(() => this.finish(job.id, { timedOut: { ms: this.timeoutMs } }, true), this.timeoutMs);
    this.current = { job, timer };
    this.ensureThread().postMessage({ id: job.id, text: job.text } satisfies Job);
  }

  /** Settles the running job if it is still `id`; `restart` ends the thread first (it is stuck or gone). */
  private finish(id: number, outcome: CountOutcome, restart = false): void {
    const current = this.current;
    if (!current || current.job.id !== id) return;
    clearTimeout(current.timer);
    this.current = undefined;
    if (restart) {
      void this.thread?.terminate();
      this.thread = undefined;
    }
    current.job.settle(outcome);
    this.next();
  }

  private ensureThread(): Thread {
    if (this.thread) return this.thread;
    const thread = new Thread(new URL(import.meta.url), { workerData: { role: ROLE } });
    // An idle counter never keeps the process alive (a CLI command, a test file).
    thread.unref();
    thread.on("message", (reply: Reply) => this.finish(reply.id, "tokens" in reply ? { tokens: reply.tokens } : { failed: reply.error }));
    const lost = (why: string) => {
      if (this.thread !== thread) return;
      this.thread = undefined;
      if (this.current) this.finish(this.current.job.id, { failed: why });
    };
    thread.on("error", (error: Error) => lost(`the token counter failed: ${error.message}`));
    thread.on("exit", (code: number) => lost(`the token counter stopped (exit ${code})`));
    this.thread = thread;
    return thread;
  }
}

/** The thread's side: counts each body it is sent, one at a time, in the order sent. */
function serveCounts(port: NonNullable<typeof parentPort>): void {
  const counter = loadTokenizer();
  port.on("message", async (job: Job) => {
    let reply: Reply;
    try {
      const count = await counter;
      reply = { id: job.id, tokens: countInputTokensWith(JSON.parse(job.text) as CountTokensRequest, count) };
    } catch (error) {
      reply = { id: job.id, error: error instanceof Error ? error.message : String(error) };
    }
    port.postMessage(reply);
  });
}

if (!isMainThread && parentPort && (workerData as { role?: unknown } | null)?.role === ROLE) serveCounts(parentPort);
