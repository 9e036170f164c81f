/**
 * Anthropic Messages request → OpenAI Chat Completions request, for models whose catalog entry
 * does not accept Copilot's native `/v1/messages`.
 *
 * What has no Chat equivalent is left out: `top_k`, `cache_control`, server tools (no
 * `input_schema`), and thinking blocks when the model has no reasoning. `stop_sequence` in
 * the answer can't be known either (see from-chat.ts).
 */
import type { ChatCompletionRequest, ChatContentPart, ChatMessage, ChatTool, ChatToolCall, ChatToolChoice } from "../chat";
import type {
  AnthropicMessage,
  AnthropicToolChoice,
  ContentBlock,
  DocumentBlock,
  ImageBlock,
  MessagesRequest,
  SearchResultBlock,
  ToolResultBlock,
  WebSearchToolResultBlock,
} from "./request-schema";

export interface ToChatOptions {
  /** The Copilot model id, already resolved through the catalog. */
  model: string;
  /**
   * The model has reasoning (catalog: thinking budget / reasoning support). Then earlier
   * thinking blocks go back as Copilot's `reasoning_text` / `reasoning_opaque` and the
   * request's `thinking.budget_tokens` as `thinking_budget`; otherwise they are dropped.
   */
  supportsReasoning: boolean;
}

/** OpenAI's `user` is an identifier, not a document: longer client values are cut to this. */
export const MAX_USER_LENGTH = 256;

/** Prefix put before a tool result's text when the client marked it `is_error`. */
export const TOOL_ERROR_PREFIX = "Error: ";

/** Builds the Chat Completions request for `request`. Pure: the input is not modified. */
export function anthropicToChat(request: MessagesRequest, options: ToChatOptions): ChatCompletionRequest {
  const messages: ChatMessage[] = [];
  const system = systemText(request.system);
  if (system !== undefined) messages.push({ role: "system", content: system });
  for (const message of request.messages) messages.push(...convertMessage(message, options.supportsReasoning));

  const chat: ChatCompletionRequest = { model: options.model, messages, max_tokens: request.max_tokens };
  if (request.temperature !== undefined) chat.temperature = request.temperature;
  if (request.top_p !== undefined) chat.top_p = request.top_p;
  if (request.stop_sequences && request.stop_sequences.length > 0) chat.stop = [...request.stop_sequences];

  const tools = convertTools(request);
  if (tools.length > 0) {
    chat.tools = tools;
    if (request.tool_choice) {
      chat.tool_choice = convertToolChoice(request.tool_choice);
      if ("disable_parallel_tool_use" in request.tool_choice && request.tool_choice.disable_parallel_tool_use) chat.parallel_tool_calls = false;
    }
  } else if (request.tool_choice?.type === "none") {
    chat.tool_choice = "none";
  }

  const user = request.metadata?.user_id;
  if (typeof user === "string" && user !== "") chat.user = user.slice(0, MAX_USER_LENGTH);

  if (options.supportsReasoning && request.thinking?.type === "enabled" && request.thinking.budget_tokens !== undefined) {
    chat.thinking_budget = request.thinking.budget_tokens;
  }

  if (request.stream) {
    chat.stream = true;
    chat.stream_options = { include_usage: true };
  }
  return chat;
}

/** `system` as one string: blocks are joined with a blank line. Undefined when there is none. */
export function systemText(system: MessagesRequest["system"]): string | undefined {
  if (system === undefined) return undefined;
  if (typeof system === "string") return system === "" ? undefined : system;
  const text = system.map((block) => block.text).join("\n\n");
  return text === "" ? undefined : text;
}

/** The URL Chat Completions wants for an Anthropic image: the URL itself, or a `data:` URL. */
export function imageUrl(block: ImageBlock): string {
  return block.source.type === "url" ? block.source.url : `data:${block.source.media_type};base64,${block.source.data}`;
}

function convertMessage(message: AnthropicMessage, supportsReasoning: boolean): ChatMessage[] {
  if (typeof message.content === "string") {
    return [message.role === "user" ? { role: "user", content: message.content } : { role: "assistant", content: message.content }];
  }
  return message.role === "user" ? convertUserBlocks(message.content) : [convertAssistantBlocks(message.content, supportsReasoning)];
}

/**
 * A user turn: its tool results become `role: "tool"` messages first (Chat wants them right
 * after the assistant's tool calls), then its text and images one user message.
 * Images inside a tool result can't ride on a tool message, so they join that user message.
 */
function convertUserBlocks(blocks: ContentBlock[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  const parts: ChatContentPart[] = [];
  for (const block of blocks) {
    if (block.type === "tool_result") {
      const { text, images } = flattenToolResult(block);
      out.push({ role: "tool", tool_call_id: block.tool_use_id, content: text });
      if (images.length > 0) {
        parts.push({ type: "text", text: `Images returned by tool call ${block.tool_use_id}:` });
        for (const image of images) parts.push({ type: "image_url", image_url: { url: imageUrl(image) } });
      }
    } else if (block.type === "text") {
      parts.push({ type: "text", text: block.text });
    } else if (block.type === "document" || block.type === "search_result") {
      parts.push({ type: "text", text: sourceText(block) });
    } else if (block.type === "image") {
      parts.push({ type: "image_url", image_url: { url: imageUrl(block) } });
    }
    // tool_use / thinking blocks in a user turn are not valid Anthropic; nothing to carry.
  }
  if (parts.length > 0) {
    const textOnly = parts.every((part) => part.type === "text");
    out.push({ role: "user", content: textOnly ? parts.map((part) => (part as { text: string }).text).join("\n\n") : parts });
  }
  return out;
}

/** A tool result's content as the text of a tool message (text parts joined), plus its images. */
export function flattenToolResult(block: ToolResultBlock): { text: string; images: ImageBlock[] } {
  let text: string;
  const images: ImageBlock[] = [];
  if (block.content === undefined) text = "";
  else if (typeof block.content === "string") text = block.content;
  else {
    const texts: string[] = [];
    for (const part of block.content) {
      if (part.type === "text") texts.push(part.text);
      else if (part.type === "image") images.push(part);
      else texts.push(sourceText(part));
    }
    text = texts.join("\n");
  }
  if (block.is_error) text = `${TOOL_ERROR_PREFIX}${text === "" ? "the tool call failed" : text}`;
  return { text, images };
}

function convertAssistantBlocks(blocks: ContentBlock[], supportsReasoning: boolean): ChatMessage {
  const texts: string[] = [];
  const toolCalls: ChatToolCall[] = [];
  const thinking: string[] = [];
  let opaque: string | undefined;
  for (const block of blocks) {
    if (block.type === "text") texts.push(block.text);
    else if (block.type === "tool_use") {
      toolCalls.push({ id: block.id, type: "function", function: { name: block.name, arguments: JSON.stringify(block.input) } });
    } else if (block.type === "thinking") {
      thinking.push(block.thinking);
      if (block.signature) opaque = block.signature;
    } else if (block.type === "redacted_thinking") {
      opaque = block.data;
    } else if (block.type === "server_tool_use") {
      // A search the gateway (or Anthropic) ran: the model reads what was searched and found, as text.
      texts.push(`[${block.name}: ${typeof block.input.query === "string" ? block.input.query : JSON.stringify(block.input)}]`);
    } else if (block.type === "web_search_tool_result") {
      texts.push(searchResultsText(block));
    }
  }
  const text = texts.join("\n\n");
  const message: Extract<ChatMessage, { role: "assistant" }> = { role: "assistant", content: text === "" && toolCalls.length > 0 ? null : text };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  if (supportsReasoning) {
    const reasoning = thinking.join("\n\n");
    if (reasoning !== "") message.reasoning_text = reasoning;
    if (opaque !== undefined) message.reasoning_opaque = opaque;
  }
  return message;
}

/** A document or search result the client supplied, as text the model can read. */
function sourceText(block: DocumentBlock | SearchResultBlock): string {
  if (block.type === "search_result") return `Search result: ${block.title} (${block.source})\n${block.content.map((part) => part.text).join("\n")}`;
  const title = block.title ? `Document: ${block.title}\n` : "Document:\n";
  const source = block.source as { type: string; data?: unknown; url?: unknown; content?: unknown };
  if (source.type === "text" && typeof source.data === "string") return title + source.data;
  if (source.type === "content" && Array.isArray(source.content)) {
    return title + source.content.map((part: { text?: unknown }) => (typeof part.text === "string" ? part.text : "")).join("\n");
  }
  if (typeof source.url === "string") return `${title}(at ${source.url})`;
  return `${title}(a ${source.type} document this model cannot read)`;
}

/** A replayed web search's results as text: each source's title and URL, or the error. */
function searchResultsText(block: WebSearchToolResultBlock): string {
  if (!Array.isArray(block.content)) return `[web search failed: ${String((block.content as { error_code?: unknown }).error_code ?? "error")}]`;
  const lines = block.content.map((result, index) => `${index + 1}. ${result.title ?? ""} — ${result.url ?? ""}`);
  return `Web search results:\n${lines.join("\n")}`;
}

function convertTools(request: MessagesRequest): ChatTool[] {
  const tools: ChatTool[] = [];
  for (const tool of request.tools ?? []) {
    if (!tool.input_schema) continue;
    const fn: ChatTool["function"] = { name: tool.name, parameters: tool.input_schema };
    if (tool.description !== undefined) fn.description = tool.description;
    tools.push({ type: "function", function: fn });
  }
  return tools;
}

/** auto → "auto", any → "required", tool → that function, none → "none". */
export function convertToolChoice(choice: AnthropicToolChoice): ChatToolChoice {
  switch (choice.type) {
    case "auto":
      return "auto";
    case "any":
      return "required";
    case "tool":
      return { type: "function", function: { name: choice.name } };
    case "none":
      return "none";
  }
}
