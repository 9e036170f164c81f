import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "~/app-env";
import { apiError } from "~/lib/api-error";

/**
 * Reading a model request's body, bounded in size, in time and in how many one
 * address may have arriving at once: a client that trickles a body (one byte every
 * few seconds keeps a socket from ever going idle) would otherwise hold a connection,
 * a file descriptor and a buffer for as long as it likes.
 */

/** A body not complete this long after its headers gets 408 and the connection is closed. */
export const BODY_DEADLINE_MS = 60_000;
/** Bodies one address may have arriving at once; past it, 429 and the connection is closed. */
export const ARRIVING_BODIES_PER_ADDRESS = 16;

export interface BodyReadOptions {
  deadlineMs?: number;
  perAddress?: number;
}

/** The bodies arriving now, counted per client address (one instance per app, shared by every protocol). */
export class BodyReads {
  readonly deadlineMs: number;
  readonly perAddress: number;
  private readonly arriving = new Map<string, number>();

  constructor(options: BodyReadOptions = {}) {
    this.deadlineMs = options.deadlineMs ?? BODY_DEADLINE_MS;
    this.perAddress = options.perAddress ?? ARRIVING_BODIES_PER_ADDRESS;
  }

  /** Takes a slot for one more arriving body from `address`; false when it has all of its slots already. */
  enter(address: string): boolean {
    const now = this.arriving.get(address) ?? 0;
    if (now >= this.perAddress) return false;
    this.arriving.set(address, now + 1);
    return true;
  }

  leave(address: string): void {
    const now = this.arriving.get(address) ?? 1;
    // Deleted at zero, so the map holds only the addresses with a body arriving right now.
    if (now <= 1) this.arriving.delete(address);
    else this.arriving.set(address, now - 1);
  }
}

/** What a protocol's routes need to read bodies: the --body-limit-mb size, and the app's shared BodyReads. */
export interface BodyDeps {
  bodyLimitBytes: number;
  /** Shared by every protocol of one app (server.ts makes it); a private one when absent. */
  bodyReads?: BodyReads;
}

/** The address Bun's server saw (the fetch handler's second argument, Hono's c.env). */
function clientAddress(c: Context): string {
  const server = c.env as { requestIP?: (request: Request) => { address: string } | null } | undefined;
  return server?.requestIP?.(c.req.raw)?.address ?? "unknown";
}

/** A refusal after which the rest of the body is not read: the connection is closed, not kept for the next request. */
function closing(response: Response): Response {
  response.headers.set("connection", "close");
  return response;
}

/** Symbols, not strings: a body's text could be any string. */
const LATE = Symbol("late");
const TOO_LARGE = Symbol("too large");
type Outcome = Uint8Array<ArrayBuffer> | string | typeof TOO_LARGE | typeof LATE;

/** Resolves LATE after `ms`; `clear` stops the clock. */
function deadline(ms: number): { late: Promise<typeof LATE>; clear: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<typeof LATE>((resolve) => {
    timer = setTimeout(() => resolve(LATE), ms);
  });
  return { late, clear: () => clearTimeout(timer) };
}

/**
 * A body of a declared length (at most the limit: Bun reads no further) is read whole,
 * on Bun's native path; the text is what the route reads next (Hono caches c.req.text()).
 */
async function readDeclared(c: Context, deadlineMs: number): Promise<Outcome> {
  const clock = deadline(deadlineMs);
  const text = c.req.text();
  // Cut by the deadline, the read fails once the connection closes: nobody waits for it.
  text.catch(() => {});
  try {
    return await Promise.race([text, clock.late]);
  } finally {
    clock.clear();
  }
}

/** A chunked body (no length said): read chunk by chunk, stopped (the stream cancelled) past `maxBytes` or `deadlineMs`. */
async function readChunked(body: ReadableStream<Uint8Array>, maxBytes: number, deadlineMs: number): Promise<Outcome> {
  const reader = body.getReader();
  const { late, clear } = deadline(deadlineMs);
  let buffer = new Uint8Array(0);
  let size = 0;
  try {
    for (;;) {
      const step = await Promise.race([reader.read(), late]);
      if (step === LATE || (!step.done && size + step.value.length > maxBytes)) {
        reader.cancel().catch(() => {});
        return step === LATE ? LATE : TOO_LARGE;
      }
      if (step.done) return buffer.subarray(0, size);
      if (size + step.value.length > buffer.length) {
        const grown = new Uint8Array(Math.min(maxBytes, Math.max(size + step.value.length, buffer.length * 2)));
        grown.set(buffer.subarray(0, size));
        buffer = grown;
      }
      buffer.set(step.value, size);
      size += step.value.length;
    }
  } finally {
    clear();
  }
}

/**
 * 413 past --body-limit-mb or the route's own limit (from Content-Length before a byte is read, else while
 * reading), 408 when the body does not arrive within the deadline, 429 when the
 * address has too many bodies arriving; each in the protocol's error shape. The body
 * read here is what the route reads next (c.req.text()).
 */
export function readBodyWithin(deps: BodyDeps, own?: { maxBytes: number; remedy: string }): MiddlewareHandler<AppEnv> {
  const reads = deps.bodyReads ?? new BodyReads();
  // A route may have a smaller limit of its own (count_tokens), whose remedy it says.
  const maxBytes = own?.maxBytes ?? deps.bodyLimitBytes;
  const remedy = own?.remedy ?? "raise --body-limit-mb if this is expected";
  const tooLarge = (c: Context) =>
    closing(
      apiError(c, 413, {
        message: `request body is larger than ${maxBytes} bytes; ${remedy}`,
        type: "invalid_request_error",
        code: "body_too_large",
      }),
    );
  return async function readBody(c, next) {
    const raw = c.req.raw;
    if (!raw.body) return next();
    const length = raw.headers.has("transfer-encoding") ? null : raw.headers.get("content-length");
    const declared = length === null ? 0 : Number(length);
    if (declared > maxBytes) return tooLarge(c);
    const address = clientAddress(c);
    if (!reads.enter(address)) {
      return closing(
        apiError(c, 429, {
          message: `${reads.perAddress} requests from your address are still sending their bodies; wait for them to finish before sending more`,
          type: "rate_limit_error",
          code: "too_many_arriving_bodies",
        }),
      );
    }
    let body: Outcome;
    try {
      body = length === null ? await readChunked(raw.body, maxBytes, reads.deadlineMs) : await readDeclared(c, reads.deadlineMs);
    } finally {
      reads.leave(address);
    }
    if (body === TOO_LARGE) return tooLarge(c);
    if (body === LATE) {
      return closing(
        apiError(c, 408, {
          message: `the request body did not arrive within ${reads.deadlineMs / 1000} s of its headers; send the whole body at once`,
          type: "invalid_request_error",
          code: "body_timeout",
        }),
      );
    }
    // A chunked body: the same request with its body in memory; its signal still follows the client's connection.
    if (typeof body !== "string") c.req.raw = new Request(raw, { body, signal: raw.signal });
    return next();
  };
}
