import type { Context } from "hono";
import { ApiFailure, ClientGone } from "~/lib/api-error";
import { clip } from "~/lib/clip";
import { cmd } from "~/lib/command-name";
import { describeError, errorMessage } from "~/lib/errors";
import { log } from "~/lib/log";
import type { RequestTrace } from "~/lib/trace-hook";
import type { ForwardOptions } from "./copilot-client";
import { GithubTokenRejected } from "./copilot-token";
import { type Forwarder, SeatUnavailable } from "./forwarder";
import { withKeepAlive } from "./keepalive";

/** Why a relayed stream ended early: Copilot's side broke, or the client went away. */
export type StreamFailure = "upstream_error" | "client_aborted";

/**
 * The first and last text of a relayed stream: usage sits at its start (Anthropic) or its end
 * (OpenAI). Each is decoded when first read: a chat stream's usage never needs its head.
 */
export interface StreamEnds {
  readonly head: string;
  readonly tail: string;
}

/**
 * What the relay tells the route about Copilot's answer, so the route's
 * protocol can read usage from it and the event can be recorded. The relay
 * itself knows streams and headers, not any protocol's wire format.
 */
export interface AnswerObserver {
  /** About to send to Copilot: what the request will tell Copilot is now known (a quota's hold is sized by it). */
  sending?(sent: Pick<ForwardOptions, "initiator">): void;
  /** Copilot answered: the status is now Copilot's; `sent` is what the request told Copilot. */
  reached(sent: Pick<ForwardOptions, "initiator">): void;
  /** A successful JSON answer, parsed. */
  answer(json: unknown): void;
  /**
   * A stream is being relayed. Returns its end: called once with the stream's
   * ends and why it stopped early (null when complete); the client sees the
   * stream close only once the returned promise settles (the event is on disk).
   */
  streamStarted(): (ends: StreamEnds, failure: StreamFailure | null) => Promise<void>;
  /** The client went away before Copilot answered. */
  aborted(): void;
  /** True once the client has hung up: a stream that breaks off then was cut on our side, because of the client. */
  clientLeft?(): boolean;
}

export interface RelayOptions {
  /** Rewrites a stream on its way to the client (a protocol's chunk fixes or translation). */
  transform?: (body: ReadableStream<Uint8Array>) => ReadableStream<Uint8Array>;
  /** Rewrites a successful JSON answer on its way to the client: gets its text and the parsed JSON, returns the text to send. */
  rewriteAnswer?: (text: string, json: unknown) => string;
  /** The client's route, for the log when a stream breaks. */
  route?: string;
  /** The model the client asked for, for the log when a stream breaks. */
  model?: string | null;
  /** The keep-alive text for silent streams (Anthropic's `event: ping`); an SSE comment by default. */
  keepAliveText?: string;
}

/** What every route that needs Copilot answers without a GitHub token. */
export const noGithubToken = () =>
  new ApiFailure(503, {
    message: `copilot-api has no GitHub token: run \`${cmd("auth")}\`; this server picks the token up on its next request, no restart needed (or restart it with --github-token-file or GH_TOKEN)`,
    type: "server_error",
    code: "not_authenticated",
  });

/**
 * Sends a request to Copilot and hands back its raw answer. When it cannot be
 * sent, throws the problem the client is answered in its protocol's shape:
 * 503 without a GitHub token (or with one GitHub refused: `x-should-retry:
 * false`), 502 when Copilot cannot be reached, ClientGone (499) when the
 * client left first.
 */
export async function sendToCopilot(
  c: Context,
  copilot: Forwarder | undefined,
  options: Omit<ForwardOptions, "signal">,
  observer: Pick<AnswerObserver, "sending" | "reached" | "aborted">,
): Promise<Response> {
  if (!copilot) throw noGithubToken();
  observer.sending?.(options);
  // With tracing on, the upstream call is a child span and Copilot gets its traceparent.
  const span = (c.get("trace") as RequestTrace | undefined)?.upstream(options.path);
  try {
    const upstream = await copilot.forward({ ...options, signal: c.req.raw.signal, headers: traceHeaders(span, options.headers) });
    span?.end(upstream.status);
    observer.reached(options);
    return upstream;
  } catch (error) {
    span?.end(undefined);
    if (c.req.raw.signal.aborted) {
      observer.aborted();
      throw new ClientGone();
    }
    // Retrying cannot help until someone signs in again (or the seat is fixed): tell SDKs not to.
    if (error instanceof GithubTokenRejected || error instanceof SeatUnavailable) {
      const code = error instanceof SeatUnavailable ? "credential_unavailable" : "github_token_rejected";
      throw new ApiFailure(503, { message: describeError(error), type: "server_error", code }, { "x-should-retry": "false" });
    }
    log.error(`upstream ${options.path}: ${errorMessage(error)}`);
    throw new ApiFailure(502, { message: describeError(error), type: "upstream_error", code: "upstream_unavailable" });
  }
}

const traceHeaders = (span: { traceparent: string } | undefined, headers: Record<string, string> | undefined) =>
  span ? { ...headers, traceparent: span.traceparent } : headers;

const RELAYED_HEADERS = ["content-type", "retry-after", "x-request-id", "x-ratelimit-remaining", "x-ratelimit-reset"];

/** The headers of Copilot's answer worth passing on, chosen rather than copied. */
export function relayedHeaders(upstream: Response): Headers {
  const headers = new Headers();
  for (const name of RELAYED_HEADERS) {
    const value = upstream.headers.get(name);
    if (value) headers.set(name, value);
  }
  return headers;
}

export const isEventStream = (response: Response) => (response.headers.get("content-type") ?? "").startsWith("text/event-stream");

/**
 * Copilot's status and body go back as they came (errors included). Headers are
 * chosen, not copied: fetch has already decoded the body, so content-encoding
 * and content-length from upstream would be wrong. On the way, the observer is
 * shown the JSON answer or the ends of the stream.
 */
export async function relay(upstream: Response, observer: AnswerObserver, options: RelayOptions = {}): Promise<Response> {
  const headers = relayedHeaders(upstream);
  const type = headers.get("content-type") ?? "";
  if (isEventStream(upstream) && upstream.body) {
    headers.set("cache-control", "no-cache");
    const observed = observeStream(upstream.body, observer, options);
    const body = options.transform ? options.transform(observed) : observed;
    return new Response(withKeepAlive(body, { text: options.keepAliveText }), { status: upstream.status, headers });
  }
  if (upstream.ok && type.includes("json")) {
    const text = await upstream.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON after all: relayed as it came, usage unknown
      return new Response(text, { status: upstream.status, headers });
    }
    observer.answer(json);
    return new Response(options.rewriteAnswer ? options.rewriteAnswer(text, json) : text, { status: upstream.status, headers });
  }
  return new Response(upstream.body, { status: upstream.status, headers });
}

const HEAD_BYTES = 16_384;
const TAIL_BYTES = 32_768;

/**
 * The first and last bytes of a stream, kept as the chunks that came (no copy
 * per chunk) and decoded once, at its end: a 500-chunk stream pays for one
 * decode, not 500 string copies of the tail.
 */
class StreamEndsKeeper {
  private readonly head: Uint8Array[] = [];
  private headBytes = 0;
  private readonly tail: Uint8Array[] = [];
  private tailBytes = 0;
  bytes = 0;

  add(chunk: Uint8Array): void {
    this.bytes += chunk.byteLength;
    if (this.headBytes < HEAD_BYTES) {
      this.head.push(chunk);
      this.headBytes += chunk.byteLength;
    }
    this.tail.push(chunk);
    this.tailBytes += chunk.byteLength;
    // Drop whole chunks from the front while what stays still covers the window.
    while (this.tail.length > 1 && this.tailBytes - this.tail[0]!.byteLength >= TAIL_BYTES) this.tailBytes -= this.tail.shift()!.byteLength;
  }

  /** As text, each end decoded once and only when read; a character cut at the window's edge decodes as U+FFFD, which usage parsing skips like any cut line. */
  ends(): StreamEnds {
    const decode = (chunks: Uint8Array[]) => utf8.decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    const { head, tail } = this;
    let headText: string | undefined;
    let tailText: string | undefined;
    // Whole chunks were kept: cut to the windows (in characters now, at most the bytes' count).
    return {
      get head() {
        headText ??= decode(head).slice(0, HEAD_BYTES);
        return headText;
      },
      get tail() {
        tailText ??= decode(tail).slice(-TAIL_BYTES);
        return tailText;
      },
    };
  }
}

const utf8 = new TextDecoder();

/**
 * Passes a stream through unchanged while keeping its first and last text,
 * where protocols put usage. Tells the observer when it finishes, fails, or
 * the client cancels it; the stream closes only once the observer is done.
 * A stream Copilot breaks off is said in the log as a warning (route, model, how
 * far it got, the reason in one line); one the client hangs up on, as its doing.
 */
export function observeStream(
  body: ReadableStream<Uint8Array>,
  observer: AnswerObserver,
  about: Pick<RelayOptions, "route" | "model"> = {},
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const end = observer.streamStarted();
  const kept = new StreamEndsKeeper();
  let ended: Promise<void> | undefined;
  const where = () => `${clip(about.route ?? "stream")}${about.model ? `, model ${clip(about.model)}` : ""}`;
  let hungUp = false;
  /** Said once, whichever the client's leaving reaches first: our read failing, or the stream's cancel. */
  const clientHungUp = () => {
    if (hungUp || ended) return;
    hungUp = true;
    log.info(`the client's connection closed after ${kept.bytes} bytes of the stream (${where()}); the event is tagged client_aborted`);
  };
  const finish = (failure: StreamFailure | null) => {
    ended ??= end(kept.ends(), failure);
    return ended;
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            // The client sees the answer complete only once its event is on disk.
            await finish(null);
            controller.close();
            return;
          }
          kept.add(value);
          controller.enqueue(value);
        } catch (error) {
          // The client hanging up aborts our fetch too: that break is the client's doing, not Copilot's.
          const failure = observer.clientLeft?.() ? "client_aborted" : "upstream_error";
          if (failure === "client_aborted") clientHungUp();
          else {
            log.warn(
              `Copilot's stream broke off after ${kept.bytes} bytes (${where()}): ${clip(errorMessage(error))}; the client's stream was cut and the event tagged upstream_error`,
            );
          }
          // Cut the client's connection, as Copilot cut ours. Without a reason: the one
          // above is in our log, and Bun would print an Error's stack trace to stderr.
          controller.error();
          void finish(failure);
        }
      },
      async cancel(reason) {
        clientHungUp();
        void finish("client_aborted");
        await reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
