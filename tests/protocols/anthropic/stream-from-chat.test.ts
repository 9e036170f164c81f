import { describe, expect, test } from "bun:test";
import { type ChatStreamOptions, translateChatStream } from "~/protocols/anthropic/stream-from-chat";
import { ERROR_CHUNKS, PROMPT_FILTER_CHUNK, REASONING_CHUNKS, TEXT_CHUNKS, TOOL_CHUNKS, toSse } from "../../fixtures/copilot-chat-chunks";

const encoder = new TextEncoder();
const OPTIONS: ChatStreamOptions = { model: "claude-sonnet-4-20250514" };

/** A stream that delivers `bytes` cut at the given offsets, one read per piece. */
function piecewise(bytes: Uint8Array, cuts: number[]): ReadableStream<Uint8Array> {
  const pieces: Uint8Array[] = [];
  let at = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length)].sort((a, b) => a - b)) {
    pieces.push(bytes.slice(at, cut));
    at = cut;
  }
  pieces.push(bytes.slice(at));
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = pieces.shift();
      if (next) controller.enqueue(next);
      else controller.close();
    },
  });
}

/** The same bytes cut every `step` bytes. */
function everyN(bytes: Uint8Array, step: number): number[] {
  const cuts: number[] = [];
  for (let i = step; i < bytes.length; i += step) cuts.push(i);
  return cuts;
}

interface Event {
  event: string;
  data: Record<string, unknown>;
}

function parseSse(text: string): Event[] {
  return text
    .split("\n\n")
    .filter((frame) => frame !== "")
    .map((frame) => {
      const [eventLine, dataLine, ...rest] = frame.split("\n");
      expect(rest).toEqual([]);
      expect(eventLine).toStartWith("event: ");
      expect(dataLine).toStartWith("data: ");
      const data = JSON.parse(dataLine!.slice(6)) as Record<string, unknown>;
      expect(data.type).toBe(eventLine!.slice(7));
      return { event: eventLine!.slice(7), data };
    });
}

async function translate(upstream: ReadableStream<Uint8Array>, options = OPTIONS) {
  const { stream, done } = translateChatStream(upstream, options);
  const text = await new Response(stream).text();
  return { text, events: parseSse(text), outcome: await done };
}

/** Compact form of an event sequence: the event name plus its block kind or delta kind. */
function shape(events: Event[]): string[] {
  return events.map(({ event, data }) => {
    if (event === "content_block_start") return `${event}:${data.index}:${(data.content_block as { type: string }).type}`;
    if (event === "content_block_delta") return `${event}:${data.index}:${(data.delta as { type: string }).type}`;
    if (event === "content_block_stop") return `${event}:${data.index}`;
    if (event === "message_delta") return `${event}:${(data.delta as { stop_reason: string }).stop_reason}`;
    return event;
  });
}

const TEXT_SHAPE = [
  "message_start",
  "content_block_start:0:text",
  "content_block_delta:0:text_delta",
  "content_block_delta:0:text_delta",
  "content_block_delta:0:text_delta",
  "content_block_stop:0",
  "message_delta:end_turn",
  "message_stop",
];

describe("chat stream → Anthropic events", () => {
  test("text: the exact event sequence, message fields and usage (finish_reason before the usage chunk)", async () => {
    const { text, events, outcome } = await translate(piecewise(encoder.encode(toSse(TEXT_CHUNKS)), []));
    expect(shape(events)).toEqual(TEXT_SHAPE);
    expect(text).toStartWith(
      'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_vrtx_01Xq7kGfTn3u8Wc2","type":"message","role":"assistant","model":"claude-sonnet-4-20250514","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0,',
    );
    expect(events[1]!.data.content_block).toEqual({ type: "text", text: "" });
    expect(
      events
        .slice(2, 5)
        .map((e) => (e.data.delta as { text: string }).text)
        .join(""),
    ).toBe("Hello — wörld 🌍!");
    expect(events[6]!.data).toEqual({
      type: "message_delta",
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { input_tokens: 200, output_tokens: 9, cache_creation_input_tokens: 0, cache_read_input_tokens: 1000 },
    });
    expect(outcome).toEqual({
      usage: { input_tokens: 200, output_tokens: 9, cache_creation_input_tokens: 0, cache_read_input_tokens: 1000 },
      chatUsage: { completion_tokens: 9, prompt_tokens: 1200, prompt_tokens_details: { cached_tokens: 1000 }, total_tokens: 1209 },
      stopReason: "end_turn",
      completed: true,
      cancelled: false,
      malformedLines: 0,
    });
  });

  test("the same output whatever the read boundaries: every byte, awkward offsets, inside UTF-8 characters", async () => {
    const bytes = encoder.encode(toSse(TEXT_CHUNKS));
    const whole = (await translate(piecewise(bytes, []))).text;
    const emoji = bytes.indexOf(0xf0); // first byte of 🌍
    const umlaut = bytes.indexOf(0xc3); // first byte of ö
    for (const cuts of [
      everyN(bytes, 1),
      everyN(bytes, 7),
      everyN(bytes, 64),
      [emoji + 1, emoji + 2, emoji + 3],
      [umlaut + 1],
      [5, 6, bytes.length - 3, bytes.length - 1],
    ]) {
      expect((await translate(piecewise(bytes, cuts))).text).toBe(whole);
    }
  });

  test("CRLF line endings and `data:` without a space read the same", async () => {
    const crlf = toSse(TEXT_CHUNKS).replaceAll("\n", "\r\n").replaceAll("data: ", "data:");
    const { events } = await translate(piecewise(encoder.encode(crlf), everyN(encoder.encode(crlf), 13)));
    expect(shape(events)).toEqual(TEXT_SHAPE);
  });

  test("tool calls split over many deltas: ids and names from the first delta, input_json_delta pieces, stop → tool_use", async () => {
    const bytes = encoder.encode(toSse(TOOL_CHUNKS));
    const { events, outcome } = await translate(piecewise(bytes, everyN(bytes, 11)));
    expect(shape(events)).toEqual([
      "message_start",
      "content_block_start:0:text",
      "content_block_delta:0:text_delta",
      "content_block_stop:0",
      "content_block_start:1:tool_use",
      "content_block_delta:1:input_json_delta",
      "content_block_delta:1:input_json_delta",
      "content_block_delta:1:input_json_delta",
      "content_block_stop:1",
      "content_block_start:2:tool_use",
      "content_block_delta:2:input_json_delta",
      "content_block_delta:2:input_json_delta",
      "content_block_stop:2",
      "message_delta:tool_use",
      "message_stop",
    ]);
    expect(events[4]!.data.content_block).toEqual({ type: "tool_use", id: "toolu_vrtx_01AAA", name: "Read", input: {} });
    expect(events[9]!.data.content_block).toEqual({ type: "tool_use", id: "toolu_vrtx_01BBB", name: "Read", input: {} });
    const json = (index: number) =>
      JSON.parse(
        events
          .filter((e) => e.event === "content_block_delta" && e.data.index === index)
          .map((e) => (e.data.delta as { partial_json: string }).partial_json)
          .join(""),
      );
    expect(json(1)).toEqual({ file_path: "/repo/README.md" });
    expect(json(2)).toEqual({ file_path: "/repo/package.json" });
    expect(outcome.usage).toEqual({ input_tokens: 5400, output_tokens: 88, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
    expect(outcome.stopReason).toBe("tool_use");
  });

  test("reasoning: thinking block with thinking_delta and signature_delta, then text; finish and usage in one chunk", async () => {
    const bytes = encoder.encode(toSse(REASONING_CHUNKS));
    const { events, outcome } = await translate(piecewise(bytes, everyN(bytes, 3)));
    expect(shape(events)).toEqual([
      "message_start",
      "content_block_start:0:thinking",
      "content_block_delta:0:thinking_delta",
      "content_block_delta:0:thinking_delta",
      "content_block_delta:0:signature_delta",
      "content_block_stop:0",
      "content_block_start:1:text",
      "content_block_delta:1:text_delta",
      "content_block_delta:1:text_delta",
      "content_block_stop:1",
      "message_delta:end_turn",
      "message_stop",
    ]);
    expect(events[1]!.data.content_block).toEqual({ type: "thinking", thinking: "", signature: "" });
    expect(events[2]!.data.delta).toEqual({ type: "thinking_delta", thinking: "The user wants a haiku." });
    expect(events[4]!.data.delta).toEqual({ type: "signature_delta", signature: "EqQBCkYIBxgCKkDsig+nAture==" });
    expect(outcome.usage?.output_tokens).toBe(40);
  });

  test("reasoning_content is read like reasoning_text; a signature with no reasoning is a redacted_thinking block", async () => {
    const meta = { id: "c1", model: "m" };
    const chunks = [
      { ...meta, choices: [{ index: 0, delta: { reasoning_content: "hmm" } }] },
      { ...meta, choices: [{ index: 0, delta: { content: "ok" } }] },
      { ...meta, choices: [{ index: 0, delta: { reasoning_opaque: "late-sig" } }] },
      { ...meta, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] },
    ];
    const { events } = await translate(piecewise(encoder.encode(toSse(chunks)), []));
    expect(shape(events)).toEqual([
      "message_start",
      "content_block_start:0:thinking",
      "content_block_delta:0:thinking_delta",
      "content_block_stop:0",
      "content_block_start:1:text",
      "content_block_delta:1:text_delta",
      "content_block_stop:1",
      "content_block_start:2:redacted_thinking",
      "content_block_stop:2",
      "message_delta:end_turn",
      "message_stop",
    ]);
    expect(events[7]!.data.content_block).toEqual({ type: "redacted_thinking", data: "late-sig" });
  });

  test("Copilot's reasoning signature arriving with the first tool call delta closes the thinking block first", async () => {
    const meta = {
      id: "c2",
      model: "gemini-2.5-pro",
      usage: { completion_tokens: 0, prompt_tokens: 0, prompt_tokens_details: { cached_tokens: 0 }, total_tokens: 0 },
    };
    const chunks = [
      { ...meta, choices: [{ index: 0, delta: { content: null, role: "assistant", reasoning_text: "**Reading**" } }] },
      {
        ...meta,
        choices: [
          {
            index: 0,
            delta: {
              content: null,
              role: "assistant",
              reasoning_opaque: "opaque-1",
              tool_calls: [{ function: { arguments: '{"filePath":"/README.md"}', name: "read_file" }, id: "call_abc123", index: 0, type: "function" }],
            },
          },
        ],
      },
      { ...meta, choices: [{ index: 0, delta: {}, finish_reason: "tool_calls" }], usage: { completion_tokens: 12, prompt_tokens: 40, total_tokens: 52 } },
    ];
    const { events, outcome } = await translate(piecewise(encoder.encode(toSse(chunks)), []));
    expect(shape(events)).toEqual([
      "message_start",
      "content_block_start:0:thinking",
      "content_block_delta:0:thinking_delta",
      "content_block_delta:0:signature_delta",
      "content_block_stop:0",
      "content_block_start:1:tool_use",
      "content_block_delta:1:input_json_delta",
      "content_block_stop:1",
      "message_delta:tool_use",
      "message_stop",
    ]);
    // Zero usage on every chunk, the real numbers at the end: the last one wins.
    expect(outcome.usage).toEqual({ input_tokens: 40, output_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
  });

  test("finish_reason stop with tool calls is tool_use; length is max_tokens; content_filter is refusal", async () => {
    const tool = [
      { id: "a", choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: "t1", function: { name: "Bash", arguments: "{}" } }] } }] },
      { id: "a", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] },
    ];
    expect((await translate(piecewise(encoder.encode(toSse(tool)), []))).outcome.stopReason).toBe("tool_use");
    for (const [finish, stop] of [
      ["length", "max_tokens"],
      ["content_filter", "refusal"],
    ]) {
      const chunks = [{ id: "b", choices: [{ index: 0, delta: { content: "x" }, finish_reason: finish }] }];
      const { events } = await translate(piecewise(encoder.encode(toSse(chunks)), []));
      expect(events.at(-2)!.data.delta).toEqual({ stop_reason: stop, stop_sequence: null });
    }
  });

  test("a tool call without an id gets a generated toolu_ id", async () => {
    const chunks = [
      {
        id: "n",
        choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { name: "Read", arguments: '{"a":1}' } }] }, finish_reason: "tool_calls" }],
      },
    ];
    const { events } = await translate(piecewise(encoder.encode(toSse(chunks)), []));
    expect((events[1]!.data.content_block as { id: string }).id).toMatch(/^toolu_[0-9a-f]{32}$/);
  });

  test("an error chunk mid-stream becomes event: error and ends the stream", async () => {
    const { events, outcome } = await translate(piecewise(encoder.encode(toSse(ERROR_CHUNKS)), []));
    expect(shape(events)).toEqual(["message_start", "content_block_start:0:text", "content_block_delta:0:text_delta", "error"]);
    expect(events[3]!.data).toEqual({ type: "error", error: { type: "api_error", message: "The model is overloaded, please try again later" } });
    expect(outcome.completed).toBe(false);
    expect(outcome.error).toEqual({ type: "api_error", message: "The model is overloaded, please try again later" });
  });

  test("an upstream failure mid-stream becomes event: error with Anthropic's shape", async () => {
    const first = encoder.encode(toSse(TEXT_CHUNKS.slice(0, 3), { done: false }));
    let sent = false;
    const upstream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (!sent) {
          sent = true;
          controller.enqueue(first);
        } else controller.error(new Error("socket hang up"));
      },
    });
    const { events, outcome } = await translate(upstream);
    expect(shape(events)).toEqual([
      "message_start",
      "content_block_start:0:text",
      "content_block_delta:0:text_delta",
      "content_block_delta:0:text_delta",
      "error",
    ]);
    expect(events.at(-1)!.data).toEqual({
      type: "error",
      error: { type: "overloaded_error", message: "the connection to Copilot failed mid-stream: socket hang up" },
    });
    expect(outcome.error?.type).toBe("overloaded_error");
    expect(outcome.completed).toBe(false);
  });

  test("a stream that ends without finish_reason or [DONE] is an error; one that finished but lacks [DONE] completes", async () => {
    const cut = await translate(piecewise(encoder.encode(toSse(TEXT_CHUNKS.slice(0, 3), { done: false })), []));
    expect(cut.events.at(-1)!.event).toBe("error");
    expect((cut.events.at(-1)!.data.error as { message: string }).message).toContain("ended before the answer was complete");

    const noDone = await translate(piecewise(encoder.encode(toSse(TEXT_CHUNKS, { done: false })), []));
    expect(shape(noDone.events)).toEqual(TEXT_SHAPE);

    const empty = await translate(piecewise(encoder.encode(""), []));
    expect(shape(empty.events)).toEqual(["error"]);
  });

  test("[DONE] with no finish_reason ends the turn; the last line needs no trailing newline", async () => {
    const sse = `${toSse([PROMPT_FILTER_CHUNK, { id: "x", choices: [{ index: 0, delta: { content: "hi" } }] }], { done: false })}data: [DONE]`;
    const { events, outcome } = await translate(piecewise(encoder.encode(sse), []));
    expect(shape(events)).toEqual([
      "message_start",
      "content_block_start:0:text",
      "content_block_delta:0:text_delta",
      "content_block_stop:0",
      "message_delta:end_turn",
      "message_stop",
    ]);
    expect(outcome.usage).toBeUndefined();
    expect(events.at(-2)!.data.usage).toEqual({ input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
  });

  test("malformed lines, comments and event: lines are skipped and counted", async () => {
    const sse = `: keep-alive\n\nevent: whatever\ndata: {not json\n\n${toSse(TEXT_CHUNKS)}`;
    const { events, outcome } = await translate(piecewise(encoder.encode(sse), []));
    expect(shape(events)).toEqual(TEXT_SHAPE);
    expect(outcome.malformedLines).toBe(1);
  });

  test("options: message id and the announced input tokens", async () => {
    const { events } = await translate(piecewise(encoder.encode(toSse(TEXT_CHUNKS)), []), {
      model: "claude-x",
      messageId: "msg_fixed",
      inputTokensEstimate: 1234,
    });
    const message = events[0]!.data.message as { id: string; model: string; usage: { input_tokens: number } };
    expect(message.id).toBe("msg_fixed");
    expect(message.model).toBe("claude-x");
    expect(message.usage.input_tokens).toBe(1234);
  });

  test("events leave as soon as their chunk arrives, before the upstream ends (no buffering)", async () => {
    let upstream!: ReadableStreamDefaultController<Uint8Array>;
    const source = new ReadableStream<Uint8Array>({
      start: (c) => {
        upstream = c;
      },
    });
    const { stream, done } = translateChatStream(source, OPTIONS);
    const reader = stream.getReader();
    const decoder = new TextDecoder();

    upstream.enqueue(encoder.encode(toSse([PROMPT_FILTER_CHUNK, TEXT_CHUNKS[1]], { done: false })));
    const first = parseSse(decoder.decode((await reader.read()).value));
    expect(shape(first)).toEqual(["message_start", "content_block_start:0:text", "content_block_delta:0:text_delta"]);

    // Half a chunk produces nothing yet; the other half completes it.
    const second = encoder.encode(toSse([TEXT_CHUNKS[2]], { done: false }));
    upstream.enqueue(second.slice(0, 20));
    upstream.enqueue(second.slice(20));
    expect(shape(parseSse(decoder.decode((await reader.read()).value)))).toEqual(["content_block_delta:0:text_delta"]);

    upstream.enqueue(encoder.encode(toSse(TEXT_CHUNKS.slice(3))));
    let rest = "";
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += decoder.decode(r.value);
    expect(shape(parseSse(rest))).toEqual(["content_block_delta:0:text_delta", "content_block_stop:0", "message_delta:end_turn", "message_stop"]);
    expect((await done).completed).toBe(true);
  });

  test("a client that goes away cancels the upstream, and the outcome says so", async () => {
    let cancelled: unknown = "not cancelled";
    let upstream!: ReadableStreamDefaultController<Uint8Array>;
    const source = new ReadableStream<Uint8Array>({
      start: (c) => {
        upstream = c;
      },
      cancel: (reason) => {
        cancelled = reason;
      },
    });
    const { stream, done } = translateChatStream(source, OPTIONS);
    const reader = stream.getReader();
    upstream.enqueue(encoder.encode(toSse(TEXT_CHUNKS.slice(0, 2), { done: false })));
    await reader.read();
    await reader.cancel("client gone");
    expect(cancelled).toBe("client gone");
    const outcome = await done;
    expect(outcome.cancelled).toBe(true);
    expect(outcome.completed).toBe(false);
  });

  test("after [DONE] the upstream is released", async () => {
    let cancelled = false;
    const source = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode(toSse(TEXT_CHUNKS)));
      },
      cancel() {
        cancelled = true;
      },
    });
    const { events } = await translate(source);
    expect(shape(events)).toEqual(TEXT_SHAPE);
    expect(cancelled).toBe(true);
  });
});
