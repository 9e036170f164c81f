import type { ErrorShape } from "~/lib/api-error";
/**
 * Anthropic's error shape, `{"type":"error","error":{"type":…,"message":…}}`, used for every
 * error on the Anthropic routes (the gateway's own and Copilot's, translated) and for the
 * `event: error` of a stream.
 */

export type AnthropicErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "request_too_large"
  | "rate_limit_error"
  | "api_error"
  | "overloaded_error";

export interface AnthropicErrorBody {
  type: "error";
  error: { type: AnthropicErrorType; message: string };
}

const ERROR_TYPES: ReadonlySet<string> = new Set<AnthropicErrorType>([
  "invalid_request_error",
  "authentication_error",
  "permission_error",
  "not_found_error",
  "request_too_large",
  "rate_limit_error",
  "api_error",
  "overloaded_error",
]);

/** Upstream messages are kept, but never more than this many characters of them. */
export const MAX_ERROR_MESSAGE_LENGTH = 2000;

/**
 * The Anthropic error type for an HTTP status: 400 invalid_request_error, 401
 * authentication_error, 403 permission_error, 404 not_found_error, 413 request_too_large,
 * 429 rate_limit_error, 503/529 overloaded_error, anything else api_error.
 */
export function anthropicErrorType(status: number): AnthropicErrorType {
  switch (status) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 503:
    case 529:
      return "overloaded_error";
    default:
      return "api_error";
  }
}

/** The body for an error the gateway answers itself. `type` defaults to the status's type. */
export function anthropicErrorBody(status: number, message: string, type: AnthropicErrorType = anthropicErrorType(status)): AnthropicErrorBody {
  return { type: "error", error: { type, message: bound(message) } };
}

/** One `event: error` SSE frame, for a stream that fails after it started. */
export function anthropicErrorEvent(type: AnthropicErrorType, message: string): string {
  return `event: error\ndata: ${JSON.stringify({ type: "error", error: { type, message: bound(message) } })}\n\n`;
}

/**
 * Copilot's error answer (OpenAI-shaped `{error:{message,type,code}}`, GitHub's `{message}`,
 * an `{error:"…"}` string, an Anthropic body from the native endpoint, or plain text) turned
 * into Anthropic's shape with Copilot's message kept. The type follows the status, except
 * that an Anthropic body's own valid type is kept.
 */
export function anthropicErrorFromUpstream(status: number, bodyText: string): AnthropicErrorBody {
  const { message, type } = readUpstreamError(bodyText);
  const text = message ?? (bodyText.trim() !== "" && !looksLikeJson(bodyText) ? bodyText.trim() : `Copilot answered HTTP ${status} without a message`);
  const kept = type !== undefined && ERROR_TYPES.has(type) ? (type as AnthropicErrorType) : anthropicErrorType(status);
  return anthropicErrorBody(status, text, kept);
}

/** The message (and an Anthropic error type, if the body is Anthropic's) of an upstream error body. */
export function readUpstreamError(bodyText: string): { message?: string; type?: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bodyText);
  } catch {
    return {};
  }
  if (!isRecord(parsed)) return {};
  const error = parsed.error;
  if (typeof error === "string" && error !== "") return { message: error };
  if (isRecord(error)) {
    const message = typeof error.message === "string" && error.message !== "" ? error.message : typeof error.code === "string" ? error.code : undefined;
    const type = parsed.type === "error" && typeof error.type === "string" ? error.type : undefined;
    return { message, type };
  }
  if (typeof parsed.message === "string" && parsed.message !== "") return { message: parsed.message };
  return {};
}

function looksLikeJson(text: string): boolean {
  const t = text.trimStart();
  return t.startsWith("{") || t.startsWith("[");
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function bound(message: string): string {
  return message.length > MAX_ERROR_MESSAGE_LENGTH ? `${message.slice(0, MAX_ERROR_MESSAGE_LENGTH)}…` : message;
}

/** The gateway's own errors (401, 403, 429, …) on the Anthropic routes, worded as Anthropic clients expect. */
export const anthropicShape: ErrorShape = (c, status, problem) => c.json(anthropicErrorBody(status, problem.message), status);
