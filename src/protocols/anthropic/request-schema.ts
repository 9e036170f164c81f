/**
 * The Anthropic Messages request, as far as the gateway reads it. Every object is loose
 * (unknown fields pass through untouched), so a body that validates here can still be
 * forwarded byte for byte to Copilot's native `/v1/messages`.
 *
 * Validated with zod 4 (`z.looseObject` is zod 4's passthrough object).
 */
import { z } from "zod";

/** The longest model name we accept; a longer one is not a model, and we may echo it in errors. */
export const MAX_MODEL_NAME_LENGTH = 256;

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

export const toolResultBlockSchema = z.looseObject({
  type: z.literal("tool_result"),
  tool_use_id: z.string(),
  content: z.union([z.string(), z.array(z.discriminatedUnion("type", [textBlockSchema, imageBlockSchema]))]).optional(),
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
]);

export const messageSchema = z.looseObject({
  role: z.enum(["user", "assistant"]),
  content: z.union([z.string(), z.array(contentBlockSchema)]),
});

/**
 * A tool definition. Client tools carry `input_schema`; Anthropic's server tools
 * (`type: "web_search_20250305"`, …) carry a `type` and no schema: they pass validation,
 * and the Chat translation leaves them out (Chat Completions has no equivalent).
 */
export const toolSchema = z.looseObject({
  name: z.string().min(1),
  type: z.string().optional(),
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
  model: z.string().min(1).max(MAX_MODEL_NAME_LENGTH),
  max_tokens: z.number().int().positive(),
  system: z.union([z.string(), z.array(textBlockSchema)]).optional(),
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
export type ContentBlock = z.infer<typeof contentBlockSchema>;
export type AnthropicMessage = z.infer<typeof messageSchema>;
export type AnthropicToolChoice = z.infer<typeof toolChoiceSchema>;
export type MessagesRequest = z.infer<typeof messagesRequestSchema>;
export type CountTokensRequest = z.infer<typeof countTokensRequestSchema>;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; message: string };

/** Validates a parsed JSON body as a Messages request; on failure the message names the field path. */
export function parseMessagesRequest(body: unknown): ParseResult<MessagesRequest> {
  const result = messagesRequestSchema.safeParse(body);
  return result.success ? { ok: true, value: result.data } : { ok: false, message: formatZodError(result.error) };
}

/** Validates a parsed JSON body as a count_tokens request. */
export function parseCountTokensRequest(body: unknown): ParseResult<CountTokensRequest> {
  const result = countTokensRequestSchema.safeParse(body);
  return result.success ? { ok: true, value: result.data } : { ok: false, message: formatZodError(result.error) };
}

/** At most this many problems are listed in one message; the rest are counted. */
const MAX_LISTED_ISSUES = 3;

type Issue = z.core.$ZodIssue;
type PathKey = PropertyKey;

/** `["messages", 0, "content", 1, "type"]` → `messages[0].content[1].type`. */
export function formatPath(path: readonly PathKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out === "" ? "(body)" : out;
}

/**
 * A zod union (`content: string | block[]`) reports every branch. Keep the branch that got
 * furthest: the one whose problems are not simply "this is the wrong kind of value".
 */
function flatten(issue: Issue, prefix: readonly PathKey[]): { path: PathKey[]; message: string }[] {
  const path = [...prefix, ...issue.path];
  if (issue.code === "invalid_union" && issue.errors.length > 0) {
    const branches = issue.errors.filter((branch) => !(branch.length === 1 && branch[0]?.code === "invalid_type" && branch[0].path.length === 0));
    if (branches.length === 1) return branches[0]!.flatMap((inner) => flatten(inner, path));
    if (branches.length === 0) {
      const expected = issue.errors.map((branch) => (branch[0] as { expected?: string } | undefined)?.expected).filter(Boolean);
      return [{ path, message: `Invalid input: expected ${expected.join(" or ")}` }];
    }
  }
  return [{ path, message: issue.message }];
}

/** Turns a zod error into one line naming each bad field, e.g. `messages[0].content[1].type: Invalid input: …`. */
export function formatZodError(error: z.ZodError): string {
  const problems = error.issues.flatMap((issue) => flatten(issue, []));
  const listed = problems.slice(0, MAX_LISTED_ISSUES).map((p) => `${formatPath(p.path)}: ${p.message}`);
  const more = problems.length - listed.length;
  return more > 0 ? `${listed.join("; ")} (and ${more} more)` : listed.join("; ");
}
