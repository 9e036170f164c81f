import { describe, expect, test } from "bun:test";
import {
  countInputTokens,
  countInputTokensWith,
  IMAGE_TOKEN_ESTIMATE,
  loadTokenizer,
  MESSAGE_OVERHEAD_TOKENS,
  TOOL_PREAMBLE_TOKENS,
} from "~/protocols/anthropic/count-tokens";
import { type CountTokensRequest, parseCountTokensRequest } from "~/protocols/anthropic/request-schema";
import { CLAUDE_CODE_REQUEST } from "../../fixtures/copilot-chat-chunks";

function req(body: Record<string, unknown>): CountTokensRequest {
  const result = parseCountTokensRequest({ model: "claude-sonnet-4-5", ...body });
  if (!result.ok) throw new Error(result.message);
  return result.value;
}

const image = { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=".repeat(100) } };
const tool = {
  name: "Read",
  description: "Reads a file from the local filesystem.",
  input_schema: { type: "object", properties: { file_path: { type: "string" } }, required: ["file_path"] },
};

describe("count_tokens (o200k_base)", () => {
  test("a short message counts its text plus the message framing", async () => {
    const count = await loadTokenizer();
    expect(count("Hello, world!")).toBe(4);
    expect(await countInputTokens(req({ messages: [{ role: "user", content: "Hello, world!" }] }))).toBe(4 + MESSAGE_OVERHEAD_TOKENS);
  });

  test("monotone: more text, more messages, a system prompt each add tokens", async () => {
    const one = await countInputTokens(req({ messages: [{ role: "user", content: "Explain the event recorder." }] }));
    const longer = await countInputTokens(req({ messages: [{ role: "user", content: "Explain the event recorder, and its flush interval." }] }));
    const two = await countInputTokens(
      req({
        messages: [
          { role: "user", content: "Explain the event recorder." },
          { role: "assistant", content: "It batches events." },
        ],
      }),
    );
    const withSystem = await countInputTokens(
      req({ system: [{ type: "text", text: "You are terse." }], messages: [{ role: "user", content: "Explain the event recorder." }] }),
    );
    expect(longer).toBeGreaterThan(one);
    expect(two).toBeGreaterThan(one);
    expect(withSystem).toBeGreaterThan(one);
  });

  test("tool definitions are counted, with the tool-use preamble for the tool_choice kind", async () => {
    const base = req({ messages: [{ role: "user", content: "read it" }] });
    const withTool = req({ messages: [{ role: "user", content: "read it" }], tools: [tool] });
    const forced = req({ messages: [{ role: "user", content: "read it" }], tools: [tool], tool_choice: { type: "tool", name: "Read" } });
    const count = await loadTokenizer();
    const schema = count(JSON.stringify({ name: tool.name, description: tool.description, input_schema: tool.input_schema }));
    expect(schema).toBeGreaterThan(10);
    expect((await countInputTokens(withTool)) - (await countInputTokens(base))).toBe(TOOL_PREAMBLE_TOKENS.autoOrNone + schema);
    expect((await countInputTokens(forced)) - (await countInputTokens(base))).toBe(TOOL_PREAMBLE_TOKENS.anyOrTool + schema);
  });

  test("tool_use input and tool_result content are counted", async () => {
    const call = { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "Bash", input: { command: "ls -la /repo/src" } }] };
    const withoutResult = await countInputTokens(req({ messages: [{ role: "user", content: "go" }, call] }));
    const withResult = await countInputTokens(
      req({
        messages: [
          { role: "user", content: "go" },
          call,
          { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "main.ts\nserver.ts\nstart.ts" }] },
        ],
      }),
    );
    const withArrayResult = await countInputTokens(
      req({
        messages: [
          { role: "user", content: "go" },
          call,
          { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: [{ type: "text", text: "main.ts\nserver.ts\nstart.ts" }] }] },
        ],
      }),
    );
    const noCall = await countInputTokens(
      req({
        messages: [
          { role: "user", content: "go" },
          { role: "assistant", content: [] },
        ],
      }),
    );
    expect(withoutResult).toBeGreaterThan(noCall + 5);
    expect(withResult).toBeGreaterThan(withoutResult + MESSAGE_OVERHEAD_TOKENS);
    expect(withArrayResult).toBe(withResult);
  });

  test("each image is the fixed estimate, whatever its bytes, in a message or a tool result", async () => {
    const text = await countInputTokens(req({ messages: [{ role: "user", content: [{ type: "text", text: "what is this?" }] }] }));
    const oneImage = await countInputTokens(req({ messages: [{ role: "user", content: [{ type: "text", text: "what is this?" }, image] }] }));
    const twoImages = await countInputTokens(req({ messages: [{ role: "user", content: [{ type: "text", text: "what is this?" }, image, image] }] }));
    const inResult = await countInputTokens(req({ messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "t", content: [image] }] }] }));
    expect(oneImage - text).toBe(IMAGE_TOKEN_ESTIMATE);
    expect(twoImages - text).toBe(2 * IMAGE_TOKEN_ESTIMATE);
    expect(inResult).toBe(MESSAGE_OVERHEAD_TOKENS + IMAGE_TOKEN_ESTIMATE);
  });

  test("thinking blocks are not counted; special-token text is counted as text, not refused", async () => {
    const plain = await countInputTokens(req({ messages: [{ role: "assistant", content: [{ type: "text", text: "done" }] }] }));
    const withThinking = await countInputTokens(
      req({
        messages: [
          {
            role: "assistant",
            content: [
              { type: "thinking", thinking: "a long chain of thought ".repeat(50), signature: "s" },
              { type: "text", text: "done" },
            ],
          },
        ],
      }),
    );
    expect(withThinking).toBe(plain);
    expect(await countInputTokens(req({ messages: [{ role: "user", content: "ends with <|endoftext|> here" }] }))).toBeGreaterThan(MESSAGE_OVERHEAD_TOKENS + 3);
  });

  test("Claude Code's request: every part contributes", async () => {
    const request = req(CLAUDE_CODE_REQUEST);
    const total = await countInputTokens(request);
    const parts = countInputTokensWith(request, () => 0);
    // With a counter that counts nothing, only the fixed parts remain: framing and the tool preamble.
    expect(parts).toBe(request.messages.length * MESSAGE_OVERHEAD_TOKENS + TOOL_PREAMBLE_TOKENS.autoOrNone);
    expect(total).toBeGreaterThan(parts + 200);
    expect(total).toBeLessThan(parts + 2000);
  });

  test("countInputTokensWith passes every piece of text to the counter", () => {
    const seen: string[] = [];
    countInputTokensWith(
      req({
        system: "SYS",
        messages: [
          { role: "user", content: "U1" },
          {
            role: "assistant",
            content: [
              { type: "text", text: "A1" },
              { type: "tool_use", id: "t", name: "Tool1", input: { k: "V1" } },
            ],
          },
          { role: "user", content: [{ type: "tool_result", tool_use_id: "t", content: "R1" }] },
        ],
        tools: [tool],
      }),
      (text) => {
        seen.push(text);
        return 0;
      },
    );
    expect(seen.slice(0, 6)).toEqual(["SYS", "U1", "A1", "Tool1", '{"k":"V1"}', "R1"]);
    expect(seen[6]).toContain('"name":"Read"');
  });
});
