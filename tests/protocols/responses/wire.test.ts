import { describe, expect, test } from "bun:test";
import { newDraft } from "~/features/events/draft";
import { checkBody } from "~/protocols/request-checks";
import { inputItems, responsesHasImages, responsesInitiator } from "~/protocols/responses/input";
import { pageOf } from "~/protocols/responses/input-items";
import { TerminalEventTap } from "~/protocols/responses/passthrough";
import { responsesRequest, withoutWebSearch } from "~/protocols/responses/request-schema";
import { noteResponseUsage, responsesUsage } from "~/protocols/responses/usage";

describe("reading input for Copilot's headers", () => {
  test("initiator: a user message last is the person's; a function_call_output or an assistant turn is the agent's", () => {
    expect(responsesInitiator(inputItems("hi"))).toBe("user");
    expect(responsesInitiator(inputItems([{ role: "user", content: "a" }]))).toBe("user");
    expect(responsesInitiator(inputItems([{ type: "message", role: "user", content: [{ type: "input_text", text: "a" }] }]))).toBe("user");
    expect(
      responsesInitiator(
        inputItems([
          { role: "user", content: "a" },
          { type: "function_call_output", call_id: "c", output: "x" },
        ]),
      ),
    ).toBe("agent");
    expect(responsesInitiator(inputItems([{ role: "assistant", content: "a" }]))).toBe("agent");
    expect(responsesInitiator([])).toBe("agent");
  });

  test("vision: an input_image part anywhere, in a message or a function call's output", () => {
    expect(responsesHasImages(inputItems("hi"))).toBe(false);
    expect(responsesHasImages(inputItems([{ role: "user", content: [{ type: "input_image", image_url: "https://x/y.png" }] }]))).toBe(true);
    expect(responsesHasImages(inputItems([{ type: "function_call_output", call_id: "c", output: [{ type: "input_image", image_url: "data:," }] }]))).toBe(true);
  });
});

describe("the request schema", () => {
  test("the fields the gateway reads are checked, naming the field", () => {
    expect(checkBody(responsesRequest, { model: "m", input: "hi" })).toBeUndefined();
    expect(checkBody(responsesRequest, { model: "m", input: 3 })?.param).toBe("input");
    expect(checkBody(responsesRequest, { model: "m", previous_response_id: "x".repeat(500) })).toMatchObject({
      param: "previous_response_id",
      code: "string_above_max_length",
    });
    expect(checkBody(responsesRequest, { model: "m", store: "yes" })).toMatchObject({ param: "store", code: "invalid_type" });
    expect(checkBody(responsesRequest, { model: "m", tools: [{ name: "no type" }] })?.param).toBe("tools[0].type");
  });

  test("web search, by any of its names, is taken out of the tools and named once; the other tools stay", () => {
    const tools = [
      { type: "function", name: "f" },
      { type: "web_search_preview_2025_03_11" },
      { type: "web_search", external_web_access: false },
      { type: "file_search" },
      { type: "web_search" },
    ];
    expect(withoutWebSearch(tools)).toEqual({ kept: [tools[0]!, tools[3]!], dropped: ["web_search_preview_2025_03_11", "web_search"] });
    expect(withoutWebSearch(undefined)).toEqual({ kept: [], dropped: [] });
  });
});

describe("input_items pages", () => {
  const items = ["a", "b", "c", "d", "e"].map((text) => ({ role: "user", content: text }));
  const texts = (page: ReturnType<typeof pageOf>) => page.data.map((item) => (item.content as { text: string }[])[0]!.text);

  test("newest first by default; every item typed, with a stable id and its text as an input_text part", () => {
    const page = pageOf(items, "resp_abc", { order: "desc", limit: 20 });
    expect(texts(page)).toEqual(["e", "d", "c", "b", "a"]);
    expect(page.data[0]).toMatchObject({ type: "message", role: "user", content: [{ type: "input_text", text: "e" }] });
    expect(pageOf(items, "resp_abc", { order: "desc", limit: 20 }).data.map((i) => i.id)).toEqual(page.data.map((i) => i.id));
    expect(new Set(page.data.map((i) => i.id)).size).toBe(5);
    expect(page).toMatchObject({ object: "list", first_id: page.data[0]!.id, last_id: page.data[4]!.id, has_more: false });
  });

  test("after and limit walk the list in either order; an id of its own is kept", () => {
    const first = pageOf(items, "resp_abc", { order: "asc", limit: 2 });
    expect(texts(first)).toEqual(["a", "b"]);
    expect(first.has_more).toBe(true);
    const second = pageOf(items, "resp_abc", { order: "asc", limit: 2, after: first.last_id! });
    expect(texts(second)).toEqual(["c", "d"]);
    const last = pageOf(items, "resp_abc", { order: "asc", limit: 2, after: second.last_id! });
    expect(texts(last)).toEqual(["e"]);
    expect(last.has_more).toBe(false);
    expect(pageOf(items, "resp_abc", { order: "asc", limit: 2, after: "nope" }).data).toEqual([]);
    expect(pageOf([{ type: "function_call_output", id: "fco_own", call_id: "c", output: "x" }], "resp_abc", { order: "asc", limit: 1 }).data[0]!.id).toBe(
      "fco_own",
    );
  });
});

describe("the pass-through tap", () => {
  const completed = {
    id: "resp_1",
    status: "completed",
    model: "gpt-5.1-codex",
    output: [{ type: "message", content: [{ type: "output_text", text: "x".repeat(50_000) }] }],
  };
  const stream = [
    `event: response.created\ndata: ${JSON.stringify({ type: "response.created", response: { id: "resp_1", status: "in_progress" } })}\n\n`,
    `event: response.output_text.delta\ndata: ${JSON.stringify({ type: "response.output_text.delta", delta: '"type":"response.completed"' })}\n\n`,
    `event: response.completed\ndata: ${JSON.stringify({ type: "response.completed", response: completed })}\n\n`,
  ].join("");

  test("the bytes pass unchanged, in the same chunks, and the whole terminal Response is caught however the lines are cut", async () => {
    const bytes = new TextEncoder().encode(stream);
    for (const size of [3, 9, 4096, bytes.length]) {
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.slice(i, i + size));
      const seen: unknown[] = [];
      const tap = new TerminalEventTap((r) => seen.push(r));
      const source = new ReadableStream<Uint8Array>({
        start(c) {
          for (const chunk of chunks) c.enqueue(chunk);
          c.close();
        },
      });
      const reader = tap.watch(source).getReader();
      const out: Uint8Array[] = [];
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        out.push(value);
      }
      expect(out).toEqual(chunks);
      expect(seen).toEqual([completed]);
    }
  });

  test("a stream without event: lines is read by the data's type", () => {
    const tap = new TerminalEventTap();
    tap.push(new TextEncoder().encode(`data: ${JSON.stringify({ type: "response.incomplete", response: { id: "r", status: "incomplete" } })}\n\n`));
    expect(tap.response).toEqual({ id: "r", status: "incomplete" });
  });
});

describe("usage", () => {
  const response = {
    model: "gpt-5.1-codex-2025",
    usage: { input_tokens: 21, input_tokens_details: { cached_tokens: 5 }, output_tokens: 9, output_tokens_details: { reasoning_tokens: 3 }, total_tokens: 30 },
  };

  test("a Response's usage fills prompt, completion, cached and reasoning tokens", () => {
    const draft = newDraft();
    noteResponseUsage(draft, response);
    expect(draft).toMatchObject({
      usageSeen: true,
      upstreamModel: "gpt-5.1-codex-2025",
      promptTokens: 21,
      completionTokens: 9,
      cacheReadTokens: 5,
      reasoningTokens: 3,
    });
  });

  test("from a stream: the caught terminal event first, else the tail's last terminal event", () => {
    const tail = `data: ${JSON.stringify({ type: "response.completed", response })}\n\ndata: {"cut`;
    const fromTail = newDraft();
    responsesUsage().fromStream(fromTail, { head: "", tail });
    expect(fromTail.promptTokens).toBe(21);
    const caught = newDraft();
    // Copilot's meter sits beside the Response, at the event's top level: read from the caught event however long its line.
    const event = { type: "response.completed", response: { usage: { input_tokens: 1, output_tokens: 2 } }, copilot_usage: { total_nano_aiu: 42 } };
    responsesUsage(() => event).fromStream(caught, { head: "", tail });
    expect(caught).toMatchObject({ promptTokens: 1, completionTokens: 2, cacheReadTokens: null, costNanoAiu: 42 });
    const none = newDraft();
    responsesUsage().fromStream(none, { head: "", tail: "data: {}\n\n" });
    expect(none.usageSeen).toBe(false);
  });
});
