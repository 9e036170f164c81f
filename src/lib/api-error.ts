import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * An error the gateway answers, said once and worded by the protocol the
 * client speaks: the OpenAI shape by default, Anthropic's on its routes.
 * `type` and `code` are OpenAI's vocabulary (type: invalid_request_error,
 * rate_limit_error, server_error, upstream_error; code: a stable tag such as
 * invalid_api_key); `param` names the request field at fault.
 */
export interface ApiProblem {
  message: string;
  type: "invalid_request_error" | "rate_limit_error" | "server_error" | "upstream_error";
  code?: string | null;
  param?: string | null;
}

/** Turns a problem into a response body of one protocol. */
export type ErrorShape = (c: Context, status: ContentfulStatusCode, problem: ApiProblem) => Response;

/** `{ error: { message, type, code, param } }`, what OpenAI clients show. */
export const openAIShape: ErrorShape = (c, status, { message, type, code = null, param = null }) => c.json({ error: { message, type, code, param } }, status);

/** Answers an error in the shape of the protocol this request speaks (c.var.errorShape, set in server.ts). */
export function apiError(c: Context, status: ContentfulStatusCode, problem: ApiProblem): Response {
  const shape: ErrorShape | undefined = c.get("errorShape");
  return (shape ?? openAIShape)(c, status, problem);
}
