import { describe, expect, test } from "bun:test";
import { ApiFailure } from "~/lib/api-error";
import { chatToResponse, mapUsage, newContext } from "~/protocols/responses/from-chat";
import { inputItems } from "~/protocols/responses/input";
import { convertToolChoice, responsesToChat } from "~/protocols/responses/to-chat";
import type { ResponsesRequest } from "~/protocols/responses/types";

const plain = { model: "gpt-4.1", supportsReasoning: false };
const translate = (request: ResponsesRequest, options = plain) => responsesToChat(request, inputItems(request.input), options);
const chatOf = translate;

describe("Responses request → Chat Completions request", () => {
  test("a string input is one user message; instructions become the system message", () => {
    expect(chatOf({ model: "gpt-4.1", input: "hi", instructions: "be brief" })).toEqual({
      model: "gpt-4.1",
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "hi" },
      ],
    });
  });

  test("messages with input_text and input_image parts; developer is a system message; earlier output_text is the assistant's", () => {
    const chat = chatOf({
      model: "gpt-4.1",
      input: [
        { type: "message", role: "developer", content: [{ type: "input_text", text: "rules" }] },
        {
          role: "user",
          content: [
            { type: "input_text", text: "what is this?" },
            { type: "input_image", image_url: "data:image/png;base64,AAAA", detail: "low" },
          ],
        },
        { type: "message", role: "assistant", id: "msg_1", status: "completed", content: [{ type: "output_text", text: "a cat", annotations: [] }] },
        { role: "user", content: [{ type: "input_text", text: "sure?" }] },
      ],
    });
    expect(chat.messages).toEqual([
      { role: "system", content: "rules" },
      {
        role: "user",
        content: [
          { type: "text", text: "what is this?" },
          { type: "image_url", image_url: { url: "data:image/png;base64,AAAA", detail: "low" } },
        ],
      },
      { role: "assistant", content: "a cat" },
      { role: "user", content: "sure?" },
    ]);
  });

  test("function_call items join the assistant turn as tool_calls; function_call_output is a tool message", () => {
    const chat = chatOf({
      model: "gpt-4.1",
      input: [
        { role: "user", content: "weather in Paris and Rome?" },
        { type: "function_call", call_id: "call_1", name: "weather", arguments: '{"city":"Paris"}' },
        { type: "function_call", call_id: "call_2", name: "weather", arguments: '{"city":"Rome"}' },
        { type: "function_call_output", call_id: "call_1", output: "sunny" },
        { type: "function_call_output", call_id: "call_2", output: [{ type: "input_text", text: "rain" }] },
      ],
    });
    expect(chat.messages).toEqual([
      { role: "user", content: "weather in Paris and Rome?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "call_1", type: "function", function: { name: "weather", arguments: '{"city":"Paris"}' } },
          { id: "call_2", type: "function", function: { name: "weather", arguments: '{"city":"Rome"}' } },
        ],
      },
      { role: "tool", tool_call_id: "call_1", content: "sunny" },
      { role: "tool", tool_call_id: "call_2", content: "rain" },
    ]);
  });

  test("reasoning items are dropped for a model without reasoning, carried as reasoning_text/opaque for one with it", () => {
    const request: ResponsesRequest = {
      model: "m",
      input: [
        { role: "user", content: "think" },
        { type: "reasoning", id: "rs_1", summary: [{ type: "summary_text", text: "hmm" }], encrypted_content: "opaque" },
        { type: "message", role: "assistant", content: [{ type: "output_text", text: "done" }] },
      ],
      reasoning: { effort: "high" },
    };
    expect(chatOf(request).messages[1]).toEqual({ role: "assistant", content: "done" });
    expect(chatOf(request).reasoning_effort).toBeUndefined();
    const reasoning = chatOf(request, { model: "m", supportsReasoning: true });
    expect(reasoning.messages[1]).toEqual({ role: "assistant", content: "done", reasoning_text: "hmm", reasoning_opaque: "opaque" });
    expect(reasoning.reasoning_effort).toBe("high");
  });

  test("function tools, tool_choice, text.format json_schema and the sampling settings", () => {
    const chat = chatOf({
      model: "gpt-4.1",
      input: "go",
      tools: [{ type: "function", name: "f", description: "does f", parameters: { type: "object", properties: {} }, strict: true }],
      tool_choice: { type: "function", name: "f" },
      parallel_tool_calls: false,
      text: { format: { type: "json_schema", name: "out", schema: { type: "object" }, strict: true } },
      max_output_tokens: 100,
      temperature: 0.2,
      top_p: 0.9,
      user: "u".repeat(300),
      stream: true,
    });
    expect(chat.tools).toEqual([
      { type: "function", function: { name: "f", description: "does f", parameters: { type: "object", properties: {} }, strict: true } },
    ]);
    expect(chat.tool_choice).toEqual({ type: "function", function: { name: "f" } });
    expect(chat.parallel_tool_calls).toBe(false);
    expect(chat.response_format).toEqual({ type: "json_schema", json_schema: { name: "out", schema: { type: "object" }, strict: true } });
    expect(chat.max_tokens).toBe(100);
    expect(chat.temperature).toBe(0.2);
    expect(chat.top_p).toBe(0.9);
    expect(chat.user).toHaveLength(256);
    expect(chat.stream).toBe(true);
    expect(chat.stream_options).toEqual({ include_usage: true });
    expect(chatOf({ model: "m", input: "x", text: { format: { type: "json_object" } } }).response_format).toEqual({ type: "json_object" });
    expect(chatOf({ model: "m", input: "x", text: { format: { type: "text" } } }).response_format).toBeUndefined();
  });

  test("tool_choice: the string forms as they are, anything Chat cannot say is undefined", () => {
    expect(convertToolChoice("auto")).toBe("auto");
    expect(convertToolChoice("none")).toBe("none");
    expect(convertToolChoice("required")).toBe("required");
    expect(convertToolChoice({ type: "allowed_tools", mode: "auto", tools: [] })).toBeUndefined();
  });

  test("what Chat cannot carry is a problem naming the field, never dropped", () => {
    const problem = (request: ResponsesRequest) => {
      try {
        translate(request);
      } catch (error) {
        if (!(error instanceof ApiFailure)) throw error;
        expect(error.status).toBe(400);
        expect(error.problem.code).toBe("unsupported_value");
        return { param: error.problem.param, message: error.problem.message };
      }
      throw new Error("translated");
    };
    expect(problem({ model: "m", input: [{ type: "item_reference", id: "msg_1" }] })).toMatchObject({ param: "input[0].type" });
    expect(problem({ model: "m", input: [{ role: "user", content: [{ type: "input_file", file_id: "f" }] }] }).param).toBe("input[0].content[0].type");
    expect(problem({ model: "m", input: [{ role: "user", content: [{ type: "input_image", file_id: "file_1" }] }] }).message).toContain("image_url");
    expect(problem({ model: "m", input: "x", tools: [{ type: "custom", name: "apply_patch" }] })).toMatchObject({ param: "tools[0].type" });
    expect(problem({ model: "m", input: "x", tool_choice: { type: "allowed_tools" } }).param).toBe("tool_choice");
    expect(problem({ model: "m", input: "x", tools: [{ type: "custom", name: "p" }] }).message).toContain("/responses");
  });

  test("the request given is not modified", () => {
    const request: ResponsesRequest = { model: "m", input: [{ role: "user", content: "a" }], tools: [{ type: "function", name: "f" }] };
    const copy = structuredClone(request);
    chatOf(request);
    expect(request).toEqual(copy);
  });
});

describe("Chat completion → Response", () => {
  const context = newContext({ model: "gpt-4.1", input: "x", instructions: "be brief", metadata: { a: "1" } }, true, 1_700_000_000_000);

  test("text and tool calls become a message and function_call items; usage in Responses' fields", () => {
    const response = chatToResponse(
      {
        id: "chatcmpl-1",
        model: "gpt-4.1-2025",
        choices: [
          { index: 0, message: { role: "assistant", content: "calling" }, finish_reason: "tool_calls" },
          { index: 1, message: { role: "assistant", tool_calls: [{ id: "call_1", type: "function", function: { name: "f", arguments: "{}" } }] } },
        ],
        usage: {
          prompt_tokens: 40,
          completion_tokens: 12,
          total_tokens: 52,
          prompt_tokens_details: { cached_tokens: 16 },
          completion_tokens_details: { reasoning_tokens: 5 },
        },
      },
      context,
    );
    expect(response).toMatchObject({
      id: context.id,
      object: "response",
      created_at: 1_700_000_000,
      status: "completed",
      model: "gpt-4.1",
      instructions: "be brief",
      metadata: { a: "1" },
      store: true,
      usage: {
        input_tokens: 40,
        input_tokens_details: { cached_tokens: 16 },
        output_tokens: 12,
        output_tokens_details: { reasoning_tokens: 5 },
        total_tokens: 52,
      },
    });
    expect(response.output.map((item) => item.type)).toEqual(["message", "function_call"]);
    expect(response.output[0]).toMatchObject({ type: "message", status: "completed", role: "assistant", content: [{ type: "output_text", text: "calling" }] });
    expect(response.output[1]).toMatchObject({ type: "function_call", call_id: "call_1", name: "f", arguments: "{}", status: "completed" });
    expect(response.output[1]!.id).toStartWith("fc_");
  });

  test("a length finish is incomplete (max_output_tokens); reasoning comes first as a reasoning item", () => {
    const response = chatToResponse(
      { choices: [{ message: { content: "cut", reasoning_text: "thinking", reasoning_opaque: "sig" }, finish_reason: "length" }] },
      context,
    );
    expect(response.status).toBe("incomplete");
    expect(response.incomplete_details).toEqual({ reason: "max_output_tokens" });
    expect(response.output[0]).toMatchObject({ type: "reasoning", summary: [{ type: "summary_text", text: "thinking" }], encrypted_content: "sig" });
    expect(response.output[1]).toMatchObject({ type: "message", status: "incomplete" });
  });

  test("usage without a total adds input and output; absent usage is zeroes", () => {
    expect(mapUsage({ prompt_tokens: 3, completion_tokens: 4 }).total_tokens).toBe(7);
    expect(mapUsage(undefined)).toEqual({
      input_tokens: 0,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 0,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 0,
    });
  });
});
