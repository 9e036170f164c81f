import { describe, expect, test } from "bun:test";
import { parseCountTokensRequest, parseMessagesRequest } from "~/protocols/anthropic/request-schema";
import { CLAUDE_CODE_REQUEST } from "../../fixtures/copilot-chat-chunks";

const minimal = { model: "claude-sonnet-4.5", max_tokens: 1, messages: [{ role: "user", content: "hi" }] };

function failure(body: unknown): string {
  const result = parseMessagesRequest(body);
  if (result.ok) throw new Error("expected a validation failure");
  return result.message;
}

describe("messages request schema", () => {
  test("accepts Claude Code's request (system blocks with cache_control, tools, tool_result turns, metadata)", () => {
    const result = parseMessagesRequest(CLAUDE_CODE_REQUEST);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.metadata?.user_id).toStartWith("user_");
    expect(Array.isArray(result.value.system)).toBe(true);
    expect(result.value.tools?.map((t) => t.name)).toEqual(["Bash", "Read"]);
  });

  test("accepts every block kind the gateway reads", () => {
    const body = {
      ...minimal,
      system: "be brief",
      tool_choice: { type: "tool", name: "Read" },
      stop_sequences: ["END"],
      temperature: 0.2,
      top_p: 0.9,
      stream: true,
      thinking: { type: "enabled", budget_tokens: 2048 },
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "look" },
            { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
            { type: "image", source: { type: "url", url: "https://example.com/cat.png" } },
          ],
        },
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: "hmm", signature: "sig" },
            { type: "redacted_thinking", data: "opaque" },
            { type: "tool_use", id: "t1", name: "Read", input: { file_path: "/a" } },
          ],
        },
        {
          role: "user",
          content: [
            {
              type: "tool_result",
              tool_use_id: "t1",
              content: [
                { type: "text", text: "x" },
                { type: "image", source: { type: "url", url: "https://e.com/a.png" } },
              ],
              is_error: false,
            },
            { type: "tool_result", tool_use_id: "t2" },
          ],
        },
      ],
    };
    expect(parseMessagesRequest(body).ok).toBe(true);
  });

  test("each tool_choice kind is accepted; an unknown one is refused", () => {
    for (const choice of [{ type: "auto" }, { type: "any" }, { type: "tool", name: "x" }, { type: "none" }]) {
      expect(parseMessagesRequest({ ...minimal, tool_choice: choice }).ok).toBe(true);
    }
    expect(failure({ ...minimal, tool_choice: { type: "sometimes" } })).toStartWith("tool_choice.type: ");
  });

  test("unknown fields pass through untouched, at the top and inside blocks", () => {
    const result = parseMessagesRequest({
      ...minimal,
      service_tier: "auto",
      messages: [{ role: "user", content: [{ type: "text", text: "hi", citations: null, extra: 1 }] }],
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect((result.value as Record<string, unknown>).service_tier).toBe("auto");
    expect(result.value.messages[0]!.content).toEqual([{ type: "text", text: "hi", citations: null, extra: 1 }]);
  });

  test("a bad block type names its path", () => {
    const message = failure({
      ...minimal,
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "a" },
            { type: "video", url: "x" },
          ],
        },
      ],
    });
    expect(message).toStartWith("messages[0].content[1].type: ");
  });

  test("a bad field inside a block names its path, not the string-or-array union", () => {
    expect(failure({ ...minimal, messages: [{ role: "user", content: [{ type: "text", text: 5 }] }] })).toStartWith("messages[0].content[0].text: ");
    expect(
      failure({ ...minimal, messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "t", content: [{ type: "text" }] }] }] }),
    ).toStartWith("messages[0].content[0].content[0].text: ");
  });

  test("missing or wrong top-level fields are named", () => {
    expect(failure({ model: "m", messages: [] })).toStartWith("max_tokens: ");
    expect(failure({ ...minimal, max_tokens: 0 })).toStartWith("max_tokens: ");
    expect(failure({ ...minimal, model: "" })).toStartWith("model: ");
    expect(failure({ ...minimal, model: "m".repeat(300) })).toStartWith("model: ");
    expect(failure({ ...minimal, messages: [{ role: "system", content: "x" }] })).toStartWith("messages[0].role: ");
    expect(failure({ ...minimal, system: [{ type: "image" }] })).toStartWith("system[0].type: ");
    expect(failure({ ...minimal, temperature: 1.5 })).toStartWith("temperature: ");
    expect(failure("not an object")).toStartWith("body: ");
  });

  test("the first problem is told, worded by the describer every protocol shares", () => {
    expect(failure({ messages: "x", max_tokens: "y", model: 1, stream: "no", temperature: "hot" })).toBe("model: expected a string, got a number");
    expect(failure({ model: "m", messages: [] })).toBe("max_tokens: is required (a number)");
  });

  test("count_tokens takes the same body without max_tokens", () => {
    expect(parseCountTokensRequest({ model: "m", messages: [{ role: "user", content: "hi" }] }).ok).toBe(true);
    expect(parseMessagesRequest({ model: "m", messages: [{ role: "user", content: "hi" }] }).ok).toBe(false);
  });
});

test("content of the wrong kind says what is expected", () => {
  const result = parseMessagesRequest({ model: "m", max_tokens: 1, messages: [{ role: "user", content: 5 }] });
  expect(result.ok ? "" : result.message).toBe("messages[0].content: expected a string or an array of content blocks");
});
