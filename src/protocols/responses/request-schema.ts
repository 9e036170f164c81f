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
  // null: what Codex sends for a reasoning item without reasoning text, and OpenAI accepts.
  content: z.union([z.string(), z.array(contentPart)], { error: "expected a string or an array of content parts" }).nullish(),
});

const tool = z.object({ type: z.string() });

export const responsesRequest = z.object({
  model: z.string().min(1).max(MODEL_NAME_MAX),
  input: z.union([z.string(), z.array(inputItem)], { error: "expected a string or an array of input items" }).nullish(),
  instructions: z.string().nullish(),
  previous_response_id: responseId.nullish(),
  store: z.boolean().nullish(),
  stream: z.boolean().nullish(),
  tools: z.array(tool).nullish(),
  text: z.object({ format: z.object({ type: z.string() }).nullish() }).nullish(),
  max_output_tokens: z.number().int().positive().nullish(),
});

/** OpenAI's hosted web search, by every name it has had. */
const WEB_SEARCH = /^web_search(_preview)?(_\d{4}_\d{2}_\d{2})?$/;

/**
 * The request's tools without the hosted web search, and the web-search types left out. Copilot runs
 * web search only on /responses: on the path translated to Chat the tool cannot run, and a client
 * that sends it by default (Codex) is answered without it rather than refused.
 */
export function withoutWebSearch<T extends { type?: unknown }>(tools: readonly T[] | null | undefined): { kept: T[]; dropped: string[] } {
  const kept: T[] = [];
  const dropped = new Set<string>();
  for (const tool of tools ?? []) {
    if (typeof tool.type === "string" && WEB_SEARCH.test(tool.type)) dropped.add(tool.type);
    else kept.push(tool);
  }
  return { kept, dropped: [...dropped] };
}
