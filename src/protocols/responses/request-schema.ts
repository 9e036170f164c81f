import { z } from "zod";
import { MODEL_NAME_MAX } from "../request-checks";

/**
 * The shape of `POST /responses`, checked at the edge by the shared request checks
 * (../request-checks.ts). Only the fields the gateway reads are described; the rest passes
 * through untouched to Copilot's `/responses` (the client's bytes are forwarded), or is
 * ignored by the translation to Chat Completions.
 */

/** Longest response id accepted (OpenAI's are about 55 characters). Longer ones are refused, never looked up or echoed. */
export const RESPONSE_ID_MAX = 128;

export const responseId = z.string().min(1).max(RESPONSE_ID_MAX);

const contentPart = z.object({ type: z.string() });

const inputItem = z.object({
  type: z.string().optional(),
  role: z.string().optional(),
  content: z.union([z.string(), z.array(contentPart)], { error: "expected a string or an array of content parts" }).optional(),
});

const tool = z.object({ type: z.string() });

export const responsesRequest = z.object({
  model: z.string().min(1).max(MODEL_NAME_MAX),
  input: z.union([z.string(), z.array(inputItem)], { error: "expected a string or an array of input items" }).optional(),
  instructions: z.string().nullish(),
  previous_response_id: responseId.nullish(),
  store: z.boolean().nullish(),
  stream: z.boolean().nullish(),
  tools: z.array(tool).nullish(),
  text: z.object({ format: z.object({ type: z.string() }).nullish() }).nullish(),
  max_output_tokens: z.number().int().positive().nullish(),
});

/**
 * Tools OpenAI runs on its own servers. Copilot runs none of them, on either endpoint:
 * a request naming one is refused, rather than answered as if the tool were not there.
 */
const HOSTED_TOOLS =
  /^(web_search|web_search_preview|file_search|code_interpreter|computer_use|computer_use_preview|image_generation|mcp)(_\d{4}_\d{2}_\d{2})?$/;

/** The hosted tool types a request names, each once, in order. */
export function hostedTools(tools: unknown): string[] {
  if (!Array.isArray(tools)) return [];
  const found = new Set<string>();
  for (const t of tools) {
    const type = typeof t === "object" && t !== null ? (t as { type?: unknown }).type : undefined;
    if (typeof type === "string" && HOSTED_TOOLS.test(type)) found.add(type);
  }
  return [...found];
}
