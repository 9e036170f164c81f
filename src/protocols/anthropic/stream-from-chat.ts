/**
 * Copilot's streamed chat completion (SSE `data: {chunk}` lines, ending `data: [DONE]`) →
 * Anthropic's streamed message events:
 *
 *   message_start
 *   (content_block_start, content_block_delta*, content_block_stop)*   thinking / text / tool_use
 *   message_delta   (stop_reason, usage)
 *   message_stop
 *
 * or an `event: error` when Copilot sends an error chunk, the connection fails, or the stream
 * ends before the answer did. Nothing is buffered beyond the current SSE line: every upstream
 * read that carries a complete line produces its events at once, lines split across reads
 * (even inside a UTF-8 character) are joined, and the reader's pace drives the upstream reads.
 *
 * Copilot's stream, as it really comes: no `object` field; often a first chunk with
 * `prompt_filter_results` and `choices: []`; `finish_reason` possibly in a chunk before the
 * one with `usage`; usage in the last chunk (maybe with `choices: []`), or zeroes on every
 * chunk and the real numbers at the end; reasoning as `reasoning_text` (or
 * `reasoning_content`) with the signature as `reasoning_opaque`; tool call id and name only
 * in the first delta of each tool call index.
 */

import type { ChatChunkDelta, ChatCompletionChunk, ChatFinishReason, ChatUsage } from "../chat";
import { type ChatStreamTranslatorLike, LineSplitter, pumpChatStream } from "../chat";
import { type AnthropicErrorType, anthropicErrorEvent, MAX_ERROR_MESSAGE_LENGTH, readUpstreamError } from "./errors";
import { type AnthropicStopReason, type AnthropicUsage, mapStopReason, mapUsage, messageId } from "./from-chat";

export interface ChatStreamOptions {
  /** The model name to report in `message_start`: the name the client asked for. */
  model: string;
  /** The message id; by default `msg_` + the id of Copilot's first chunk. */
  messageId?: string;
  /** `usage.input_tokens` announced in `message_start` (e.g. a local count); the final count comes in `message_delta`. Default 0. */
  inputTokensEstimate?: number;
}

/** How a translated stream ended; resolved once, when the stream is over (finished, failed or cancelled). */
export interface ChatStreamOutcome {
  /** The last usage Copilot reported, mapped to Anthropic's fields; undefined if it reported none. */
  usage?: AnthropicUsage;
  /** Copilot's raw usage, for callers that record prompt/completion tokens as Copilot counts them. */
  chatUsage?: ChatUsage;
  /** The stop reason sent in `message_delta`; null when the stream did not complete. */
  stopReason: AnthropicStopReason | null;
  /** Set when the stream ended with `event: error`. */
  error?: { type: AnthropicErrorType; message: string };
  /** `message_stop` was sent. */
  completed: boolean;
  /** The reader (the client) cancelled the stream before it ended. */
  cancelled: boolean;
  /** `data:` lines that were not JSON and were skipped. */
  malformedLines: number;
}

export interface ChatStreamTranslation {
  /** The Anthropic SSE byte stream to answer the client with. */
  stream: ReadableStream<Uint8Array>;
  /** Resolves when the stream is over; never rejects. */
  done: Promise<ChatStreamOutcome>;
}

type OpenBlock = { kind: "thinking" | "text" | "tool"; index: number } | null;

/** Translates a Copilot chat SSE stream into the Anthropic event stream. Constructing reads nothing; reading the result pulls upstream. */
export function translateChatStream(upstream: ReadableStream<Uint8Array>, options: ChatStreamOptions): ChatStreamTranslation {
  const translator = new ChatStreamTranslator(options);
  let resolveDone!: (outcome: ChatStreamOutcome) => void;
  const done = new Promise<ChatStreamOutcome>((resolve) => (resolveDone = resolve));
  const stream = pumpChatStream(upstream, translator, () => resolveDone(translator.outcome()));
  return { stream, done };
}

/**
 * The translation state machine, fed text as it arrives. Exposed for callers that already
 * hold decoded lines; most use {@link translateChatStream}.
 */
export class ChatStreamTranslator implements ChatStreamTranslatorLike {
  /** Set once the last event (message_stop or error) was produced; later input is ignored. */
  finished = false;
  cancelled = false;

  private readonly lines = new LineSplitter();
  private started = false;
  private nextIndex = 0;
  private open: OpenBlock = null;
  private readonly tools = new Map<string, number>();
  private lastToolKey: string | undefined;
  private toolUsed = false;
  private finish: ChatFinishReason | null = null;
  private lastUsage: ChatUsage | undefined;
  private stopReason: AnthropicStopReason | null = null;
  private error: { type: AnthropicErrorType; message: string } | undefined;
  private completed = false;
  private malformed = 0;
  private out = "";

  constructor(private readonly options: ChatStreamOptions) {}

  /** Feeds raw upstream bytes; returns the Anthropic SSE text they complete (maybe empty). */
  push(bytes: Uint8Array): string {
    if (this.finished) return "";
    this.lines.push(bytes, (line) => {
      this.line(line);
      return !this.finished;
    });
    return this.flush();
  }

  /** The upstream ended. Completes the message if Copilot finished it, else reports an error. */
  end(): string {
    if (this.finished) return this.flush();
    const last = this.lines.end();
    if (last !== "") this.line(last);
    if (!this.finished) {
      if (this.finish !== null) this.complete();
      else this.raise("api_error", "Copilot's stream ended before the answer was complete; retry the request");
    }
    return this.flush();
  }

  /** The upstream failed (network error, abort): ends with an `event: error`. */
  fail(message: string): string {
    if (!this.finished) this.raise("overloaded_error", message);
    return this.flush();
  }

  /** What the stream saw so far. */
  outcome(): ChatStreamOutcome {
    const outcome: ChatStreamOutcome = {
      stopReason: this.stopReason,
      completed: this.completed,
      cancelled: this.cancelled && !this.finished,
      malformedLines: this.malformed,
    };
    if (this.lastUsage) {
      outcome.usage = mapUsage(this.lastUsage);
      outcome.chatUsage = this.lastUsage;
    }
    if (this.error) outcome.error = this.error;
    return outcome;
  }

  private flush(): string {
    const text = this.out;
    this.out = "";
    return text;
  }

  private emit(event: string, data: unknown): void {
    this.out += `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
  }

  private line(raw: string): void {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (!line.startsWith("data:")) return; // blank separators, `event:`, `id:`, `:` comments
    const data = line.slice(line.startsWith("data: ") ? 6 : 5).trim();
    if (data === "") return;
    if (data === "[DONE]") {
      this.complete();
      return;
    }
    let chunk: ChatCompletionChunk;
    try {
      chunk = JSON.parse(data) as ChatCompletionChunk;
    } catch {
      this.malformed += 1;
      return;
    }
    if (typeof chunk !== "object" || chunk === null) {
      this.malformed += 1;
      return;
    }
    this.chunk(chunk);
  }

  private chunk(chunk: ChatCompletionChunk): void {
    if (chunk.error !== undefined && chunk.error !== null) {
      const { message, type } = readUpstreamError(JSON.stringify({ type: "error", error: chunk.error }));
      const known = type === "rate_limit_error" || type === "overloaded_error" || type === "invalid_request_error" ? type : "api_error";
      this.raise(known, message ?? "Copilot sent an error in the stream");
      return;
    }
    const choices = chunk.choices ?? [];
    // A prompt_filter_results chunk (no choices, no usage, often an empty id) starts nothing:
    // message_start waits for the first real chunk, whose id becomes the message id.
    if (choices.length === 0 && !chunk.usage) return;
    this.start(chunk.id);
    if (chunk.usage) this.lastUsage = chunk.usage;
    for (const choice of choices) {
      if (choice.delta) this.delta(choice.delta, choice.index ?? 0);
      if (choice.finish_reason) this.finish = choice.finish_reason;
    }
  }

  private start(chunkId: string | undefined): void {
    if (this.started) return;
    this.started = true;
    this.emit("message_start", {
      type: "message_start",
      message: {
        id: this.options.messageId ?? messageId(chunkId),
        type: "message",
        role: "assistant",
        model: this.options.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: this.options.inputTokensEstimate ?? 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
      },
    });
  }

  /** One delta, in Anthropic's block order: reasoning, its signature, text, tool calls. */
  private delta(delta: ChatChunkDelta, choiceIndex: number): void {
    const reasoning = delta.reasoning_text ?? delta.reasoning_content;
    if (typeof reasoning === "string" && reasoning !== "") {
      const index = this.openBlock("thinking", { type: "thinking", thinking: "", signature: "" });
      this.emit("content_block_delta", { type: "content_block_delta", index, delta: { type: "thinking_delta", thinking: reasoning } });
    }
    if (typeof delta.reasoning_opaque === "string" && delta.reasoning_opaque !== "") {
      if (this.open?.kind === "thinking") {
        this.emit("content_block_delta", {
          type: "content_block_delta",
          index: this.open.index,
          delta: { type: "signature_delta", signature: delta.reasoning_opaque },
        });
      } else {
        // A signature with no visible reasoning: Anthropic's encrypted-thinking block.
        this.closeBlock();
        const index = this.nextIndex++;
        this.emit("content_block_start", { type: "content_block_start", index, content_block: { type: "redacted_thinking", data: delta.reasoning_opaque } });
        this.emit("content_block_stop", { type: "content_block_stop", index });
      }
    }
    if (typeof delta.content === "string" && delta.content !== "") {
      const index = this.openBlock("text", { type: "text", text: "" });
      this.emit("content_block_delta", { type: "content_block_delta", index, delta: { type: "text_delta", text: delta.content } });
    }
    for (const call of delta.tool_calls ?? []) {
      const key = call.index !== undefined ? `${choiceIndex}:${call.index}` : call.id ? `id:${call.id}` : this.lastToolKey;
      let index = key === undefined ? undefined : this.tools.get(key);
      if (index === undefined) {
        this.closeBlock();
        index = this.nextIndex++;
        const toolKey = key ?? `anon:${index}`;
        this.tools.set(toolKey, index);
        this.lastToolKey = toolKey;
        this.toolUsed = true;
        this.open = { kind: "tool", index };
        const id = call.id && call.id !== "" ? call.id : `toolu_${crypto.randomUUID().replaceAll("-", "")}`;
        this.emit("content_block_start", {
          type: "content_block_start",
          index,
          content_block: { type: "tool_use", id, name: call.function?.name ?? "", input: {} },
        });
      }
      const args = call.function?.arguments;
      // A late delta for an earlier tool call still goes to that call's block (clients accumulate by index).
      if (typeof args === "string" && args !== "") {
        this.emit("content_block_delta", { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: args } });
      }
    }
  }

  /** Returns the index of the open block of `kind`, closing another one and starting this one if needed. */
  private openBlock(kind: "thinking" | "text", contentBlock: unknown): number {
    if (this.open?.kind === kind) return this.open.index;
    this.closeBlock();
    const index = this.nextIndex++;
    this.open = { kind, index };
    this.emit("content_block_start", { type: "content_block_start", index, content_block: contentBlock });
    return index;
  }

  private closeBlock(): void {
    if (this.open === null) return;
    this.emit("content_block_stop", { type: "content_block_stop", index: this.open.index });
    this.open = null;
  }

  private complete(): void {
    if (this.finished) return;
    this.start(undefined);
    this.closeBlock();
    let stop = mapStopReason(this.finish) ?? "end_turn";
    if (this.toolUsed && stop === "end_turn") stop = "tool_use";
    this.stopReason = stop;
    this.emit("message_delta", { type: "message_delta", delta: { stop_reason: stop, stop_sequence: null }, usage: mapUsage(this.lastUsage) });
    this.emit("message_stop", { type: "message_stop" });
    this.completed = true;
    this.finished = true;
  }

  private raise(type: AnthropicErrorType, message: string): void {
    this.out += anthropicErrorEvent(type, message);
    this.error = { type, message: message.slice(0, MAX_ERROR_MESSAGE_LENGTH) };
    this.finished = true;
  }
}
