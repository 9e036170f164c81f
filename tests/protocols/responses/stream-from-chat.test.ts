import { describe, expect, test } from "bun:test";
import { accumulateResponse } from "openai/lib/responses/ResponseAccumulator";
import type { ResponseStreamEvent } from "openai/resources/responses/responses";
import { newContext } from "~/protocols/responses/from-chat";
import { translateChatStream } from "~/protocols/responses/stream-from-chat";
import type { ResponseObject } from "~/protocols/responses/types";
import { ERROR_CHUNKS, REASONING_CHUNKS, TEXT_CHUNKS, TOOL_CHUNKS, toSse } from "../../fixtures/copilot-chat-chunks";

interface Event {
  type: string;
  sequence_number: number;
  [key: string]: unknown;
}

const context = () => newContext({ model: "gpt-4.1", input: "x" }, true, 1_700_000_000_000);

/** Feeds `text` in pieces of `size` bytes (cutting lines and UTF-8 characters), reads the whole translation. */
async function run(text: string, size = 7, onResponse?: (r: ResponseObject) => void) {
  const bytes = new TextEncoder().encode(text);
  const upstream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < bytes.length; i += size) controller.enqueue(bytes.slice(i, i + size));
      controller.close();
    },
  });
  const { stream, translator } = translateChatStream(upstream, context(), { onResponse });
  const out = await new Response(stream).text();
  const frames = out.split("\n\n").filter(Boolean);
  const events = frames.map((frame) => {
    const [eventLine, dataLine] = frame.split("\n");
    const event = JSON.parse(dataLine!.slice(6)) as Event;
    expect(eventLine).toBe(`event: ${event.type}`);
    return event;
  });
  return { events, types: events.map((e) => e.type), outcome: translator.outcome() };
}

/** What the official SDK assembles from the events (it throws on an event out of place). */
function assembled(events: Event[]) {
  let snapshot: ReturnType<typeof accumulateResponse> | undefined;
  for (const event of events) snapshot = accumulateResponse(event as unknown as ResponseStreamEvent, snapshot);
  return snapshot!;
}

describe("Copilot chat stream → Responses events", () => {
  test("text: the exact event sequence, numbered, ending with one response.completed carrying usage", async () => {
    const { events, types, outcome } = await run(toSse(TEXT_CHUNKS));
    expect(types).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events[0]).toMatchObject({ response: { status: "in_progress", output: [], model: "gpt-4.1" } });
    expect(events[7]).toMatchObject({ text: "Hello — wörld 🌍!", output_index: 0, content_index: 0 });
    const completed = events.at(-1)!.response as ResponseObject;
    expect(completed.status).toBe("completed");
    expect(completed.usage).toEqual({
      input_tokens: 1200,
      input_tokens_details: { cached_tokens: 1000 },
      output_tokens: 9,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 1209,
    });
    expect(completed.output).toEqual([
      {
        id: expect.stringMatching(/^msg_/),
        type: "message",
        status: "completed",
        role: "assistant",
        content: [{ type: "output_text", text: "Hello — wörld 🌍!", annotations: [], logprobs: [] }],
      },
    ]);
    expect(assembled(events).output_text).toBe("Hello — wörld 🌍!");
    expect(outcome.response).toEqual(completed);
    expect(outcome.upstreamModel).toBe("claude-sonnet-4");
  });

  test("text then two tool calls: the message closes before the calls, each call's arguments stream and end with .done", async () => {
    const { events, types } = await run(toSse(TOOL_CHUNKS), 13);
    expect(types).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.delta",
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.completed",
    ]);
    const response = assembled(events);
    expect(response.output.map((item) => item.type)).toEqual(["message", "function_call", "function_call"]);
    expect(response.output[1]).toMatchObject({ call_id: "toolu_vrtx_01AAA", name: "Read", arguments: '{"file_path": "/repo/README.md"}', status: "completed" });
    expect(response.output[2]).toMatchObject({ call_id: "toolu_vrtx_01BBB", arguments: '{"file_path": "/repo/package.json"}' });
    expect(response.status).toBe("completed");
  });

  test("reasoning becomes a reasoning item with a summary and encrypted_content, before the message", async () => {
    const { events, types } = await run(toSse(REASONING_CHUNKS), 5);
    expect(types.slice(2, 10)).toEqual([
      "response.output_item.added",
      "response.reasoning_summary_part.added",
      "response.reasoning_summary_text.delta",
      "response.reasoning_summary_text.delta",
      "response.reasoning_summary_text.done",
      "response.reasoning_summary_part.done",
      "response.output_item.done",
      "response.output_item.added",
    ]);
    const response = assembled(events);
    expect(response.output[0]).toMatchObject({
      type: "reasoning",
      summary: [{ type: "summary_text", text: "The user wants a haiku. Five, seven, five." }],
      encrypted_content: "EqQBCkYIBxgCKkDsig+nAture==",
    });
    expect(response.output_text).toBe("Quiet gateway hums\nrequests pass like spring rain");
    expect(response.usage?.output_tokens_details.reasoning_tokens).toBe(20);
  });

  test("a length finish ends with response.incomplete (max_output_tokens)", async () => {
    const chunks = [
      { id: "c", model: "m", choices: [{ index: 0, delta: { content: "cut" } }] },
      { id: "c", model: "m", choices: [{ index: 0, delta: {}, finish_reason: "length" }] },
    ];
    const { events, types } = await run(toSse(chunks));
    expect(types.at(-1)).toBe("response.incomplete");
    expect(types.filter((t) => t.startsWith("response.completed") || t === "response.failed")).toEqual([]);
    expect(events.at(-1)!.response).toMatchObject({ status: "incomplete", incomplete_details: { reason: "max_output_tokens" } });
  });

  test("an error chunk, or a stream that stops short, ends with exactly one response.failed", async () => {
    const stored: ResponseObject[] = [];
    const failed = await run(toSse(ERROR_CHUNKS, { done: false }), 7, (r) => stored.push(r));
    expect(failed.types.filter((t) => t === "response.failed")).toHaveLength(1);
    expect(failed.types.at(-1)).toBe("response.failed");
    expect(failed.events.at(-1)!.response).toMatchObject({
      status: "failed",
      error: { code: "server_error", message: "The model is overloaded, please try again later" },
    });
    expect(stored.map((r) => r.status)).toEqual(["failed"]);

    const cut = await run(toSse(TEXT_CHUNKS.slice(0, 3), { done: false }));
    expect(cut.types.at(-1)).toBe("response.failed");
    expect((cut.events.at(-1)!.response as ResponseObject).error?.message).toContain("ended before the answer was complete");
  });

  test("the final response is handed over before its terminal event is sent", async () => {
    let seenBeforeEnd = false;
    const bytes = new TextEncoder().encode(toSse(TEXT_CHUNKS));
    const upstream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(bytes);
        c.close();
      },
    });
    const { stream } = translateChatStream(upstream, context(), { onResponse: () => (seenBeforeEnd = true) });
    const reader = stream.getReader();
    let text = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const chunk = new TextDecoder().decode(value);
      if (chunk.includes("response.completed")) expect(seenBeforeEnd).toBe(true);
      text += chunk;
    }
    expect(text).toContain("response.completed");
  });
});
