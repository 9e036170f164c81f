/**
 * Anthropic's web-search server tool (`web_search_20250305` / `web_search_20260209`, Claude Code's
 * WebSearch), fulfilled by the gateway on every Claude model: Copilot's native /v1/messages refuses it
 * ("The use of the web search tool is not supported."), and its chat has no hosted tools. The loop runs on
 * Copilot's chat (../chat/web-search.ts); the answer is Anthropic's: `server_tool_use` +
 * `web_search_tool_result` blocks, text citing the sources, `usage.server_tool_use.web_search_requests`.
 */
import {
  DEFAULT_MAX_USES,
  domainList,
  locationOf,
  type SearchDone,
  type SearchLoopResult,
  type SearchSettings,
  type SearchSource,
  WEB_SEARCH_FUNCTION,
} from "../chat/web-search";
import { type AnthropicMessageResponse, type AnthropicResponseBlock, chatToAnthropic, mapUsage, messageId } from "./from-chat";
import type { MessagesRequest } from "./request-schema";

/** Anthropic's web-search server tool, by every version it has had. */
const SERVER_WEB_SEARCH = /^web_search_\d{8}$/;

type Tool = NonNullable<MessagesRequest["tools"]>[number];

/** The request's web-search server tool, if it has one. */
export const serverSearchTool = (request: MessagesRequest): Tool | undefined =>
  request.tools?.find((tool) => typeof tool.type === "string" && SERVER_WEB_SEARCH.test(tool.type));

/** The request without its web-search server tool (and a tool_choice naming it). */
export function withoutServerSearch(request: MessagesRequest, tool: Tool): MessagesRequest {
  const tools = request.tools?.filter((t) => t !== tool);
  const named = request.tool_choice?.type === "tool" && request.tool_choice.name === tool.name;
  return { ...request, tools: tools?.length ? tools : undefined, tool_choice: named || !tools?.length ? undefined : request.tool_choice };
}

/** What the server tool asks: allowed / blocked domains, the user's location, max_uses. */
export function settingsOf(tool: Tool, model: string): SearchSettings {
  const raw = tool as Record<string, unknown>;
  const maxUses = typeof raw.max_uses === "number" && Number.isInteger(raw.max_uses) && raw.max_uses > 0 ? raw.max_uses : DEFAULT_MAX_USES;
  return {
    allowedDomains: domainList(raw.allowed_domains),
    blockedDomains: domainList(raw.blocked_domains),
    userLocation: locationOf(raw.user_location),
    maxUses,
    model,
  };
}

const toolUseId = (callId: string) => `srvtoolu_${callId.replace(/[^A-Za-z0-9_]/g, "").slice(0, 64)}`;

/** A source as Anthropic's `web_search_result`; its opaque `encrypted_content` carries what the model was told of it. */
const resultBlock = (source: SearchSource) => ({
  type: "web_search_result",
  url: source.url,
  title: source.title,
  encrypted_content: Buffer.from(JSON.stringify({ url: source.url, title: source.title })).toString("base64"),
  page_age: source.pageAge ?? null,
});

/** One search as the two blocks Anthropic's API gives for it. */
function searchBlocks(search: SearchDone): AnthropicBlock[] {
  const id = toolUseId(search.callId);
  const content = search.error ? { type: "web_search_tool_result_error", error_code: search.error } : search.sources.map(resultBlock);
  return [
    { type: "server_tool_use", id, name: WEB_SEARCH_FUNCTION, input: { query: search.query } },
    { type: "web_search_tool_result", tool_use_id: id, content },
  ];
}

type AnthropicBlock = AnthropicResponseBlock | { type: "server_tool_use"; id: string; name: string; input: Record<string, unknown> } | Record<string, unknown>;

/** The sources a text names by URL, as Anthropic's `web_search_result_location` citations. */
function citationsOf(text: string, sources: SearchSource[]) {
  return sources
    .filter((source) => text.includes(source.url))
    .map((source) => ({
      type: "web_search_result_location",
      url: source.url,
      title: source.title,
      encrypted_index: Buffer.from(source.url).toString("base64"),
      cited_text: source.title.slice(0, 150),
    }));
}

/**
 * The loop's turns as one Anthropic message: each turn's thinking and text, its searches, then (last turn)
 * the client's tool calls; text that names a source's URL cites it.
 */
export function searchMessage(result: SearchLoopResult, model: string): AnthropicMessageResponse {
  const sources = result.turns.flatMap((turn) => turn.searches.flatMap((search) => search.sources));
  const content: AnthropicBlock[] = [];
  let last: AnthropicMessageResponse | undefined;
  for (const turn of result.turns) {
    last = chatToAnthropic(turn.completion, { model });
    const calls = last.content.filter((block) => block.type === "tool_use");
    for (const block of last.content) {
      if (block.type === "tool_use") continue;
      const citations = block.type === "text" ? citationsOf(block.text, sources) : [];
      content.push(citations.length > 0 ? { ...block, citations } : block);
    }
    for (const search of turn.searches) content.push(...searchBlocks(search));
    content.push(...calls.filter((block) => block.type === "tool_use" && block.name !== WEB_SEARCH_FUNCTION));
  }
  const hasClientCall = content.some((block) => block.type === "tool_use");
  const stop = hasClientCall ? "tool_use" : last?.stop_reason === "tool_use" ? "end_turn" : (last?.stop_reason ?? "end_turn");
  return {
    id: messageId(result.turns.at(-1)?.completion.id),
    type: "message",
    role: "assistant",
    model,
    content: content as AnthropicResponseBlock[],
    stop_reason: stop,
    stop_sequence: null,
    usage: { ...mapUsage(result.usage), server_tool_use: { web_search_requests: result.searchCount } } as AnthropicMessageResponse["usage"],
  };
}

const sse = (name: string, data: Record<string, unknown>) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;

/**
 * A whole message as Anthropic's event stream: message_start, each block's start / deltas / stop (text as
 * citations_delta then text_delta, thinking and signature deltas, a tool's input as input_json_delta, a
 * search result whole in its start), message_delta with the stop reason and usage, message_stop.
 */
export function messageEvents(message: AnthropicMessageResponse): string {
  const { usage } = message;
  let out = sse("message_start", { message: { ...message, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 0 } } });
  message.content.forEach((block, index) => {
    const b = block as Record<string, unknown> & { type: string };
    if (b.type === "text") {
      const citations = (b.citations as unknown[] | undefined) ?? [];
      out += sse("content_block_start", { index, content_block: { type: "text", text: "", ...(citations.length ? { citations: [] } : {}) } });
      for (const citation of citations) out += sse("content_block_delta", { index, delta: { type: "citations_delta", citation } });
      out += sse("content_block_delta", { index, delta: { type: "text_delta", text: b.text } });
    } else if (b.type === "thinking") {
      out += sse("content_block_start", { index, content_block: { type: "thinking", thinking: "", signature: "" } });
      out += sse("content_block_delta", { index, delta: { type: "thinking_delta", thinking: b.thinking } });
      out += sse("content_block_delta", { index, delta: { type: "signature_delta", signature: b.signature } });
    } else if (b.type === "tool_use" || b.type === "server_tool_use") {
      out += sse("content_block_start", { index, content_block: { ...b, input: {} } });
      out += sse("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: JSON.stringify(b.input) } });
    } else {
      out += sse("content_block_start", { index, content_block: b });
    }
    out += sse("content_block_stop", { index });
  });
  out += sse("message_delta", { delta: { stop_reason: message.stop_reason, stop_sequence: null }, usage });
  return out + sse("message_stop", {});
}
