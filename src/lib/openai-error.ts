import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * The error body OpenAI clients know how to show: { error: { message, type, code, param } }.
 * `param` names the request field at fault (`messages[0].role`), as OpenAI does.
 */
export function openAIError(c: Context, status: ContentfulStatusCode, message: string, type: string, code: string | null = null, param: string | null = null) {
  return c.json({ error: { message, type, code, param } }, status);
}
