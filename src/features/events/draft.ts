import type { EventError } from "~/db/schema";

/** What a request's handlers learn about it, filled in as it goes and recorded once at its end. */
export interface EventDraft {
  keyId: string;
  /** The model the client asked for. */
  model: string | null;
  stream: boolean;
  upstreamModel: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  /** The request reached Copilot (its status is Copilot's). */
  reachedUpstream: boolean;
  /** A usage block was found in Copilot's answer. */
  usageSeen: boolean;
  /** Set when something more specific than the status explains the failure. */
  error: EventError | null;
  /** For streamed answers: settles when the stream ends or the client goes away. */
  streamEnded?: Promise<void>;
  /** For streamed answers: settles once the event is committed; the stream's end waits for it. */
  recorded?: Promise<void>;
}

/** Before key resolution knows better: a request that presented no usable key. */
export const UNAUTHENTICATED_KEY_ID = "__unauthenticated__";

export function newDraft(): EventDraft {
  return {
    keyId: UNAUTHENTICATED_KEY_ID,
    model: null,
    stream: false,
    upstreamModel: null,
    promptTokens: null,
    completionTokens: null,
    reachedUpstream: false,
    usageSeen: false,
    error: null,
  };
}

/** Copies a usage block ({ prompt_tokens, completion_tokens }) and model from a parsed answer or chunk. */
export function noteUsage(draft: EventDraft, answer: unknown): void {
  if (typeof answer !== "object" || answer === null) return;
  const { model, usage } = answer as { model?: unknown; usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } };
  if (typeof model === "string" && model) draft.upstreamModel = model;
  if (typeof usage !== "object" || usage === null) return;
  draft.usageSeen = true;
  draft.promptTokens = typeof usage.prompt_tokens === "number" ? usage.prompt_tokens : null;
  draft.completionTokens = typeof usage.completion_tokens === "number" ? usage.completion_tokens : null;
}

const TAIL_CHARS = 32_768;

/**
 * Passes a server-sent-event stream through unchanged while keeping its tail,
 * where Copilot puts the usage block. Ends the draft when the stream finishes,
 * fails, or the client cancels it (client_aborted).
 */
export function observeStream(body: ReadableStream<Uint8Array>, draft: EventDraft): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let tail = "";
  let end!: () => void;
  draft.streamEnded = new Promise<void>((resolve) => (end = resolve));
  let ended = false;
  const finish = (error: EventDraft["error"]) => {
    if (ended) return;
    ended = true;
    for (const line of tail.split("\n").reverse()) {
      if (!line.startsWith("data:")) continue;
      const data = line.slice(5).trim();
      if (data === "[DONE]") continue;
      try {
        const chunk = JSON.parse(data) as unknown;
        noteUsage(draft, chunk);
        if (draft.usageSeen) break;
      } catch {
        // a chunk cut by the tail window or by an abort: keep looking further up
      }
    }
    if (error) draft.error = error;
    end();
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            tail += decoder.decode();
            finish(null);
            // The client sees the answer complete only once its event is on disk.
            await draft.recorded;
            controller.close();
            return;
          }
          tail = (tail + decoder.decode(value, { stream: true })).slice(-TAIL_CHARS);
          controller.enqueue(value);
        } catch (error) {
          controller.error(error);
          finish("upstream_error");
        }
      },
      async cancel(reason) {
        finish("client_aborted");
        await reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
