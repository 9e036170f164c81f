import { describe, expect, test } from "bun:test";
import { type MessagesRequest, parseMessagesRequest } from "~/protocols/anthropic/request-schema";
import { anthropicToChat, convertToolChoice, TOOL_ERROR_PREFIX } from "~/protocols/anthropic/to-chat";
import { CLAUDE_CODE_REQUEST } from "../../fixtures/copilot-chat-chunks";

function req(body: Record<string, unknown>): MessagesRequest {
  const result = parseMessagesRequest({ model: "claude-x", max_tokens: 100, ...body });
  if (!result.ok) throw new Error(result.message);
  return result.value;
}

const plain = { model: "claude-sonnet-4", supportsReasoning: false };
const reasoning = { model: "claude-sonnet-4", supportsReasoning: true };

describe("Anthropic → Chat Completions", () => {
  test("the model is the resolved id, max_tokens carried, no stream fields when not streaming", () => {
    const chat = anthropicToChat(req({ messages: [{ role: "user", content: "hi" }] }), plain);
    expect(chat).toEqual({ model: "claude-sonnet-4", max_tokens: 100, messages: [{ role: "user", content: "hi" }] });
  });

  test("system as a string and as blocks becomes one system message first", () => {
    expect(anthropicToChat(req({ system: "be brief", messages: [{ role: "user", content: "hi" }] }), plain).messages[0]).toEqual({
      role: "system",
      content: "be brief",
    });
    const blocks = anthropicToChat(
      req({
        system: [
          { type: "text", text: "A", cache_control: { type: "ephemeral" } },
          { type: "text", text: "B" },
        ],
        messages: [{ role: "user", content: "hi" }],
      }),
      plain,
    );
    expect(blocks.messages[0]).toEqual({ role: "system", content: "A\n\nB" });
    expect(anthropicToChat(req({ system: [], messages: [{ role: "user", content: "hi" }] }), plain).messages[0]!.role).toBe("user");
  });

  test("user text blocks join into a string; images make content parts with data: and plain URLs", () => {
    const text = anthropicToChat(
      req({
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "a" },
              { type: "text", text: "b" },
            ],
          },
        ],
      }),
      plain,
    );
    expect(text.messages).toEqual([{ role: "user", content: "a\n\nb" }]);

    const images = anthropicToChat(
      req({
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "what is this?" },
              { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
              { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
            ],
          },
        ],
      }),
      plain,
    );
    expect(images.messages).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "what is this?" },
          { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
          { type: "image_url", image_url: { url: "https://example.com/cat.jpg" } },
        ],
      },
    ]);
  });

  test("assistant tool_use becomes tool_calls with JSON arguments; text-less content is null", () => {
    const chat = anthropicToChat(
      req({
        messages: [
          { role: "user", content: "go" },
          { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "Read", input: { file_path: "/a" } }] },
        ],
      }),
      plain,
    );
    expect(chat.messages[1]).toEqual({
      role: "assistant",
      content: null,
      tool_calls: [{ id: "toolu_1", type: "function", function: { name: "Read", arguments: '{"file_path":"/a"}' } }],
    });
  });

  test("tool_result becomes role tool messages, placed before the user's text of the same turn", () => {
    const chat = anthropicToChat(
      req({
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "and also this" },
              { type: "tool_result", tool_use_id: "t1", content: "file body" },
              {
                type: "tool_result",
                tool_use_id: "t2",
                content: [
                  { type: "text", text: "line 1" },
                  { type: "text", text: "line 2" },
                ],
              },
            ],
          },
        ],
      }),
      plain,
    );
    expect(chat.messages).toEqual([
      { role: "tool", tool_call_id: "t1", content: "file body" },
      { role: "tool", tool_call_id: "t2", content: "line 1\nline 2" },
      { role: "user", content: "and also this" },
    ]);
  });

  test("is_error results say so; an empty or missing result is an empty tool message", () => {
    const chat = anthropicToChat(
      req({
        messages: [
          {
            role: "user",
            content: [
              { type: "tool_result", tool_use_id: "t1", content: [{ type: "text", text: "exit 1" }], is_error: true },
              { type: "tool_result", tool_use_id: "t2", is_error: true },
              { type: "tool_result", tool_use_id: "t3" },
            ],
          },
        ],
      }),
      plain,
    );
    expect(chat.messages).toEqual([
      { role: "tool", tool_call_id: "t1", content: `${TOOL_ERROR_PREFIX}exit 1` },
      { role: "tool", tool_call_id: "t2", content: `${TOOL_ERROR_PREFIX}the tool call failed` },
      { role: "tool", tool_call_id: "t3", content: "" },
    ]);
  });

  test("images inside a tool result ride on a user message after the tool messages", () => {
    const chat = anthropicToChat(
      req({
        messages: [
          {
            role: "user",
            content: [
              {
                type: "tool_result",
                tool_use_id: "shot",
                content: [
                  { type: "text", text: "screenshot taken" },
                  { type: "image", source: { type: "base64", media_type: "image/jpeg", data: "/9j/4AAQ" } },
                ],
              },
            ],
          },
        ],
      }),
      plain,
    );
    expect(chat.messages).toEqual([
      { role: "tool", tool_call_id: "shot", content: "screenshot taken" },
      {
        role: "user",
        content: [
          { type: "text", text: "Images returned by tool call shot:" },
          { type: "image_url", image_url: { url: "data:image/jpeg;base64,/9j/4AAQ" } },
        ],
      },
    ]);
  });

  test("thinking blocks are kept as reasoning_text/reasoning_opaque only when the model reasons", () => {
    const body = req({
      messages: [
        { role: "user", content: "q" },
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: "let me think", signature: "sig-1" },
            { type: "text", text: "answer" },
          ],
        },
        { role: "user", content: "more" },
      ],
    });
    expect(anthropicToChat(body, reasoning).messages[1]).toEqual({
      role: "assistant",
      content: "answer",
      reasoning_text: "let me think",
      reasoning_opaque: "sig-1",
    });
    expect(anthropicToChat(body, plain).messages[1]).toEqual({ role: "assistant", content: "answer" });
    const redacted = req({
      messages: [
        {
          role: "assistant",
          content: [
            { type: "redacted_thinking", data: "opaque" },
            { type: "text", text: "x" },
          ],
        },
      ],
    });
    expect(anthropicToChat(redacted, reasoning).messages[0]).toEqual({ role: "assistant", content: "x", reasoning_opaque: "opaque" });
    expect(anthropicToChat(redacted, plain).messages[0]).toEqual({ role: "assistant", content: "x" });
  });

  test("thinking budget goes along only for a reasoning model", () => {
    const body = req({ thinking: { type: "enabled", budget_tokens: 4096 }, messages: [{ role: "user", content: "q" }] });
    expect(anthropicToChat(body, reasoning).thinking_budget).toBe(4096);
    expect(anthropicToChat(body, plain).thinking_budget).toBeUndefined();
  });

  test("tools map to functions; server tools without input_schema are left out", () => {
    const chat = anthropicToChat(
      req({
        messages: [{ role: "user", content: "q" }],
        tools: [
          { name: "Read", description: "reads", input_schema: { type: "object", properties: { p: { type: "string" } } } },
          { type: "web_search_20250305", name: "web_search", max_uses: 5 },
        ],
      }),
      plain,
    );
    expect(chat.tools).toEqual([
      { type: "function", function: { name: "Read", description: "reads", parameters: { type: "object", properties: { p: { type: "string" } } } } },
    ]);
  });

  test("tool_choice: auto, any, tool, none", () => {
    expect(convertToolChoice({ type: "auto" })).toBe("auto");
    expect(convertToolChoice({ type: "any" })).toBe("required");
    expect(convertToolChoice({ type: "tool", name: "Read" })).toEqual({ type: "function", function: { name: "Read" } });
    expect(convertToolChoice({ type: "none" })).toBe("none");
    const tools = [{ name: "Read", input_schema: { type: "object" } }];
    const body = (choice: unknown) => req({ messages: [{ role: "user", content: "q" }], tools, tool_choice: choice });
    expect(anthropicToChat(body({ type: "any" }), plain).tool_choice).toBe("required");
    expect(anthropicToChat(body({ type: "tool", name: "Read" }), plain).tool_choice).toEqual({ type: "function", function: { name: "Read" } });
    expect(anthropicToChat(body({ type: "auto", disable_parallel_tool_use: true }), plain).parallel_tool_calls).toBe(false);
    expect(anthropicToChat(body({ type: "auto" }), plain).parallel_tool_calls).toBeUndefined();
  });

  test("stop_sequences, temperature, top_p, metadata.user_id, stream", () => {
    const chat = anthropicToChat(
      req({
        messages: [{ role: "user", content: "q" }],
        stop_sequences: ["END", "STOP"],
        temperature: 0.3,
        top_p: 0.8,
        top_k: 5,
        metadata: { user_id: "u-1" },
        stream: true,
      }),
      plain,
    );
    expect(chat.stop).toEqual(["END", "STOP"]);
    expect(chat.temperature).toBe(0.3);
    expect(chat.top_p).toBe(0.8);
    expect(chat.user).toBe("u-1");
    expect(chat.stream).toBe(true);
    expect(chat.stream_options).toEqual({ include_usage: true });
    expect("top_k" in chat).toBe(false);
    const long = anthropicToChat(req({ messages: [{ role: "user", content: "q" }], metadata: { user_id: "u".repeat(1000) } }), plain);
    expect(long.user).toHaveLength(256);
  });

  test("Claude Code's request translates turn by turn", () => {
    const parsed = parseMessagesRequest(CLAUDE_CODE_REQUEST);
    if (!parsed.ok) throw new Error(parsed.message);
    const chat = anthropicToChat(parsed.value, { model: "claude-sonnet-4", supportsReasoning: true });
    expect(chat.model).toBe("claude-sonnet-4");
    expect(chat.messages.map((m) => m.role)).toEqual(["system", "user", "assistant", "tool", "tool", "assistant", "user"]);
    expect(chat.messages[0]!.content).toStartWith("You are Claude Code, Anthropic's official CLI for Claude.\n\nYou are an interactive CLI tool");
    const assistant = chat.messages[2] as { tool_calls: { id: string }[]; content: string };
    expect(assistant.content).toBe("I'll look at the README and run the tests.");
    expect(assistant.tool_calls.map((c) => c.id)).toEqual(["toolu_01ReadReadme", "toolu_01RunTests"]);
    expect(chat.messages[4]).toEqual({ role: "tool", tool_call_id: "toolu_01RunTests", content: "Error: error: 2 tests failed" });
    expect(chat.messages[6]).toEqual({ role: "user", content: "Fix them." });
    expect(chat.tools?.map((t) => t.function.name)).toEqual(["Bash", "Read"]);
    expect(chat.user).toStartWith("user_");
    expect(chat.stream_options).toEqual({ include_usage: true });
    expect(JSON.stringify(chat)).not.toContain("cache_control");
  });

  test("the input request is not modified", () => {
    const parsed = parseMessagesRequest(structuredClone(CLAUDE_CODE_REQUEST));
    if (!parsed.ok) throw new Error(parsed.message);
    const before = JSON.stringify(parsed.value);
    anthropicToChat(parsed.value, reasoning);
    expect(JSON.stringify(parsed.value)).toBe(before);
  });
});
