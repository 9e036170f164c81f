import { describe, expect, test } from "bun:test";
import { anthropicHasImages, anthropicInitiator } from "~/protocols/anthropic/initiator";
import type { AnthropicMessage } from "~/protocols/anthropic/request-schema";
import { chatHasImages, chatInitiator } from "~/protocols/openai/initiator";

const image = { type: "image" as const, source: { type: "url" as const, url: "https://e.com/a.png" } };

describe("X-Initiator", () => {
  test("Anthropic: user only when the last message is a user turn without tool_result", () => {
    const user: AnthropicMessage = { role: "user", content: "hi" };
    const userBlocks: AnthropicMessage = { role: "user", content: [{ type: "text", text: "hi" }, image] };
    const assistant: AnthropicMessage = { role: "assistant", content: [{ type: "tool_use", id: "t", name: "Read", input: {} }] };
    const toolResult: AnthropicMessage = { role: "user", content: [{ type: "tool_result", tool_use_id: "t", content: "x" }] };
    const toolResultAndText: AnthropicMessage = {
      role: "user",
      content: [
        { type: "tool_result", tool_use_id: "t", content: "x" },
        { type: "text", text: "also" },
      ],
    };
    expect(anthropicInitiator([user])).toBe("user");
    expect(anthropicInitiator([user, assistant, toolResult, assistant, userBlocks])).toBe("user");
    expect(anthropicInitiator([user, assistant, toolResult])).toBe("agent");
    expect(anthropicInitiator([user, assistant, toolResultAndText])).toBe("agent");
    expect(anthropicInitiator([user, { role: "assistant", content: "prefill" }])).toBe("agent");
    expect(anthropicInitiator([])).toBe("agent");
  });

  test("Chat: last message from the user → user; tool result or assistant → agent", () => {
    expect(
      chatInitiator([
        { role: "system", content: "s" },
        { role: "user", content: "hi" },
      ]),
    ).toBe("user");
    expect(
      chatInitiator([
        { role: "user", content: "hi" },
        { role: "assistant", content: null },
        { role: "tool", content: "r" },
      ]),
    ).toBe("agent");
    expect(
      chatInitiator([
        { role: "user", content: "hi" },
        { role: "assistant", content: "pre" },
      ]),
    ).toBe("agent");
    expect(chatInitiator([{ role: "system", content: "s" }])).toBe("agent");
    expect(chatInitiator([])).toBe("agent");
  });
});

describe("vision", () => {
  test("Anthropic: an image in a message or inside a tool result", () => {
    expect(anthropicHasImages([{ role: "user", content: "hi" }])).toBe(false);
    expect(anthropicHasImages([{ role: "user", content: [{ type: "text", text: "x" }] }])).toBe(false);
    expect(anthropicHasImages([{ role: "user", content: [image] }])).toBe(true);
    expect(anthropicHasImages([{ role: "user", content: [{ type: "tool_result", tool_use_id: "t", content: [image] }] }])).toBe(true);
    expect(anthropicHasImages([{ role: "user", content: [{ type: "tool_result", tool_use_id: "t", content: "text" }] }])).toBe(false);
  });

  test("Chat: an image_url part", () => {
    expect(chatHasImages([{ role: "user", content: "hi" }])).toBe(false);
    expect(chatHasImages([{ role: "user", content: [{ type: "text", text: "x" }] }])).toBe(false);
    expect(chatHasImages([{ role: "user", content: [{ type: "image_url", image_url: { url: "data:image/png;base64,AA" } }] }])).toBe(true);
  });
});
