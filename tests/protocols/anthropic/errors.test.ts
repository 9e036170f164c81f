import { describe, expect, test } from "bun:test";
import {
  anthropicErrorBody,
  anthropicErrorEvent,
  anthropicErrorFromUpstream,
  anthropicErrorType,
  MAX_ERROR_MESSAGE_LENGTH,
} from "~/protocols/anthropic/errors";

describe("Anthropic errors", () => {
  test("status → type", () => {
    const table: [number, string][] = [
      [400, "invalid_request_error"],
      [401, "authentication_error"],
      [403, "permission_error"],
      [404, "not_found_error"],
      [413, "request_too_large"],
      [429, "rate_limit_error"],
      [500, "api_error"],
      [502, "api_error"],
      [503, "overloaded_error"],
      [529, "overloaded_error"],
      [466, "api_error"],
      [418, "api_error"],
    ];
    for (const [status, type] of table) expect(`${status} ${anthropicErrorType(status)}`).toBe(`${status} ${type}`);
  });

  test("the gateway's own error body", () => {
    expect(anthropicErrorBody(404, "model x not found")).toEqual({ type: "error", error: { type: "not_found_error", message: "model x not found" } });
    expect(anthropicErrorBody(400, "bad", "request_too_large").error.type).toBe("request_too_large");
  });

  test("Copilot's OpenAI-shaped error keeps its message, typed by status", () => {
    const body = JSON.stringify({ error: { message: "rate limited upstream", type: "rate_limit", code: "rate_limited" } });
    expect(anthropicErrorFromUpstream(429, body)).toEqual({ type: "error", error: { type: "rate_limit_error", message: "rate limited upstream" } });
    expect(anthropicErrorFromUpstream(400, JSON.stringify({ error: { message: "", code: "unsupported_api_for_model" } })).error.message).toBe(
      "unsupported_api_for_model",
    );
  });

  test("GitHub's {message}, an {error: string}, plain text and empty bodies", () => {
    expect(anthropicErrorFromUpstream(401, JSON.stringify({ message: "Bad credentials" })).error).toEqual({
      type: "authentication_error",
      message: "Bad credentials",
    });
    expect(anthropicErrorFromUpstream(403, JSON.stringify({ error: "forbidden by policy" })).error).toEqual({
      type: "permission_error",
      message: "forbidden by policy",
    });
    expect(anthropicErrorFromUpstream(500, "upstream exploded").error).toEqual({ type: "api_error", message: "upstream exploded" });
    expect(anthropicErrorFromUpstream(502, "").error.message).toBe("Copilot answered HTTP 502 without a message");
    expect(anthropicErrorFromUpstream(500, "{ not json").error.message).toBe("Copilot answered HTTP 500 without a message");
  });

  test("an Anthropic body from the native endpoint keeps its own type", () => {
    const body = JSON.stringify({ type: "error", error: { type: "overloaded_error", message: "Overloaded" }, request_id: "req_1" });
    expect(anthropicErrorFromUpstream(500, body)).toEqual({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } });
    const odd = JSON.stringify({ type: "error", error: { type: "made_up_error", message: "?" } });
    expect(anthropicErrorFromUpstream(400, odd).error.type).toBe("invalid_request_error");
  });

  test("long messages are bounded", () => {
    const message = anthropicErrorFromUpstream(500, JSON.stringify({ error: { message: "x".repeat(10_000) } })).error.message;
    expect(message.length).toBe(MAX_ERROR_MESSAGE_LENGTH + 1);
  });

  test("the SSE error event", () => {
    expect(anthropicErrorEvent("overloaded_error", "try later")).toBe(
      'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"try later"}}\n\n',
    );
  });
});
