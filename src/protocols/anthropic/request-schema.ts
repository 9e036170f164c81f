/**
 * The Anthropic Messages request, as far as the gateway reads it. Every object is loose
 * (unknown fields pass through untouched), so a body that validates here can still be
 * forwarded byte for byte to Copilot's native `/v1/messages`.
 *
 * Validated with zod 4 (`z.looseObject` is zod 4's passthrough object). A failure is worded by
 * the checks every protocol shares (../request-checks.ts checkBody): the first problem, naming
 * its field (`messages[0].content[1].type: …`).
 */
import { z } from "zod";
import { checkBody, MODEL_NAME_MAX } from "../request-checks";

const cacheControl = z.looseObject({ type: z.string() }).nullish();

export const textBlockSchema = z.looseObject({
  type: z.literal("text"),
  text: z.string(),
  cache_control: cacheControl,
});

const base64ImageSource = z.looseObject({
  type: z.literal("base64"),
  media_type: z.string(),
  data: z.string(),
});

const urlImageSource = z.looseObject({
  type: z.literal("url"),
  url: z.string(),
});

export const imageBlockSchema = z.looseObject({
  type: z.literal("image"),
  source: z.discriminatedUnion("type", [base64ImageSource, urlImageSource]),
  cache_control: cacheControl,
});

export const toolUseBlockSchema = z.looseObject({
  type: z.literal("tool_use"),
  id: z.string(),
  name: z.string(),
  input: z.record(z.string(), z.unknown()),
  cache_control: cacheControl,
});

/** A source a client hands the model: text, base64 or URL (PDF), or content blocks; read as text on the translated path. */
export const documentBlockSchema = z.looseObject({
  type: z.literal("document"),
  source: z.looseObject({ type: z.string() }),
  title: z.string().nullish(),
  context: z.string().nullish(),
  cache_control: cacheControl,
});

/** A search result the client found itself (RAG), cited like a web search's. */
export const searchResultBlockSchema = z.looseObject({
  type: z.literal("search_result"),
  source: z.string(),
  title: z.string(),
  content: z.array(textBlockSchema),
  cache_control: cacheControl,
});

/** A server tool's call (web search) replayed from an earlier answer. */
export const serverToolUseBlockSchema = z.looseObject({
  type: z.literal("server_tool_use"),
  id: z.string(),
  name: z.string(),
  input: z.record(z.string(), z.unknown()),
  cache_control: cacheControl,
});

/** A web search's results replayed from an earlier answer: the results, or an error object. */
export const webSearchToolResultBlockSchema = z.looseObject({
  type: z.literal("web_search_tool_result"),
  tool_use_id: z.string(),
  content: z.union([
    z.array(z.looseObject({ type: z.string(), url: z.string().optional(), title: z.string().nullish() })),
    z.looseObject({ type: z.string() }),
  ]),
  cache_control: cacheControl,
});

export const toolResultBlockSchema = z.looseObject({
  type: z.literal("tool_result"),
  tool_use_id: z.string(),
  content: z
    .union([z.string(), z.array(z.discriminatedUnion("type", [textBlockSchema, imageBlockSchema, searchResultBlockSchema, documentBlockSchema]))], {
      error: "expected a string or an array of text, image, search_result and document blocks",
    })
    .optional(),
  is_error: z.boolean().optional(),
  cache_control: cacheControl,
});

export const thinkingBlockSchema = z.looseObject({
  type: z.literal("thinking"),
  thinking: z.string(),
  signature: z.string().optional(),
});

export const redactedThinkingBlockSchema = z.looseObject({
  type: z.literal("redacted_thinking"),
  data: z.string(),
});

export const contentBlockSchema = z.discriminatedUnion("type", [
  textBlockSchema,
  imageBlockSchema,
  toolUseBlockSchema,
  toolResultBlockSchema,
  thinkingBlockSchema,
  redactedThinkingBlockSchema,
  serverToolUseBlockSchema,
  webSearchToolResultBlockSchema,
  documentBlockSchema,
  searchResultBlockSchema,
]);

export const messageSchema = z.looseObject({
  role: z.enum(["user", "assistant"]),
  content: z.union([z.string(), z.array(contentBlockSchema)], { error: "expected a string or an array of content blocks" }),
});

/**
 * A tool definition. Client tools carry `input_schema`; Anthropic's server tools
 * (`type: "web_search_20250305"`, …) carry a `type` and no schema: they pass validation,
 * and the Chat translation leaves them out (Chat Completions has no equivalent).
 */
export const toolSchema = z.looseObject({
  name: z.string().min(1),
  // null: a client tool, as the SDK's `type?: "custom" | null` allows.
  type: z.string().nullish(),
  description: z.string().optional(),
  input_schema: z.record(z.string(), z.unknown()).optional(),
  cache_control: cacheControl,
});

export const toolChoiceSchema = z.discriminatedUnion("type", [
  z.looseObject({ type: z.literal("auto"), disable_parallel_tool_use: z.boolean().optional() }),
  z.looseObject({ type: z.literal("any"), disable_parallel_tool_use: z.boolean().optional() }),
  z.looseObject({ type: z.literal("tool"), name: z.string().min(1), disable_parallel_tool_use: z.boolean().optional() }),
  z.looseObject({ type: z.literal("none") }),
]);

/** Extended thinking: `{type: "enabled", budget_tokens}`, `{type: "disabled"}` or newer kinds (kept as they are). */
export const thinkingConfigSchema = z.looseObject({
  type: z.string(),
  budget_tokens: z.number().int().positive().optional(),
});

export const messagesRequestSchema = z.looseObject({
  model: z.string().min(1).max(MODEL_NAME_MAX),
  max_tokens: z.number().int().positive(),
  system: z.union([z.string(), z.array(textBlockSchema)], { error: "expected a string or an array of text blocks" }).optional(),
  messages: z.array(messageSchema),
  tools: z.array(toolSchema).optional(),
  tool_choice: toolChoiceSchema.optional(),
  thinking: thinkingConfigSchema.optional(),
  stop_sequences: z.array(z.string()).optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().nonnegative().optional(),
  stream: z.boolean().optional(),
  metadata: z.looseObject({ user_id: z.string().nullish() }).optional(),
});

/** POST /v1/messages/count_tokens takes the same body without `max_tokens`. */
export const countTokensRequestSchema = messagesRequestSchema.extend({ max_tokens: z.number().int().positive().optional() });

export type ImageBlock = z.infer<typeof imageBlockSchema>;
export type ToolResultBlock = z.infer<typeof toolResultBlockSchema>;
export type DocumentBlock = z.infer<typeof documentBlockSchema>;
export type SearchResultBlock = z.infer<typeof searchResultBlockSchema>;
export type WebSearchToolResultBlock = z.infer<typeof webSearchToolResultBlockSchema>;
export type ContentBlock = z.infer<typeof contentBlockSchema>;
export type AnthropicMessage = z.infer<typeof messageSchema>;
export type AnthropicToolChoice = z.infer<typeof toolChoiceSchema>;
export type MessagesRequest = z.infer<typeof messagesRequestSchema>;
export type CountTokensRequest = z.infer<typeof countTokensRequestSchema>;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; message: string };

/**
 * Validates a parsed JSON body as a Messages request; on failure the message names the field
 * path. The schemas transform nothing, so a body that passes is the value itself (the routes
 * use the checked body as it is).
 */
export function parseMessagesRequest(body: unknown): ParseResult<MessagesRequest> {
  const problem = checkBody(messagesRequestSchema, body);
  return problem ? { ok: false, message: problem.message } : { ok: true, value: body as MessagesRequest };
}

/** Validates a parsed JSON body as a count_tokens request. */
export function parseCountTokensRequest(body: unknown): ParseResult<CountTokensRequest> {
  const problem = checkBody(countTokensRequestSchema, body);
  return problem ? { ok: false, message: problem.message } : { ok: true, value: body as CountTokensRequest };
}
