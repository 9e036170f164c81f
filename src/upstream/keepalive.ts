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
 */
export function withKeepAlive(body: ReadableStream<Uint8Array>, options: KeepAliveOptions = {}): ReadableStream<Uint8Array> {
  const intervalMs = options.intervalMs ?? keepAliveMsFromEnv();
  if (!(intervalMs > 0)) return body;
  const clock = options.clock ?? systemClock;
  const ping = new TextEncoder().encode(options.text ?? SSE_COMMENT);
  const reader = body.getReader();
  let pending: Promise<ReadResult> | undefined;
  let timer: unknown;
  /** The last bytes relayed end an event (a blank line), or nothing was relayed yet. */
  let atBoundary = true;
  let tail: number[] = [];

  const note = (chunk: Uint8Array) => {
    if (chunk.length === 0) return;
    tail = [...tail, ...chunk.subarray(Math.max(0, chunk.length - 4))].slice(-4);
    const [a, b, c, d] = [tail.at(-4), tail.at(-3), tail.at(-2), tail.at(-1)];
    atBoundary = (c === LF && d === LF) || (c === CR && d === CR) || (a === CR && b === LF && c === CR && d === LF);
  };

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          pending ??= reader.read() as Promise<ReadResult>;
          const tick = new Promise<typeof TICK>((resolve) => {
            timer = clock.setTimeout(() => resolve(TICK), intervalMs);
          });
          let outcome: ReadResult | typeof TICK;
          try {
            outcome = await Promise.race([pending, tick]);
          } catch (error) {
            controller.error(error);
            return;
          } finally {
            clock.clearTimeout(timer);
          }
          if (outcome === TICK) {
            if (!atBoundary) continue; // mid-event: wait for upstream to finish it
            controller.enqueue(ping);
            return;
          }
          pending = undefined;
          if (outcome.done) {
            controller.close();
            return;
          }
          note(outcome.value);
          controller.enqueue(outcome.value);
          return;
        }
      },
      async cancel(reason) {
        clock.clearTimeout(timer);
        await reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
