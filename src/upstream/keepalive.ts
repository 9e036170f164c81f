import { log } from "~/lib/log";
import { type Clock, systemClock } from "./clock";

/** An SSE comment line: every client ignores it, every proxy sees bytes. */
export const SSE_COMMENT = ": keep-alive\n\n";
export const DEFAULT_KEEPALIVE_MS = 15_000;
export const KEEPALIVE_ENV = "COPILOT_API_SSE_KEEPALIVE_SECONDS";

export interface KeepAliveOptions {
  /** Silence after which `text` is sent; 0 turns keep-alives off. Default: $COPILOT_API_SSE_KEEPALIVE_SECONDS, else 15 s. */
  intervalMs?: number;
  /** A whole SSE event or comment, ending in a blank line (Anthropic streams send `event: ping`). */
  text?: string;
  clock?: Clock;
}

let warned = false;

/** The keep-alive interval from the environment: seconds, fractions allowed, 0 for none. */
export function keepAliveMsFromEnv(env: Record<string, string | undefined> = process.env): number {
  const raw = env[KEEPALIVE_ENV]?.trim();
  if (!raw) return DEFAULT_KEEPALIVE_MS;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  if (!warned) {
    warned = true;
    log.warn(`${KEEPALIVE_ENV}=${JSON.stringify(raw.slice(0, 40))} is not a number of seconds; using 15. Set it to e.g. 15, or 0 to turn keep-alives off`);
  }
  return DEFAULT_KEEPALIVE_MS;
}

const TICK = Symbol("tick");
type ReadResult = { done: true; value?: Uint8Array } | { done: false; value: Uint8Array };
const LF = 10;
const CR = 13;

/**
 * Relays an event stream unchanged, and after `intervalMs` without a byte from
 * upstream (a model thinking for a long time) sends `text`, so clients, proxies
 * and load balancers with idle timeouts keep the stream open. It is only ever
 * sent between events, never inside one that upstream left half-written.
 * Reads upstream only when the client reads (back-pressure is kept), and a client
 * that goes away cancels upstream.
 *
 * It sits on every relayed stream, so a chunk costs little: a read that has
 * already settled is passed on at once, and one clock timer serves a whole
 * silence period (it is armed when a wait begins and none is armed, and when it
 * fires early for the current wait it is armed again for the rest), instead of a
 * timer set and cleared for every chunk.
 */
export function withKeepAlive(body: ReadableStream<Uint8Array>, options: KeepAliveOptions = {}): ReadableStream<Uint8Array> {
  const intervalMs = options.intervalMs ?? keepAliveMsFromEnv();
  if (!(intervalMs > 0)) return body;
  const clock = options.clock ?? systemClock;
  const ping = new TextEncoder().encode(options.text ?? SSE_COMMENT);
  const reader = body.getReader();
  /** The upstream read the client is waiting on; kept across a keep-alive so no byte is lost. */
  let pending: Promise<ReadResult> | undefined;
  let timer: unknown;
  let armed = false;
  /** When the current wait for upstream began (the clock's now()). */
  let waitingSince = 0;
  /** Ends the current wait with a keep-alive; set only while a pull waits on upstream. */
  let wake: ((outcome: typeof TICK) => void) | undefined;
  /** The last bytes relayed end an event (a blank line), or nothing was relayed yet. */
  let atBoundary = true;
  /** The last four bytes relayed, b0 the last; -1 before any. */
  let b3 = -1;
  let b2 = -1;
  let b1 = -1;
  let b0 = -1;

  const note = (chunk: Uint8Array) => {
    const n = chunk.length;
    if (n === 0) return;
    if (n >= 4) {
      b3 = chunk[n - 4]!;
      b2 = chunk[n - 3]!;
      b1 = chunk[n - 2]!;
      b0 = chunk[n - 1]!;
    } else {
      for (let i = 0; i < n; i++) {
        b3 = b2;
        b2 = b1;
        b1 = b0;
        b0 = chunk[i]!;
      }
    }
    atBoundary = (b1 === LF && b0 === LF) || (b1 === CR && b0 === CR) || (b3 === CR && b2 === LF && b1 === CR && b0 === LF);
  };

  const arm = (ms: number) => {
    armed = true;
    timer = clock.setTimeout(fire, ms);
  };
  const disarm = () => {
    if (!armed) return;
    armed = false;
    clock.clearTimeout(timer);
  };
  function fire() {
    armed = false;
    if (!wake) return; // no pull is waiting: the next wait arms a timer again
    const now = clock.now();
    const left = waitingSince + intervalMs - now;
    if (left > 0) return arm(left); // armed during an earlier wait: the rest of this one
    if (!atBoundary) {
      // mid-event: wait for upstream to finish it, and count a new silence period
      waitingSince = now;
      return arm(intervalMs);
    }
    const end = wake;
    wake = undefined;
    end(TICK);
  }

  let controller!: ReadableStreamDefaultController<Uint8Array>;
  /** Hands one outcome of the upstream read to the client. */
  const deliver = (outcome: ReadResult) => {
    pending = undefined;
    if (outcome.done) {
      disarm();
      controller.close();
      return;
    }
    note(outcome.value);
    controller.enqueue(outcome.value);
  };
  // Made once, not per chunk: a pull that has to wait races the read against the timer's wake.
  const waitFor = (resolve: (outcome: ReadResult | typeof TICK) => void, reject: (error: unknown) => void) => {
    wake = resolve;
    pending!.then(resolve, reject);
  };
  const waited = (outcome: ReadResult | typeof TICK) => {
    wake = undefined;
    if (outcome === TICK) controller.enqueue(ping);
    else deliver(outcome);
  };
  const failed = (error: unknown) => {
    wake = undefined;
    disarm();
    controller.error(error);
  };

  return new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
      },
      pull() {
        pending ??= reader.read() as Promise<ReadResult>;
        const read = pending;
        if (Bun.peek.status(read) === "fulfilled") return deliver(Bun.peek(read) as ReadResult);
        waitingSince = clock.now();
        if (!armed) arm(intervalMs);
        return new Promise(waitFor).then(waited, failed);
      },
      async cancel(reason) {
        wake = undefined;
        disarm();
        await reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
