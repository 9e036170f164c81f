/**
 * Copilot's streamed chat completion (SSE `data: {chunk}` lines, ending `data: [DONE]`) →
 * the Responses event stream, in OpenAI's order:
 *
 *   response.created, response.in_progress
 *   per output item, in order (reasoning, message, function calls):
 *     response.output_item.added
 *     reasoning: response.reasoning_summary_part.added, response.reasoning_summary_text.delta*,
 *                response.reasoning_summary_text.done, response.reasoning_summary_part.done
 *     message:   response.content_part.added, response.output_text.delta*,
 *                response.output_text.done, response.content_part.done
 *     call:      response.function_call_arguments.delta*, response.function_call_arguments.done
 *     response.output_item.done
 *   exactly one of response.completed / response.incomplete / response.failed, with usage
 *
 * Every event carries `sequence_number`. Nothing is buffered beyond the current SSE line, and
 * the reader's pace drives the upstream reads. Copilot's stream as it really comes (no
 * `object`, a first `prompt_filter_results` chunk with no choices, usage in the last chunk,
 * tool call id and name only in a call's first delta) is read as the Anthropic translation reads it.
 */
import type { ChatChunkDelta, ChatCompletionChunk, ChatFinishReason, ChatUsage } from "../chat";
import { type ChatStreamTranslatorLike, LineSplitter, pumpChatStream } from "../chat";
import { mapUsage, messageItem, type ResponseContext, responseSkeleton, statusOf } from "./from-chat";
import { namespacedName } from "./namespaces";
import { newId, type OutputFunctionCall, type OutputItem, type OutputReasoning, type ResponseObject } from "./types";

/** Copilot's error messages are kept, but never more than this many characters of them. */
const MAX_ERROR_MESSAGE_LENGTH = 2000;

export interface ResponsesStreamOutcome {
  /** The Response the stream ended with (completed, incomplete or failed); undefined if the client left first. */
  response?: ResponseObject;
  /** Copilot's last usage block, as it counted. */
  chatUsage?: ChatUsage;
  /** The model Copilot says answered. */
  upstreamModel?: string;
  /** The reader (the client) cancelled the stream before it ended. */
  cancelled: boolean;
}

export interface ResponsesStreamOptions {
  /** Called once with the final Response, before its terminal event is sent (so it can be stored first). */
  onResponse?: (response: ResponseObject) => void;
}

/** Translates a Copilot chat SSE stream into the Responses event stream. Constructing reads nothing. */
export function translateChatStream(
  upstream: ReadableStream<Uint8Array>,
  context: ResponseContext,
  options: ResponsesStreamOptions = {},
): { stream: ReadableStream<Uint8Array>; translator: ResponsesStreamTranslator } {
  const translator = new ResponsesStreamTranslator(context, options);
  const stream = pumpChatStream(upstream, translator);
  return { stream, translator };
}

type OpenItem =
  | { kind: "reasoning"; index: number; item: OutputReasoning; text: string; part: boolean }
  | { kind: "message"; index: number; id: string; text: string }
  | { kind: "call"; index: number; item: OutputFunctionCall };

/** The translation state machine, fed bytes as they arrive. Most callers use {@link translateChatStream}. */
export class ResponsesStreamTranslator implements ChatStreamTranslatorLike {
  /** Set once the terminal event was produced; later input is ignored. */
  finished = false;
  cancelled = false;

  private readonly lines = new LineSplitter();
  private started = false;
  private sequence = 0;
  private readonly output: OutputItem[] = [];
  private open: OpenItem[] = [];
  private readonly calls = new Map<string, OpenItem & { kind: "call" }>();
  private lastCallKey: string | undefined;
  private finish: ChatFinishReason | null = null;
  private lastUsage: ChatUsage | undefined;
  private upstreamModel: string | undefined;
  private response: ResponseObject | undefined;
  private out = "";

  constructor(
    private readonly context: ResponseContext,
    private readonly options: ResponsesStreamOptions = {},
  ) {}

  /** Feeds raw upstream bytes; returns the SSE text they complete (maybe empty). */
  push(bytes: Uint8Array): string {
    if (this.finished) return "";
    this.lines.push(bytes, (line) => {
      this.line(line);
      return !this.finished;
    });
    return this.flush();
  }

  /** The upstream ended: completes the response if Copilot finished it, else fails it. */
  end(): string {
    if (!this.finished) {
      const last = this.lines.end();
      if (last !== "") this.line(last);
    }
    if (!this.finished) {
      if (this.finish !== null) this.complete();
      else this.failWith("Copilot's stream ended before the answer was complete; retry the request");
    }
    return this.flush();
  }

  /** The upstream failed (network error, abort): ends with `response.failed`. */
  fail(message: string): string {
    if (!this.finished) this.failWith(message);
    return this.flush();
  }

  outcome(): ResponsesStreamOutcome {
    const outcome: ResponsesStreamOutcome = { cancelled: this.cancelled && !this.finished };
    if (this.response) outcome.response = this.response;
    if (this.lastUsage) outcome.chatUsage = this.lastUsage;
    if (this.upstreamModel) outcome.upstreamModel = this.upstreamModel;
    return outcome;
  }

  private flush(): string {
    const text = this.out;
    this.out = "";
    return text;
  }

  private emit(type: string, data: Record<string, unknown>): void {
    this.out += `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: this.sequence++, ...data })}\n\n`;
  }

  private line(raw: string): void {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (!line.startsWith("data:")) return;
    const data = line.slice(5).trim();
    if (data === "") return;
    if (data === "[DONE]") {
      this.complete();
      return;
    }
    let chunk: ChatCompletionChunk;
    try {
      chunk = JSON.parse(data) as ChatCompletionChunk;
    } catch {
      return; // a line that is not JSON: skipped, as Copilot's clients skip it
    }
    if (typeof chunk !== "object" || chunk === null) return;
    this.chunk(chunk);
  }

  private chunk(chunk: ChatCompletionChunk): void {
    if (chunk.error !== undefined && chunk.error !== null) {
      const error = chunk.error as { message?: unknown } | string;
      const message = typeof error === "string" ? error : typeof error.message === "string" ? error.message : "Copilot sent an error in the stream";
      this.failWith(message);
      return;
    }
    if (typeof chunk.model === "string" && chunk.model !== "") this.upstreamModel = chunk.model;
    const choices = chunk.choices ?? [];
    if (choices.length === 0 && !chunk.usage) return; // prompt_filter_results
    this.start();
    if (chunk.usage) this.lastUsage = chunk.usage;
    for (const choice of choices) {
      if (choice.delta) this.delta(choice.delta, choice.index ?? 0);
      if (choice.finish_reason) this.finish = choice.finish_reason;
    }
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    const response = responseSkeleton(this.context);
    this.emit("response.created", { response });
    this.emit("response.in_progress", { response });
  }

  private delta(delta: ChatChunkDelta, choiceIndex: number): void {
    const reasoning = delta.reasoning_text ?? delta.reasoning_content;
    if (typeof reasoning === "string" && reasoning !== "") {
      const item = this.openReasoning();
      if (!item.part) {
        item.part = true;
        this.emit("response.reasoning_summary_part.added", { ...this.at(item), summary_index: 0, part: { type: "summary_text", text: "" } });
      }
      item.text += reasoning;
      this.emit("response.reasoning_summary_text.delta", { ...this.at(item), summary_index: 0, delta: reasoning });
    }
    if (typeof delta.reasoning_opaque === "string" && delta.reasoning_opaque !== "") {
      this.openReasoning().item.encrypted_content = delta.reasoning_opaque;
    }
    if (typeof delta.content === "string" && delta.content !== "") {
      let item = this.open.find((o) => o.kind === "message");
      if (!item) {
        this.closeAll();
        item = { kind: "message", index: this.output.length, id: newId("msg"), text: "" };
        this.reserve(item);
        this.emit("response.output_item.added", {
          output_index: item.index,
          item: { id: item.id, type: "message", status: "in_progress", role: "assistant", content: [] },
        });
        this.emit("response.content_part.added", {
          ...this.at(item),
          content_index: 0,
          part: { type: "output_text", text: "", annotations: [], logprobs: [] },
        });
      }
      item.text += delta.content;
      this.emit("response.output_text.delta", { ...this.at(item), content_index: 0, delta: delta.content, logprobs: [] });
    }
    for (const call of delta.tool_calls ?? []) {
      const key = call.index !== undefined ? `${choiceIndex}:${call.index}` : call.id ? `id:${call.id}` : this.lastCallKey;
      let item = key === undefined ? undefined : this.calls.get(key);
      if (!item) {
        this.closeAll("call");
        const callId = call.id && call.id !== "" ? call.id : newId("call");
        item = {
          kind: "call",
          index: this.output.length,
          item: {
            id: newId("fc"),
            type: "function_call",
            status: "in_progress",
            call_id: callId,
            ...namespacedName(this.context.request.tools, call.function?.name ?? ""),
            arguments: "",
          },
        };
        const callKey = key ?? `anon:${item.index}`;
        this.calls.set(callKey, item);
        this.lastCallKey = callKey;
        this.reserve(item);
        this.emit("response.output_item.added", { output_index: item.index, item: { ...item.item } });
      }
      const args = call.function?.arguments;
      if (typeof args === "string" && args !== "" && this.open.includes(item)) {
        item.item.arguments += args;
        this.emit("response.function_call_arguments.delta", { ...this.at(item), delta: args });
      }
    }
  }

  private openReasoning(): OpenItem & { kind: "reasoning" } {
    const open = this.open.find((o) => o.kind === "reasoning");
    if (open) return open;
    this.closeAll();
    const item: OpenItem & { kind: "reasoning" } = {
      kind: "reasoning",
      index: this.output.length,
      item: { id: newId("rs"), type: "reasoning", summary: [] },
      text: "",
      part: false,
    };
    this.reserve(item);
    this.emit("response.output_item.added", { output_index: item.index, item: { id: item.item.id, type: "reasoning", summary: [] } });
    return item;
  }

  /** Takes the item's place in the output (filled in when it closes). */
  private reserve(item: OpenItem): void {
    this.output.push(undefined as unknown as OutputItem);
    this.open.push(item);
  }

  private at(item: OpenItem): { item_id: string; output_index: number } {
    return { item_id: item.kind === "message" ? item.id : item.item.id, output_index: item.index };
  }

  /** Closes every open item (but function calls when `keep` is "call": parallel calls stay open together). */
  private closeAll(keep?: "call", status: "completed" | "incomplete" = "completed"): void {
    for (const item of this.open) if (!(keep && item.kind === keep)) this.close(item, status);
    this.open = keep ? this.open.filter((o) => o.kind === keep) : [];
  }

  private close(open: OpenItem, status: "completed" | "incomplete"): void {
    let done: OutputItem;
    if (open.kind === "reasoning") {
      if (open.part) {
        const part = { type: "summary_text" as const, text: open.text };
        this.emit("response.reasoning_summary_text.done", { ...this.at(open), summary_index: 0, text: open.text });
        this.emit("response.reasoning_summary_part.done", { ...this.at(open), summary_index: 0, part });
        open.item.summary = [part];
      }
      done = open.item;
    } else if (open.kind === "message") {
      const message = messageItem(open.id, open.text, status);
      this.emit("response.output_text.done", { ...this.at(open), content_index: 0, text: open.text, logprobs: [] });
      this.emit("response.content_part.done", { ...this.at(open), content_index: 0, part: message.content[0] });
      done = message;
    } else {
      open.item.status = status;
      this.emit("response.function_call_arguments.done", { ...this.at(open), name: open.item.name, arguments: open.item.arguments });
      done = open.item;
    }
    this.output[open.index] = done;
    this.emit("response.output_item.done", { output_index: open.index, item: done });
  }

  private complete(): void {
    if (this.finished) return;
    this.start();
    const { status, incomplete } = statusOf(this.finish);
    this.closeAll(undefined, status === "completed" ? "completed" : "incomplete");
    const response: ResponseObject = {
      ...responseSkeleton(this.context, status),
      incomplete_details: incomplete,
      output: [...this.output],
      usage: mapUsage(this.lastUsage),
    };
    this.finishWith(status === "completed" ? "response.completed" : "response.incomplete", response);
  }

  private failWith(message: string): void {
    this.start();
    const text = message.length > MAX_ERROR_MESSAGE_LENGTH ? `${message.slice(0, MAX_ERROR_MESSAGE_LENGTH)}…` : message;
    const response: ResponseObject = {
      ...responseSkeleton(this.context, "failed"),
      error: { code: "server_error", message: text },
      output: this.output.filter((item) => item !== undefined),
      usage: this.lastUsage ? mapUsage(this.lastUsage) : null,
    };
    this.finishWith("response.failed", response);
  }

  private finishWith(type: string, response: ResponseObject): void {
    this.response = response;
    this.options.onResponse?.(response);
    this.emit(type, { response });
    this.finished = true;
  }
}
