/**
 * The fake Copilot's answers for the models of its realistic catalog (tests/fixtures/copilot-models.ts):
 * one scripted answer, told in the two wire formats Copilot speaks, each as real Copilot sends it.
 *
 * - Copilot's native /v1/messages: an Anthropic message, or Anthropic's SSE events
 *   (message_start with input usage, ping, content_block_start/delta/stop for thinking, text and
 *   tool_use, message_delta with the stop reason and output usage, message_stop).
 * - /chat/completions: no `object` field; GPT models' choices carry Azure's content filter results
 *   (with a nested `error`); streams start with a `prompt_filter_results` chunk with
 *   `choices: []`, put finish_reason in its own chunk and usage in the last one (choices: []);
 *   reasoning comes as `reasoning_text` with the signature as `reasoning_opaque`.
 *
 * What the answer holds follows the request, so tests can drive a conversation:
 * - thinking enabled (Anthropic `thinking`, chat `thinking_budget`) → a thinking block first;
 * - the last message carries a tool result → text quoting it (the end of a tool loop);
 * - a `web_search` function offered (the gateway's stand-in for a hosted search) and the user asking to search → a call to it;
 * - otherwise, with tools → a sentence and a call to a tool: an agent's shell tool (Claude Code's `Bash`,
 *   Codex's `exec_command` / `shell`) with `echo fake-tool-ran` when offered, else the first tool with
 *   input `{"city":"Paris"}`; unless the last user text says `__text_only__`;
 * - otherwise → "Hello from fake Claude", in `textDeltas` pieces.
 * A last user text of `__error_429__` / `__error_400__` / `__error_500__` makes Copilot refuse.
 */

import { GPT_CHOICE_FILTER } from "./fixtures/copilot-chat-chunks";

export interface ScriptedAnswer {
  thinking?: { text: string; signature: string };
  text: string;
  tool?: { id: string; name: string; input: Record<string, unknown> };
}

/** The usage every scripted answer reports: Anthropic's split (input excludes the cache) and the chat totals. */
export const SCRIPTED_USAGE = { input: 200, cacheRead: 1000, cacheCreation: 50, output: 40, reasoning: 12 } as const;

export const SCRIPTED_HELLO = "Hello from fake Claude";
export const SCRIPTED_THINKING = { text: "The user greets me. I should greet back.", signature: "EqQBCkYIBxgCKkDfakeSignature==" };
export const SCRIPTED_TOOL_ID = "toolu_fake_01";

interface RequestView {
  lastUserText: string;
  toolResult?: string;
  /** The names of the tools offered, in order. */
  tools: string[];
  thinking: boolean;
  /** Chat only: how many tool results the conversation holds, when a user asked `__search_again__` (the model keeps searching). */
  searchAgainAfter?: number;
}

/** The prompt marker that makes the chat model call the gateway's web_search function again after each result. */
export const SEARCH_AGAIN = "__search_again__";

/** What the fake's tool calls ask a real agent's shell tool to run, and what the agent then sends back. */
export const FAKE_SHELL_OUTPUT = "fake-tool-ran";
const SHELL_INPUTS: Record<string, Record<string, unknown>> = {
  Bash: { command: `echo ${FAKE_SHELL_OUTPUT}`, description: "Print a marker" },
  exec_command: { cmd: `echo ${FAKE_SHELL_OUTPUT}` },
  shell: { command: ["echo", FAKE_SHELL_OUTPUT] },
};

/** A user text that asks for a web search (agents' system reminders say "search" alone often enough). */
export const ASKS_TO_SEARCH = /\bweb search\b/i;

/** What the fake asks Claude Code's WebSearch tool to search for. */
export const FAKE_AGENT_QUERY = "bun runtime docs";

/** The function tool copilot-api offers a model in place of a hosted web search. */
export const FAKE_SEARCH_FUNCTION = "web_search";

/** The prompt marker that makes the fake answer with text even when tools are offered (an agent's "hello"). */
export const TEXT_ONLY = "__text_only__";

/** The call the fake makes when it calls a tool: an agent's shell tool running `echo`, else the first tool with a city. */
export function fakeToolCall(tools: readonly string[], lastUserText: string): { name: string; input: Record<string, unknown> } | undefined {
  if (tools.length === 0 || lastUserText.includes(TEXT_ONLY)) return undefined;
  // The gateway's stand-in for a hosted web search: searched for what the user asked.
  const asksToSearch = ASKS_TO_SEARCH.test(lastUserText);
  if (tools.includes(FAKE_SEARCH_FUNCTION) && asksToSearch) return { name: FAKE_SEARCH_FUNCTION, input: { query: lastUserText.trim().slice(0, 100) } };
  // Claude Code's own WebSearch tool, which then asks the API for a search with the server tool.
  if (tools.includes("WebSearch") && asksToSearch) return { name: "WebSearch", input: { query: FAKE_AGENT_QUERY } };
  const shell = tools.find((name) => name in SHELL_INPUTS);
  const other = tools.find((name) => name !== FAKE_SEARCH_FUNCTION);
  if (shell) return { name: shell, input: SHELL_INPUTS[shell]! };
  return other ? { name: other, input: { city: "Paris" } } : undefined;
}

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter((b) => isRecord(b) && b.type === "text")
    .map((b) => (b as { text: string }).text)
    .join("\n");
}

/** Reads an Anthropic Messages request. */
export function viewAnthropic(body: Json): RequestView {
  const messages = (body.messages as Json[]) ?? [];
  const last = messages.at(-1);
  const blocks = Array.isArray(last?.content) ? (last.content as Json[]) : [];
  const result = blocks.find((b) => b.type === "tool_result");
  const tools = (body.tools as Json[] | undefined) ?? [];
  return {
    lastUserText: last?.role === "user" ? textOf(last.content) : "",
    toolResult: result ? textOf(result.content) || String(result.content ?? "") : undefined,
    tools: tools.map((t) => String(t.name)),
    thinking: isRecord(body.thinking) && body.thinking.type === "enabled",
  };
}

/** Reads a Chat Completions request. */
export function viewChat(body: Json): RequestView {
  const messages = (body.messages as Json[]) ?? [];
  const last = messages.at(-1);
  const tools = (body.tools as { function: { name: string } }[] | undefined) ?? [];
  return {
    lastUserText: last?.role === "user" ? textOf(last.content) : "",
    toolResult: last?.role === "tool" ? String(last.content) : undefined,
    tools: tools.map((t) => t.function.name),
    thinking: typeof body.thinking_budget === "number",
    searchAgainAfter: messages.some((m) => m.role === "user" && textOf(m.content).includes(SEARCH_AGAIN))
      ? messages.filter((m) => m.role === "tool").length
      : undefined,
  };
}

/** Copilot's refusal the request asks for, if any: status, body, headers. */
export function scriptedFailure(view: RequestView, native: boolean): Response | undefined {
  // An answer cut short on its way (a proxy between us and Copilot): 200, JSON by its type, not JSON by its bytes.
  if (view.lastUserText.includes("__cut_answer__")) {
    return new Response('{"id":"chatcmpl-cut","object":"chat.completion","choices":[{"ind', { headers: { "content-type": "application/json" } });
  }
  const match = /__error_(\d{3})__/.exec(view.lastUserText);
  if (!match) return undefined;
  const status = Number(match[1]);
  const message = status === 429 ? "fake: you have exceeded this model's rate limit" : status === 400 ? "fake: prompt is too long" : "fake: upstream exploded";
  // The native endpoint answers in Anthropic's shape; the chat endpoint in OpenAI's.
  const body = native
    ? { type: "error", error: { type: status === 429 ? "rate_limit_error" : status === 400 ? "invalid_request_error" : "api_error", message } }
    : { error: { message, type: status === 429 ? "rate_limit" : "invalid_request_error", code: `fake_${status}` } };
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (status === 429) headers["retry-after"] = "7";
  return new Response(JSON.stringify(body), { status, headers });
}

export function scriptedAnswer(view: RequestView): ScriptedAnswer {
  const answer: ScriptedAnswer = { text: SCRIPTED_HELLO };
  if (view.thinking) answer.thinking = SCRIPTED_THINKING;
  if (view.toolResult !== undefined && view.searchAgainAfter !== undefined && view.tools.includes(FAKE_SEARCH_FUNCTION)) {
    answer.text = "Let me search once more.";
    answer.tool = {
      id: `toolu_fake_search_${view.searchAgainAfter}`,
      name: FAKE_SEARCH_FUNCTION,
      input: { query: `search number ${view.searchAgainAfter + 1}` },
    };
  } else if (view.toolResult !== undefined) answer.text = `The tool said: ${view.toolResult}`;
  else {
    const call = fakeToolCall(view.tools, view.lastUserText);
    if (call) {
      answer.text = "Let me look that up.";
      answer.tool = { id: SCRIPTED_TOOL_ID, ...call };
    }
  }
  return answer;
}

/** Splits text into n pieces (at least one character each, the last takes the rest). */
export function pieces(text: string, n: number): string[] {
  if (n <= 1 || text.length === 0) return [text];
  const out: string[] = [];
  const size = Math.max(1, Math.floor(text.length / n));
  for (let i = 0; i < n - 1; i++) out.push(text.slice(i * size, (i + 1) * size) || " ");
  out.push(text.slice((n - 1) * size) || " ");
  return out;
}

const stopReason = (a: ScriptedAnswer) => (a.tool ? "tool_use" : "end_turn");

function anthropicUsage() {
  return {
    input_tokens: SCRIPTED_USAGE.input,
    cache_creation_input_tokens: SCRIPTED_USAGE.cacheCreation,
    cache_read_input_tokens: SCRIPTED_USAGE.cacheRead,
    output_tokens: SCRIPTED_USAGE.output,
  };
}

/**
 * Copilot's own meter, as it puts it on answers: nano-AIU per token type (1 AI credit = 1e9),
 * from the counts the answer reports. Rates are the fake's own, distinct per type so a
 * reader that swaps them is caught.
 */
export const FAKE_RATES = { input: 200_000, cached: 50_000, output: 800_000 } as const;
export function copilotUsage(input: number, output: number, cached = 0): Json {
  const uncached = input - cached;
  return {
    total_nano_aiu: uncached * FAKE_RATES.input + cached * FAKE_RATES.cached + output * FAKE_RATES.output,
    token_details: [
      { token_type: "input", token_count: uncached, nano_aiu_per_token: FAKE_RATES.input },
      { token_type: "cached_input", token_count: cached, nano_aiu_per_token: FAKE_RATES.cached },
      { token_type: "output", token_count: output, nano_aiu_per_token: FAKE_RATES.output },
    ],
  };
}

/** Anthropic's counts as one meter: input excludes the cache; cache writes are billed as input. */
const anthropicCost = () =>
  copilotUsage(SCRIPTED_USAGE.input + SCRIPTED_USAGE.cacheCreation + SCRIPTED_USAGE.cacheRead, SCRIPTED_USAGE.output, SCRIPTED_USAGE.cacheRead);

/** Copilot's native /v1/messages, not streamed. */
export function anthropicMessage(model: string, a: ScriptedAnswer): Json {
  const content: Json[] = [];
  if (a.thinking) content.push({ type: "thinking", thinking: a.thinking.text, signature: a.thinking.signature });
  content.push({ type: "text", text: a.text });
  if (a.tool) content.push({ type: "tool_use", id: a.tool.id, name: a.tool.name, input: a.tool.input });
  return {
    id: "msg_fake_01",
    type: "message",
    role: "assistant",
    model,
    content,
    stop_reason: stopReason(a),
    stop_sequence: null,
    usage: anthropicUsage(),
    copilot_usage: anthropicCost(),
  };
}

const event = (name: string, data: Json) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;

/** Copilot's native /v1/messages stream, as Anthropic's API sends it. */
export function anthropicEvents(model: string, a: ScriptedAnswer, textDeltas: number): string {
  const usage = { ...anthropicUsage(), output_tokens: 1 };
  let out = event("message_start", {
    message: { id: "msg_fake_01", type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage },
  });
  out += 'event: ping\ndata: {"type": "ping"}\n\n';
  let index = 0;
  if (a.thinking) {
    out += event("content_block_start", { index, content_block: { type: "thinking", thinking: "", signature: "" } });
    for (const piece of pieces(a.thinking.text, 2)) out += event("content_block_delta", { index, delta: { type: "thinking_delta", thinking: piece } });
    out += event("content_block_delta", { index, delta: { type: "signature_delta", signature: a.thinking.signature } });
    out += event("content_block_stop", { index });
    index++;
  }
  out += event("content_block_start", { index, content_block: { type: "text", text: "" } });
  for (const piece of pieces(a.text, textDeltas)) out += event("content_block_delta", { index, delta: { type: "text_delta", text: piece } });
  out += event("content_block_stop", { index });
  index++;
  if (a.tool) {
    out += event("content_block_start", { index, content_block: { type: "tool_use", id: a.tool.id, name: a.tool.name, input: {} } });
    for (const piece of pieces(JSON.stringify(a.tool.input), 3)) {
      out += event("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: piece } });
    }
    out += event("content_block_stop", { index });
  }
  out += event("message_delta", {
    delta: { stop_reason: stopReason(a), stop_sequence: null },
    usage: { output_tokens: SCRIPTED_USAGE.output },
    copilot_usage: anthropicCost(),
  });
  out += event("message_stop", {});
  return out;
}

function chatUsage(a: ScriptedAnswer) {
  const prompt = SCRIPTED_USAGE.input + SCRIPTED_USAGE.cacheRead;
  return {
    completion_tokens: SCRIPTED_USAGE.output,
    prompt_tokens: prompt,
    prompt_tokens_details: { cached_tokens: SCRIPTED_USAGE.cacheRead },
    total_tokens: prompt + SCRIPTED_USAGE.output,
    ...(a.thinking ? { completion_tokens_details: { reasoning_tokens: SCRIPTED_USAGE.reasoning } } : {}),
  };
}

const chatCost = () => copilotUsage(SCRIPTED_USAGE.input + SCRIPTED_USAGE.cacheRead, SCRIPTED_USAGE.output, SCRIPTED_USAGE.cacheRead);

const PROMPT_FILTER = {
  choices: [],
  created: 0,
  id: "",
  prompt_filter_results: [{ content_filter_results: { hate: { filtered: false, severity: "safe" } }, prompt_index: 0 }],
};

/** Azure's content filter results, which Copilot puts in every choice of a GPT model's answer (with a nested `error`). */
const choiceFilter = (model: string) => (model.startsWith("gpt-") ? GPT_CHOICE_FILTER : {});

/** Copilot's /chat/completions answer, not streamed (no `object`). */
export function chatCompletion(model: string, a: ScriptedAnswer): Json {
  const message: Json = { role: "assistant", content: a.text };
  if (a.thinking) {
    message.reasoning_text = a.thinking.text;
    message.reasoning_opaque = a.thinking.signature;
  }
  if (a.tool) message.tool_calls = [{ id: a.tool.id, type: "function", function: { name: a.tool.name, arguments: JSON.stringify(a.tool.input) } }];
  return {
    choices: [{ ...choiceFilter(model), index: 0, message, finish_reason: a.tool ? "tool_calls" : "stop" }],
    created: 1_762_000_000,
    id: "msg_vrtx_fake01",
    model,
    prompt_filter_results: PROMPT_FILTER.prompt_filter_results,
    usage: chatUsage(a),
    copilot_usage: chatCost(),
  };
}

/** Copilot's /chat/completions stream, as it really comes. */
export function chatChunks(model: string, a: ScriptedAnswer, textDeltas: number): string {
  const meta = { created: 1_762_000_000, id: "msg_vrtx_fake01", model };
  const chunks: Json[] = [PROMPT_FILTER];
  const delta = (d: Json, finish?: string) =>
    chunks.push({ choices: [{ ...choiceFilter(model), index: 0, delta: { role: "assistant", ...d }, ...(finish ? { finish_reason: finish } : {}) }], ...meta });
  if (a.thinking) {
    for (const piece of pieces(a.thinking.text, 2)) delta({ content: null, reasoning_text: piece });
    delta({ content: null, reasoning_opaque: a.thinking.signature });
  }
  for (const piece of pieces(a.text, textDeltas)) delta({ content: piece });
  if (a.tool) {
    delta({ content: null, tool_calls: [{ function: { arguments: "", name: a.tool.name }, id: a.tool.id, index: 0, type: "function" }] });
    for (const piece of pieces(JSON.stringify(a.tool.input), 3)) delta({ content: null, tool_calls: [{ function: { arguments: piece }, index: 0 }] });
  }
  chunks.push({ choices: [{ ...choiceFilter(model), finish_reason: a.tool ? "tool_calls" : "stop", index: 0, delta: { content: null } }], ...meta });
  chunks.push({ choices: [], ...meta, usage: chatUsage(a), copilot_usage: chatCost() });
  return `${chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join("")}data: [DONE]\n\n`;
}
