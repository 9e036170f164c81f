import { describe, expect, test } from "bun:test";
import { type EventDraft, newDraft } from "~/features/events/draft";
import { copilotBetas } from "~/protocols/anthropic/beta";
import { anthropicUsage } from "~/protocols/anthropic/usage";
import { chatUsage as openAIUsage } from "~/protocols/chat";
import { REASONING_CHUNKS, TEXT_CHUNKS, toSse } from "../../fixtures/copilot-chat-chunks";

const sse = (events: { type: string; [k: string]: unknown }[]) => events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join("");

const START = {
  type: "message_start",
  message: {
    id: "msg_1",
    type: "message",
    role: "assistant",
    model: "claude-sonnet-4.5",
    content: [],
    usage: { input_tokens: 30, cache_creation_input_tokens: 500, cache_read_input_tokens: 2000, output_tokens: 1 },
  },
};
const BODY = [
  { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
  { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hi" } },
  { type: "content_block_stop", index: 0 },
];
const DELTA = { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 77 } };

function read(fn: (draft: EventDraft) => void): EventDraft {
  const draft = newDraft();
  fn(draft);
  return draft;
}

describe("Anthropic usage reader", () => {
  test("a message: prompt tokens count the cache too, which is also kept on its own", () => {
    const draft = read((d) => anthropicUsage.fromAnswer(d, { model: "claude-sonnet-4.5", usage: START.message.usage }));
    expect(draft).toMatchObject({
      usageSeen: true,
      upstreamModel: "claude-sonnet-4.5",
      promptTokens: 2530,
      completionTokens: 1,
      cacheReadTokens: 2000,
      cacheCreationTokens: 500,
    });
  });

  test("a stream: input usage from message_start at the head, output from message_delta at the tail", () => {
    const text = sse([START, ...BODY, DELTA, { type: "message_stop" }]);
    // A long stream: the head and the tail are different windows of it.
    const draft = read((d) => anthropicUsage.fromStream(d, { head: text.slice(0, 600), tail: text.slice(-300) }));
    expect(draft).toMatchObject({ usageSeen: true, upstreamModel: "claude-sonnet-4.5", promptTokens: 2530, completionTokens: 77, cacheReadTokens: 2000 });
  });

  test("message_delta's cumulative input counts, when a newer stream sends them, win over message_start's", () => {
    const delta = { ...DELTA, usage: { input_tokens: 31, cache_read_input_tokens: 2100, output_tokens: 80 } };
    const text = sse([START, delta]);
    const draft = read((d) => anthropicUsage.fromStream(d, { head: text, tail: text }));
    expect(draft).toMatchObject({ promptTokens: 31 + 2100 + 500, completionTokens: 80, cacheReadTokens: 2100, cacheCreationTokens: 500 });
  });

  test("a stream cut before any usage leaves the event without usage", () => {
    const text = sse(BODY);
    expect(read((d) => anthropicUsage.fromStream(d, { head: text, tail: text })).usageSeen).toBe(false);
  });
});

describe("OpenAI chat usage reader", () => {
  test("cached prompt tokens and reasoning tokens, from Copilot's real chunks", () => {
    const text = toSse(TEXT_CHUNKS);
    expect(read((d) => openAIUsage.fromStream(d, { head: text, tail: text }))).toMatchObject({
      promptTokens: 1200,
      cacheReadTokens: 1000,
      reasoningTokens: null,
    });
    const reasoning = toSse(REASONING_CHUNKS);
    expect(read((d) => openAIUsage.fromStream(d, { head: reasoning, tail: reasoning }))).toMatchObject({
      completionTokens: 40,
      reasoningTokens: 20,
      cacheReadTokens: 0,
    });
  });
});

describe("anthropic-beta for Copilot", () => {
  test("only the flags Copilot accepts go through, each once", () => {
    expect(copilotBetas("interleaved-thinking-2025-05-14,context-1m-2025-08-07, fine-grained-tool-streaming-2025-05-14")).toBe(
      "interleaved-thinking-2025-05-14",
    );
    expect(copilotBetas("context-management-2025-06-27,context-management-2025-06-27,advanced-tool-use-2025-11-20")).toBe(
      "context-management-2025-06-27,advanced-tool-use-2025-11-20",
    );
    expect(copilotBetas("context-1m-2025-08-07")).toBeUndefined();
    expect(copilotBetas(undefined)).toBeUndefined();
  });
});
