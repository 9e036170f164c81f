import { describe, expect, test } from "bun:test";
import { chatToAnthropic, mapStopReason, mapUsage, messageId, parseToolInput } from "~/protocols/anthropic/from-chat";

const opts = { model: "claude-sonnet-4-20250514" };

describe("Chat completion → Anthropic message", () => {
  test("a text answer (Copilot omits object) becomes one text block with mapped usage", () => {
    const message = chatToAnthropic(
      {
        id: "msg_vrtx_01abc",
        created: 1_762_000_000,
        model: "claude-sonnet-4",
        choices: [{ index: 0, message: { role: "assistant", content: "Hello!" }, finish_reason: "stop" }],
        usage: { prompt_tokens: 1200, completion_tokens: 9, total_tokens: 1209, prompt_tokens_details: { cached_tokens: 1000 } },
      },
      opts,
    );
    expect(message).toEqual({
      id: "msg_vrtx_01abc",
      type: "message",
      role: "assistant",
      model: "claude-sonnet-4-20250514",
      content: [{ type: "text", text: "Hello!" }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: 200, output_tokens: 9, cache_creation_input_tokens: 0, cache_read_input_tokens: 1000 },
    });
  });

  test("reasoning, text and tool calls come out as thinking, text, tool_use with parsed input", () => {
    const message = chatToAnthropic(
      {
        id: "chatcmpl-1",
        choices: [
          {
            index: 0,
            message: {
              role: "assistant",
              content: "Reading it.",
              reasoning_text: "I should read the file.",
              reasoning_opaque: "sig==",
              tool_calls: [{ id: "toolu_1", type: "function", function: { name: "Read", arguments: '{"file_path":"/a"}' } }],
            },
            finish_reason: "tool_calls",
          },
        ],
      },
      opts,
    );
    expect(message.id).toBe("msg_chatcmpl-1");
    expect(message.content).toEqual([
      { type: "thinking", thinking: "I should read the file.", signature: "sig==" },
      { type: "text", text: "Reading it." },
      { type: "tool_use", id: "toolu_1", name: "Read", input: { file_path: "/a" } },
    ]);
    expect(message.stop_reason).toBe("tool_use");
  });

  test("reasoning_content is read too; a signature alone is redacted thinking", () => {
    expect(chatToAnthropic({ choices: [{ message: { content: "x", reasoning_content: "because" }, finish_reason: "stop" }] }, opts).content[0]).toEqual({
      type: "thinking",
      thinking: "because",
      signature: "",
    });
    expect(chatToAnthropic({ choices: [{ message: { content: "x", reasoning_opaque: "enc" }, finish_reason: "stop" }] }, opts).content[0]).toEqual({
      type: "redacted_thinking",
      data: "enc",
    });
  });

  test("Copilot's split choices (text in one, tool calls in another) are merged, and stop becomes tool_use", () => {
    const message = chatToAnthropic(
      {
        choices: [
          { index: 0, message: { role: "assistant", content: "Let me check." }, finish_reason: "stop" },
          {
            index: 1,
            message: {
              role: "assistant",
              content: null,
              tool_calls: [{ id: "t", type: "function", function: { name: "Bash", arguments: '{"command":"ls"}' } }],
            },
            finish_reason: "stop",
          },
        ],
      },
      opts,
    );
    expect(message.content.map((b) => b.type)).toEqual(["text", "tool_use"]);
    expect(message.stop_reason).toBe("tool_use");
  });

  test("stop reasons map", () => {
    expect(mapStopReason("stop")).toBe("end_turn");
    expect(mapStopReason("length")).toBe("max_tokens");
    expect(mapStopReason("tool_calls")).toBe("tool_use");
    expect(mapStopReason("content_filter")).toBe("refusal");
    expect(mapStopReason(null)).toBeNull();
    expect(chatToAnthropic({ choices: [{ message: { content: "cut" }, finish_reason: "length" }] }, opts).stop_reason).toBe("max_tokens");
    expect(chatToAnthropic({ choices: [{ message: { content: "" }, finish_reason: "content_filter" }] }, opts).stop_reason).toBe("refusal");
  });

  test("usage: cached tokens move to cache_read_input_tokens; missing usage is zeros", () => {
    expect(mapUsage({ prompt_tokens: 50, completion_tokens: 5 })).toEqual({
      input_tokens: 50,
      output_tokens: 5,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    });
    expect(mapUsage({ prompt_tokens: 50, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 80 } }).input_tokens).toBe(0);
    expect(mapUsage(undefined)).toEqual({ input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
    expect(mapUsage({ prompt_tokens: 10, prompt_tokens_details: null }).input_tokens).toBe(10);
  });

  test("tool arguments: empty is {}, non-object JSON or broken JSON is kept raw", () => {
    expect(parseToolInput("")).toEqual({});
    expect(parseToolInput(undefined)).toEqual({});
    expect(parseToolInput('{"a":1}')).toEqual({ a: 1 });
    expect(parseToolInput('{"a":')).toEqual({ raw_arguments: '{"a":' });
    expect(parseToolInput("[1]")).toEqual({ raw_arguments: "[1]" });
  });

  test("message ids", () => {
    expect(messageId("msg_1")).toBe("msg_1");
    expect(messageId("chatcmpl-9")).toBe("msg_chatcmpl-9");
    expect(messageId("")).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(messageId(undefined)).toMatch(/^msg_[0-9a-f]{32}$/);
  });

  test("an answer with no choices is an empty end_turn message", () => {
    const message = chatToAnthropic({ choices: [] }, opts);
    expect(message.content).toEqual([]);
    expect(message.stop_reason).toBeNull();
  });
});
