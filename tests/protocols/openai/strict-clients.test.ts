import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { completeChunks, completeFields } from "~/protocols/openai/strict-fields";
import { type FakeUpstream, startFakeUpstream, streamChunks, strictChunk } from "../../fake-upstream";

import { GPT_CHOICE_FILTER, PROMPT_FILTER_CHUNK } from "../../fixtures/copilot-chat-chunks";
import { chat, cleanUpAfterFile, dbFileOf, isolatedEnv, type RunningServer, startServer, tempDir } from "../../helpers";

cleanUpAfterFile();

/**
 * The OpenAI Python SDK cannot be installed from the registries this project
 * reaches (PyPI is not one, and Debian has no python3-openai), so these replay
 * its checks: `chat.completions.stream()` keeps only chunks whose `object` is
 * "chat.completion.chunk" (`_is_valid_chat_completion_chunk_weak`) and fails
 * with an AssertionError when none is left; its ChatCompletion model wants
 * `object: "chat.completion"`.
 */
const pythonSdkKeeps = (chunk: { object?: unknown }) => chunk.object === "chat.completion.chunk";

/** Server-sent events as the SDK's decoder reads them: `data:` payloads until [DONE], comments skipped. */
function sseData(text: string): string[] {
  return text
    .split("\n\n")
    .filter((event) => event && !event.startsWith(":"))
    .map((event) => event.replace(/^data: /, ""));
}

let fake: FakeUpstream;
let server: RunningServer;
let home: string;

beforeAll(async () => {
  fake = startFakeUpstream();
  home = tempDir();
  server = await startServer([], isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken }));
});
afterAll(async () => {
  await server.stop();
  fake.stop();
});

describe("strict clients through the proxy", () => {
  test("the fake upstream answers the way Copilot does: no object, a prompt_filter_results chunk first, usage last", async () => {
    const token = (await (await fetch(`${fake.url}/copilot_internal/v2/token`, { headers: { authorization: `token ${fake.githubToken}` } })).json()) as {
      token: string;
    };
    const direct = await fetch(`${fake.url}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${token.token}` },
      body: JSON.stringify({ model: "gpt-4o", stream: true }),
    });
    const chunks = sseData(await direct.text())
      .slice(0, -1)
      .map((d) => JSON.parse(d) as Record<string, unknown>);
    expect(chunks.some((c) => "object" in c)).toBe(false);
    expect(chunks[0]).toMatchObject({ choices: [], prompt_filter_results: expect.any(Array) });
    expect(chunks[0]!.model).toBeUndefined();
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: expect.any(Object) });
    expect(chunks.filter(pythonSdkKeeps)).toHaveLength(0); // what the Python SDK saw before: nothing, then AssertionError
  });

  test("every streamed chunk carries object chat.completion.chunk and a model; nothing else changes", async () => {
    const response = await chat(server.url, { model: "gpt-4o", stream: true });
    expect(response.status).toBe(200);
    const data = sseData(await response.text());
    expect(data.at(-1)).toBe("[DONE]");
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as { object?: unknown; model?: unknown });
    expect(chunks.every(pythonSdkKeeps)).toBe(true);
    expect(chunks.every((c) => c.model === "gpt-4o")).toBe(true);
    expect(chunks).toEqual(streamChunks("gpt-4o").map((c) => strictChunk(c, "gpt-4o")));
  });

  test("a non-streamed answer carries object chat.completion; the rest, usage included, is untouched", async () => {
    const response = await chat(server.url, { model: "gpt-4o" });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as { object?: string; model?: string; usage?: unknown; choices: unknown[] };
    expect(answer.object).toBe("chat.completion");
    expect(answer.model).toBe("gpt-4o");
    expect(answer.choices).toHaveLength(1);
    expect(answer.usage).toEqual({ prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 });
  });

  test("a stream Copilot breaks off mid-way is logged through the logger, with route and model and no stack trace", async () => {
    const response = await chat(server.url, { model: "broken-stream", stream: true });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    let text = "";
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
    } catch {
      // the cut stream: what the client sees
    }
    expect(text).toContain('"object":"chat.completion.chunk"');
    const deadline = Date.now() + 5_000;
    while (!server.log().includes("stream broke off") && Date.now() < deadline) await Bun.sleep(20);
    const line = server
      .log()
      .split("\n")
      .find((l) => l.includes("stream broke off"));
    expect(line).toContain("[warn]");
    expect(line).toContain("/v1/chat/completions");
    expect(line).toContain("model broken-stream");
    expect(server.log()).not.toMatch(/^\s+at .*\(.*:\d+:\d+\)$/m);
  });

  test("the broken stream's event is tagged upstream_error", async () => {
    await server.stop();
    const db = new Database(dbFileOf(home), { readonly: true });
    const row = db.query<{ error: string | null }, []>("SELECT error FROM events WHERE model = 'broken-stream'").get();
    db.close();
    expect(row?.error).toBe("upstream_error");
    server = await startServer([], isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken }));
  });
});

describe("the chunk rewriting itself", () => {
  const encode = (text: string) => new TextEncoder().encode(text);

  async function through(parts: Uint8Array[]): Promise<string[]> {
    const source = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const part of parts) controller.enqueue(part);
        controller.close();
      },
    });
    const out: string[] = [];
    const reader = completeChunks("gpt-4o")(source).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return out;
      out.push(new TextDecoder().decode(value));
    }
  }

  test("handles chunks split anywhere across reads, multi-byte characters included, without waiting for the end", async () => {
    const sse = `${streamChunks("x")
      .concat([{ choices: [{ index: 0, delta: { content: "wörld 🌍" } }], model: "x" }])
      .map((c) => `data: ${JSON.stringify(c)}\n\n`)
      .join("")}data: [DONE]\n\n`;
    const bytes = encode(sse);
    const expected = (await through([bytes])).join("");
    for (const size of [1, 2, 3, 7, 64]) {
      const parts: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
      expect((await through(parts)).join("")).toBe(expected);
    }
    const data = sseData(expected);
    expect(
      data
        .slice(0, -1)
        .map((d) => JSON.parse(d) as { object?: unknown })
        .every(pythonSdkKeeps),
    ).toBe(true);
    // Each complete event is passed on at once: one read in, one event out.
    const events = sse.split(/(?<=\n\n)/).map(encode);
    const out = await through(events);
    expect(out).toHaveLength(events.length);
  });

  test("in a stream too: fills only what is missing, byte for byte otherwise", async () => {
    const lines = [
      'data: {"choices":[],"id":"a"}',
      'data: {"choices":[{"delta":{"content":"\\"model\\": \\"x\\""}}],"model":"gpt-x"}',
      'data: {"object":"chat.completion.chunk","model":"gpt-x","choices":[]}',
      'data: {"model":"","choices":[]}',
      'data:{"model":null}',
      'data: {"error":{"message":"overloaded","type":"server_error"}}',
      ": a comment",
      "data: [DONE]",
      "data: {not json",
    ];
    const out = (await through([encode(lines.map((l) => `${l}\r\n\r\n`).join(""))])).join("").split("\r\n\r\n");
    expect(out.slice(0, -1)).toEqual([
      'data: {"object":"chat.completion.chunk","model":"gpt-4o","choices":[],"id":"a"}',
      'data: {"object":"chat.completion.chunk","choices":[{"delta":{"content":"\\"model\\": \\"x\\""}}],"model":"gpt-x"}',
      lines[2]!,
      'data: {"model":"gpt-4o","choices":[],"object":"chat.completion.chunk"}',
      'data:{"model":"gpt-4o","object":"chat.completion.chunk"}',
      lines[5]!,
      lines[6]!,
      lines[7]!,
      lines[8]!,
    ]);
  });

  /** A GPT model's stream as Copilot sends it: Azure's content filter results (with a nested `error`) in every choice. */
  const gptChunks = (content: string) => {
    const meta = { created: 1_762_000_000, id: "chatcmpl-1", model: "gpt-4.1-2025-04-14", system_fingerprint: "fp_b705f0c291" };
    return [
      PROMPT_FILTER_CHUNK,
      { choices: [{ ...GPT_CHOICE_FILTER, delta: { content, role: "assistant" }, index: 0 }], ...meta },
      { choices: [{ ...GPT_CHOICE_FILTER, delta: {}, finish_reason: "stop", index: 0 }], ...meta },
      { choices: [], ...meta, usage: { completion_tokens: 2, prompt_tokens: 9, total_tokens: 11 } },
    ];
  };
  const sseOf = (chunks: unknown[]) => `${chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join("")}data: [DONE]\n\n`;
  /** Each chunk as strict clients must get it: `object` (and `model` where Copilot left it out) first, the rest as it was. */
  const strictSse = (chunks: unknown[]) =>
    `${chunks
      .map((c) => {
        const text = JSON.stringify(c);
        const fields = "model" in (c as object) ? '"object":"chat.completion.chunk",' : '"object":"chat.completion.chunk","model":"gpt-4o",';
        return `data: {${fields}${text.slice(1)}\n\n`;
      })
      .join("")}data: [DONE]\n\n`;

  test("chunks with content_filter_results.error (every GPT chunk) get object and model; the nested error is no error", async () => {
    const chunks = gptChunks("Hello");
    const out = (await through([encode(sseOf(chunks))])).join("");
    expect(out).toBe(strictSse(chunks));
    const parsed = sseData(out)
      .slice(0, -1)
      .map((d) => JSON.parse(d) as { object?: unknown; choices: { content_filter_results?: { error?: unknown } }[] });
    expect(parsed.every(pythonSdkKeeps)).toBe(true);
    expect(parsed[1]!.choices[0]!.content_filter_results?.error).toEqual({ code: "", message: "" });
  });

  test("a GPT chunk split across reads, inside a multi-byte character too, comes out whole and complete", async () => {
    const chunks = gptChunks("naïve 🌍 text");
    const bytes = encode(sseOf(chunks));
    const emoji = bytes.indexOf(0xf0);
    for (const cuts of [[emoji + 1], [emoji + 2, emoji + 3], [10, 200, 400, emoji + 1]]) {
      const parts = [0, ...cuts, bytes.length].slice(1).map((end, i, ends) => bytes.subarray(i === 0 ? 0 : ends[i - 1]!, end));
      expect((await through(parts)).join("")).toBe(strictSse(chunks));
    }
  });

  test('a payload with the text "object", "model" and "error" inside its strings is still completed, its text untouched', async () => {
    const chunks = gptChunks('{"object": "x", "model":"y", "error": 1} and "object"');
    expect((await through([encode(sseOf(chunks))])).join("")).toBe(strictSse(chunks));
  });

  test("an error at the top level after other keys is left alone; a model nested deeper is not taken for the chunk's", async () => {
    const lines = [
      'data: {"choices":[],"error":{"message":"overloaded"}}',
      'data: {"choices":[{"delta":{"model":"inner"},"index":0}],"id":"a"}',
      'data: {"choices":[],"x":{"model":"inner"},"model":"outer"}',
    ];
    const out = (await through([encode(lines.map((l) => `${l}\n\n`).join(""))])).join("").split("\n\n");
    expect(out.slice(0, -1)).toEqual([
      lines[0]!,
      'data: {"object":"chat.completion.chunk","model":"gpt-4o","choices":[{"delta":{"model":"inner"},"index":0}],"id":"a"}',
      'data: {"object":"chat.completion.chunk","choices":[],"x":{"model":"inner"},"model":"outer"}',
    ]);
  });

  test("bytes that are not UTF-8 inside a chunk's strings pass byte for byte", async () => {
    const [before, after] = ['data: {"choices":[{"delta":{"content":"', '"},"index":0}],"model":"m"}\n\n'].map(encode);
    const broken = new Uint8Array([0xff, 0x41, 0xc3]); // a stray byte, then a character cut short
    const input = new Uint8Array([...before!, ...broken, ...after!]);
    const source = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(input);
        controller.close();
      },
    });
    const { value } = await completeChunks("gpt-4o")(source).getReader().read();
    const inserted = encode('"object":"chat.completion.chunk",');
    expect([...value!]).toEqual([...before!.subarray(0, 7), ...inserted, ...before!.subarray(7), ...broken, ...after!]);
  });

  test("fills only what is missing, keeps Copilot's own text, and leaves errors, comments and [DONE] alone", () => {
    const fix = (text: string) => completeFields(text, JSON.parse(text), "chat.completion.chunk", "m");
    expect(fix('{"id":"a","n":1.0e2}')).toBe('{"object":"chat.completion.chunk","model":"m","id":"a","n":1.0e2}');
    expect(fix("{}")).toBe('{"object":"chat.completion.chunk","model":"m"}');
    expect(fix('{"object":"chat.completion.chunk","model":"gpt"}')).toBe('{"object":"chat.completion.chunk","model":"gpt"}');
    expect(JSON.parse(fix('{"model":"","id":"a"}'))).toEqual({ object: "chat.completion.chunk", model: "m", id: "a" });
    expect(fix('{"error":{"message":"overloaded"}}')).toBe('{"error":{"message":"overloaded"}}');
    expect(completeFields("[1]", [1], "chat.completion", "m")).toBe("[1]");
  });
});
