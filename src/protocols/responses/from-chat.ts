/**
 * Chat completion (non-streamed) → Response object. The pieces both directions share
 * (the Response skeleton echoing the request, usage, status from the finish reason) are
 * used by the stream translator too.
 */
import type { ChatCompletionResponse, ChatFinishReason, ChatUsage } from "../chat";
import { namespacedName } from "./namespaces";
import {
  newId,
  type OutputFunctionCall,
  type OutputItem,
  type OutputMessage,
  type OutputReasoning,
  type ResponseObject,
  type ResponseStatus,
  type ResponsesRequest,
  type ResponseUsage,
} from "./types";

/** What a Response echoes besides its output: its id and time, the client's model name, and the request's settings. */
export interface ResponseContext {
  id: string;
  /** Unix seconds. */
  createdAt: number;
  /** The model name the client asked for. */
  model: string;
  request: ResponsesRequest;
  /** Whether the gateway keeps this response (`store` as it applies here). */
  store: boolean;
}

export function newContext(request: ResponsesRequest, store: boolean, now = Date.now()): ResponseContext {
  return { id: newId("resp"), createdAt: Math.floor(now / 1000), model: request.model, request, store };
}

/** The Response with no output yet, as `response.created` carries it; `status` and the rest are filled in as it ends. */
export function responseSkeleton(context: ResponseContext, status: ResponseStatus = "in_progress"): ResponseObject {
  const r = context.request;
  return {
    id: context.id,
    object: "response",
    created_at: context.createdAt,
    status,
    error: null,
    incomplete_details: null,
    instructions: typeof r.instructions === "string" ? r.instructions : null,
    max_output_tokens: typeof r.max_output_tokens === "number" ? r.max_output_tokens : null,
    model: context.model,
    output: [],
    parallel_tool_calls: r.parallel_tool_calls ?? true,
    previous_response_id: r.previous_response_id ?? null,
    reasoning: { effort: r.reasoning?.effort ?? null, summary: r.reasoning?.summary ?? null },
    store: context.store,
    temperature: typeof r.temperature === "number" ? r.temperature : null,
    text: { format: r.text?.format ?? { type: "text" } },
    tool_choice: r.tool_choice ?? "auto",
    tools: r.tools ?? [],
    top_p: typeof r.top_p === "number" ? r.top_p : null,
    truncation: r.truncation ?? "disabled",
    usage: null,
    user: typeof r.user === "string" ? r.user : null,
    metadata: r.metadata ?? {},
  };
}

/** Copilot's chat usage in the Responses fields: input includes cached tokens, output includes reasoning tokens. */
export function mapUsage(usage: ChatUsage | null | undefined): ResponseUsage {
  const input = count(usage?.prompt_tokens);
  const output = count(usage?.completion_tokens);
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: count(usage?.prompt_tokens_details?.cached_tokens) },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: count(usage?.completion_tokens_details?.reasoning_tokens) },
    total_tokens: count(usage?.total_tokens) || input + output,
  };
}

/** `length` → incomplete (max_output_tokens), `content_filter` → incomplete (content_filter), anything else completed. */
export function statusOf(finish: ChatFinishReason | null): { status: ResponseStatus; incomplete: { reason: string } | null } {
  if (finish === "length") return { status: "incomplete", incomplete: { reason: "max_output_tokens" } };
  if (finish === "content_filter") return { status: "incomplete", incomplete: { reason: "content_filter" } };
  return { status: "completed", incomplete: null };
}

/**
 * Builds the Response for a chat completion. Copilot may split one answer over several choices
 * (text in one, tool calls in another): all are read, in order. Output items come out as OpenAI
 * orders them: reasoning, the message, then the function calls.
 */
export function chatToResponse(completion: ChatCompletionResponse, context: ResponseContext): ResponseObject {
  const reasoning: OutputReasoning[] = [];
  const texts: string[] = [];
  const calls: OutputFunctionCall[] = [];
  let finish: ChatFinishReason | null = null;
  for (const choice of completion.choices ?? []) {
    const message = choice.message;
    if (message) {
      const thought = message.reasoning_text ?? message.reasoning_content;
      const opaque = message.reasoning_opaque;
      if (thought || opaque) {
        const item: OutputReasoning = { id: newId("rs"), type: "reasoning", summary: thought ? [{ type: "summary_text", text: thought }] : [] };
        if (opaque) item.encrypted_content = opaque;
        reasoning.push(item);
      }
      if (typeof message.content === "string" && message.content !== "") texts.push(message.content);
      for (const call of message.tool_calls ?? []) {
        calls.push({
          id: newId("fc"),
          type: "function_call",
          status: "completed",
          call_id: call.id,
          ...namespacedName(context.request.tools, call.function.name),
          arguments: call.function.arguments ?? "",
        });
      }
    }
    if (finish === null && choice.finish_reason) finish = choice.finish_reason;
  }
  const { status, incomplete } = statusOf(finish);
  const output: OutputItem[] = [...reasoning];
  if (texts.length > 0) output.push(messageItem(newId("msg"), texts.join(""), status === "completed" ? "completed" : "incomplete"));
  output.push(...calls);
  return { ...responseSkeleton(context, status), incomplete_details: incomplete, output, usage: mapUsage(completion.usage) };
}

export function messageItem(id: string, text: string, status: OutputMessage["status"]): OutputMessage {
  return { id, type: "message", status, role: "assistant", content: [{ type: "output_text", text, annotations: [], logprobs: [] }] };
}

function count(value: number | null | undefined): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}
