/**
 * The OpenAI Responses API shapes the gateway reads and writes. Requests are read loosely
 * (an input item is any JSON object; the translation narrows by `type`), answers are built
 * exactly: every field OpenAI's own answers carry, so the official SDKs and the Vercel AI SDK
 * read them as they read OpenAI's.
 */

/** An input item as a client sends it: a message, a function call or its output, a reasoning item, or anything newer. */
export type InputItem = Record<string, unknown> & { type?: string };

export interface OutputText {
  type: "output_text";
  text: string;
  annotations: unknown[];
  logprobs: unknown[];
}

export interface OutputMessage {
  id: string;
  type: "message";
  status: "in_progress" | "completed" | "incomplete";
  role: "assistant";
  content: OutputText[];
}

export interface OutputFunctionCall {
  id: string;
  type: "function_call";
  status: "in_progress" | "completed" | "incomplete";
  call_id: string;
  name: string;
  /** The namespace tool the function belongs to, when the request declared it in one. */
  namespace?: string;
  arguments: string;
}

export interface SummaryText {
  type: "summary_text";
  text: string;
}

export interface OutputReasoning {
  id: string;
  type: "reasoning";
  summary: SummaryText[];
  /** Copilot's `reasoning_opaque`: the model's reasoning state, handed back on the next turn. */
  encrypted_content?: string;
}

export type OutputItem = OutputMessage | OutputFunctionCall | OutputReasoning;

export interface ResponseUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export type ResponseStatus = "in_progress" | "completed" | "incomplete" | "failed";

/** The Response object, as `POST /responses` answers it and `GET /responses/{id}` returns it. */
export interface ResponseObject {
  id: string;
  object: "response";
  created_at: number;
  status: ResponseStatus;
  error: { code: string; message: string } | null;
  incomplete_details: { reason: string } | null;
  instructions: string | null;
  max_output_tokens: number | null;
  model: string;
  output: OutputItem[];
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  reasoning: { effort: string | null; summary: string | null };
  store: boolean;
  temperature: number | null;
  text: { format: Record<string, unknown> };
  tool_choice: unknown;
  tools: unknown[];
  top_p: number | null;
  truncation: string;
  usage: ResponseUsage | null;
  user: string | null;
  metadata: Record<string, unknown>;
}

/** The request fields the translation reads; everything else in the body is ignored on the translated path. */
export interface ResponsesRequest {
  model: string;
  input?: string | InputItem[];
  instructions?: string | null;
  previous_response_id?: string | null;
  store?: boolean | null;
  stream?: boolean | null;
  tools?: Record<string, unknown>[] | null;
  tool_choice?: unknown;
  parallel_tool_calls?: boolean | null;
  text?: { format?: Record<string, unknown> | null } | null;
  reasoning?: { effort?: string | null; summary?: string | null } | null;
  max_output_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  user?: string | null;
  metadata?: Record<string, unknown> | null;
  truncation?: string | null;
}

/** A random id with OpenAI's prefixes: `resp_`, `msg_`, `fc_`, `rs_`. */
export function newId(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return `${prefix}_${Buffer.from(bytes).toString("hex")}`;
}
