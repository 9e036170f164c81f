/**
 * Chat completion (non-streamed) → Anthropic message. Shared pieces (stop reasons, usage)
 * are used by the stream translator too.
 */
import type { ChatCompletionResponse, ChatFinishReason, ChatUsage } from "../chat";

export type AnthropicStopReason = "end_turn" | "max_tokens" | "stop_sequence" | "tool_use" | "pause_turn" | "refusal";

export interface AnthropicUsage {
  /** Prompt tokens not read from the cache (Copilot's `prompt_tokens` minus cached). */
  input_tokens: number;
  output_tokens: number;
  /** Copilot reports no cache writes; always 0 on the translated path. */
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export type AnthropicResponseBlock =
  | { type: "thinking"; thinking: string; signature: string }
  | { type: "redacted_thinking"; data: string }
  | { type: "text"; text: string }
  | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> };

export interface AnthropicMessageResponse {
  id: string;
  type: "message";
  role: "assistant";
  model: string;
  content: AnthropicResponseBlock[];
  stop_reason: AnthropicStopReason | null;
  /** Chat Completions does not say which stop sequence matched, so this is always null here. */
  stop_sequence: string | null;
  usage: AnthropicUsage;
}

export interface FromChatOptions {
  /** The model name to report: the name the client asked for. */
  model: string;
}

/** stop → end_turn, length → max_tokens, tool_calls/function_call → tool_use, content_filter → refusal; null stays null. */
export function mapStopReason(reason: ChatFinishReason | null | undefined): AnthropicStopReason | null {
  switch (reason) {
    case null:
    case undefined:
      return null;
    case "length":
      return "max_tokens";
    case "tool_calls":
    case "function_call":
      return "tool_use";
    case "content_filter":
      return "refusal";
    default:
      return "end_turn";
  }
}

/** Chat usage → Anthropic usage: cached prompt tokens move from input_tokens to cache_read_input_tokens. */
export function mapUsage(usage: ChatUsage | null | undefined): AnthropicUsage {
  const prompt = nonNegative(usage?.prompt_tokens);
  const cached = Math.min(prompt, nonNegative(usage?.prompt_tokens_details?.cached_tokens));
  return {
    input_tokens: prompt - cached,
    output_tokens: nonNegative(usage?.completion_tokens),
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cached,
  };
}

/** `msg_…` id for a chat completion id (Copilot's ids are `chatcmpl-…` or bare). */
export function messageId(chatId: string | undefined): string {
  if (chatId?.startsWith("msg_")) return chatId;
  return `msg_${chatId && chatId !== "" ? chatId : crypto.randomUUID().replaceAll("-", "")}`;
}

/**
 * Parses tool call arguments into Anthropic's `input` object. Empty arguments are `{}`;
 * arguments that are not a JSON object are kept as `{ "raw_arguments": "…" }` rather than lost.
 */
export function parseToolInput(args: string | undefined): Record<string, unknown> {
  if (args === undefined || args.trim() === "") return {};
  try {
    const parsed: unknown = JSON.parse(args);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through
  }
  return { raw_arguments: args };
}

/**
 * Builds the Anthropic message for a chat completion. Copilot may split one Claude answer over
 * several choices (text in one, tool calls in another): all choices are read, in order.
 * Blocks come out as Anthropic orders them: thinking, text, tool_use.
 */
export function chatToAnthropic(completion: ChatCompletionResponse, options: FromChatOptions): AnthropicMessageResponse {
  const thinking: AnthropicResponseBlock[] = [];
  const text: AnthropicResponseBlock[] = [];
  const tools: AnthropicResponseBlock[] = [];
  let finish: ChatFinishReason | null = null;

  for (const choice of completion.choices ?? []) {
    const message = choice.message;
    if (message) {
      const reasoning = message.reasoning_text ?? message.reasoning_content;
      const opaque = message.reasoning_opaque ?? undefined;
      if (reasoning) thinking.push({ type: "thinking", thinking: reasoning, signature: opaque ?? "" });
      else if (opaque) thinking.push({ type: "redacted_thinking", data: opaque });
      if (typeof message.content === "string" && message.content !== "") text.push({ type: "text", text: message.content });
      for (const call of message.tool_calls ?? []) {
        tools.push({ type: "tool_use", id: call.id, name: call.function.name, input: parseToolInput(call.function.arguments) });
      }
    }
    if (finish === null && choice.finish_reason) finish = choice.finish_reason;
  }

  let stop = mapStopReason(finish);
  if (tools.length > 0 && (stop === "end_turn" || stop === null)) stop = "tool_use";

  return {
    id: messageId(completion.id),
    type: "message",
    role: "assistant",
    model: options.model,
    content: [...thinking, ...text, ...tools],
    stop_reason: stop,
    stop_sequence: null,
    usage: mapUsage(completion.usage),
  };
}

function nonNegative(value: number | null | undefined): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}
