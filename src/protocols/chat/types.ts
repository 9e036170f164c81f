/**
 * The OpenAI Chat Completions shapes the Anthropic translation reads and writes, as Copilot
 * speaks them. Only the fields the translation touches are typed; Copilot adds its own
 * (`reasoning_text`, `reasoning_opaque`, `prompt_filter_results`, …) and omits `object`.
 */

export type ChatContentPart = { type: "text"; text: string } | { type: "image_url"; image_url: { url: string; detail?: "auto" | "low" | "high" } };

export interface ChatToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export type ChatMessage =
  | { role: "system"; content: string }
  | { role: "user"; content: string | ChatContentPart[] }
  | {
      role: "assistant";
      content: string | null;
      tool_calls?: ChatToolCall[];
      /** Copilot's extension: the model's visible reasoning from an earlier turn. */
      reasoning_text?: string;
      /** Copilot's extension: the opaque reasoning state (Anthropic's thinking signature). */
      reasoning_opaque?: string;
    }
  | { role: "tool"; tool_call_id: string; content: string };

export interface ChatTool {
  type: "function";
  function: { name: string; description?: string; parameters: Record<string, unknown> };
}

export type ChatToolChoice = "auto" | "required" | "none" | { type: "function"; function: { name: string } };

export interface ChatCompletionRequest {
  model: string;
  messages: ChatMessage[];
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  stop?: string[];
  stream?: boolean;
  stream_options?: { include_usage: boolean };
  tools?: ChatTool[];
  tool_choice?: ChatToolChoice;
  parallel_tool_calls?: boolean;
  user?: string;
  /** Copilot's extension for Claude models with extended thinking. */
  thinking_budget?: number;
}

export interface ChatUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number | null } | null;
  completion_tokens_details?: { reasoning_tokens?: number | null } | null;
}

export type ChatFinishReason = "stop" | "length" | "tool_calls" | "content_filter" | "function_call" | (string & {});

export interface ChatResponseMessage {
  role?: string;
  content?: string | null;
  tool_calls?: ChatToolCall[] | null;
  reasoning_text?: string | null;
  reasoning_content?: string | null;
  reasoning_opaque?: string | null;
}

/** A non-streamed chat completion. Copilot omits `object`, and may split one answer over several choices. */
export interface ChatCompletionResponse {
  id?: string;
  model?: string;
  created?: number;
  choices?: { index?: number; message?: ChatResponseMessage; finish_reason?: ChatFinishReason | null }[];
  usage?: ChatUsage | null;
}

export interface ChatToolCallDelta {
  index?: number;
  id?: string;
  type?: "function";
  function?: { name?: string; arguments?: string };
}

export interface ChatChunkDelta {
  role?: string | null;
  content?: string | null;
  tool_calls?: ChatToolCallDelta[] | null;
  reasoning_text?: string | null;
  reasoning_content?: string | null;
  reasoning_opaque?: string | null;
}

/** One streamed chunk. Copilot's first chunk often has `prompt_filter_results` and `choices: []`; usage comes last. */
export interface ChatCompletionChunk {
  id?: string;
  model?: string;
  created?: number;
  choices?: { index?: number; delta?: ChatChunkDelta; finish_reason?: ChatFinishReason | null }[];
  usage?: ChatUsage | null;
  error?: unknown;
}
