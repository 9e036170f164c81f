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

/** Answers an error in the shape of the protocol this request speaks (c.get("errorShape"), set in server.ts). */
export function apiError(c: Context, status: ContentfulStatusCode, problem: ApiProblem): Response {
  const shape: ErrorShape | undefined = c.get("errorShape");
  return (shape ?? openAIShape)(c, status, problem);
}

/**
 * A problem thrown on the way, instead of a `T | Response` handed back up every
 * caller: answered once, in the shape of the protocol the client speaks, by
 * {@link answerFailure} (the protocol routes' error handler). `headers` go with
 * the answer (`x-should-retry: false`).
 */
export class ApiFailure extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly problem: ApiProblem,
    readonly headers: Record<string, string> = {},
  ) {
    super(problem.message);
    this.name = "ApiFailure";
  }
}

/** The client went away before Copilot answered: nobody reads the answer, 499 is what the event records. */
export class ClientGone extends Error {
  constructor() {
    super("the client went away before Copilot answered");
    this.name = "ClientGone";
  }
}

/** The answer to a thrown problem, or undefined for an error that is not one (a bug: the app's 500). */
export function answerFailure(c: Context, error: unknown): Response | undefined {
  if (error instanceof ClientGone) return new Response(null, { status: 499 });
  if (!(error instanceof ApiFailure)) return undefined;
  for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
  return apiError(c, error.status, error.problem);
}
