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

type Outcome = Uint8Array<ArrayBuffer> | "too large" | "late";

/** Reads the whole body, or stops (and cancels the stream) once it passes `maxBytes` or `deadlineMs`. */
async function readWithin(body: ReadableStream<Uint8Array>, maxBytes: number, deadlineMs: number, declared: number): Promise<Outcome> {
  const reader = body.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), deadlineMs);
  });
  let buffer = new Uint8Array(Math.min(declared, maxBytes));
  let size = 0;
  try {
    for (;;) {
      const step = await Promise.race([reader.read(), late]);
      if (step === "late" || (!step.done && size + step.value.length > maxBytes)) {
        reader.cancel().catch(() => {});
        return step === "late" ? "late" : "too large";
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
    clearTimeout(timer);
  }
}

/**
 * 413 past --body-limit-mb (from Content-Length before a byte is read, else while
 * reading), 408 when the body does not arrive within the deadline, 429 when the
 * address has too many bodies arriving; each in the protocol's error shape. The body
 * read here is what the route reads next (c.req.text()).
 */
export function readBodyWithin(deps: BodyDeps): MiddlewareHandler<AppEnv> {
  const reads = deps.bodyReads ?? new BodyReads();
  const maxBytes = deps.bodyLimitBytes;
  const tooLarge = (c: Context) =>
    closing(
      apiError(c, 413, {
        message: `request body is larger than ${maxBytes} bytes; raise --body-limit-mb if this is expected`,
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
      body = await readWithin(raw.body, maxBytes, reads.deadlineMs, Number.isFinite(declared) ? declared : 0);
    } finally {
      reads.leave(address);
    }
    if (body === "too large") return tooLarge(c);
    if (body === "late") {
      return closing(
        apiError(c, 408, {
          message: `the request body did not arrive within ${reads.deadlineMs / 1000} s of its headers; send the whole body at once`,
          type: "invalid_request_error",
          code: "body_timeout",
        }),
      );
    }
    // The same request with its body in memory; its signal still follows the client's connection.
    c.req.raw = new Request(raw, { body, signal: raw.signal });
    return next();
  };
}
