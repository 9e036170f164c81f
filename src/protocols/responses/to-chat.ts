/**
 * Responses request → Chat Completions request, for models Copilot serves only on
 * `/chat/completions`.
 *
 * Input items: messages (`input_text`, `input_image`, earlier `output_text`), `function_call`,
 * `function_call_output`, and `reasoning` (carried as Copilot's `reasoning_text` /
 * `reasoning_opaque` for models with reasoning, dropped for the others). `instructions` become
 * the system message. Function tools and `tool_choice` map one to one, a namespace's functions
 * become flat functions (./namespaces.ts), `text.format` becomes `response_format`. What Chat
 * Completions cannot express (files, item references, custom tools) is refused with a 400
 * naming it (thrown), never silently dropped.
 */
import { ApiFailure } from "~/lib/api-error";
import type { ChatCompletionRequest, ChatContentPart, ChatMessage, ChatToolCall, ChatToolChoice } from "../chat";
import { itemType } from "./input";
import { flatToolName } from "./namespaces";
import type { InputItem, ResponsesRequest } from "./types";

export interface ToChatOptions {
  /** The Copilot model id, already resolved through the catalog. */
  model: string;
  /** The model has reasoning (catalog): reasoning items and `reasoning.effort` are carried, else dropped. */
  supportsReasoning: boolean;
}

/** A Chat tool as Copilot accepts it, with OpenAI's `strict`. */
interface ChatFunctionTool {
  type: "function";
  function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean };
}

/** The Chat Completions request the translation sends: the shared shape plus structured outputs and reasoning effort. */
export type ResponsesChatRequest = Omit<ChatCompletionRequest, "tools"> & {
  tools?: ChatFunctionTool[];
  response_format?: { type: "json_object" } | { type: "json_schema"; json_schema: Record<string, unknown> };
  reasoning_effort?: string;
};

/** What cannot be translated, said in the client's terms with the field at fault: a 400, answered in the client's shape. */
function untranslatable(param: string, message: string): never {
  throw new ApiFailure(400, { message, type: "invalid_request_error", code: "unsupported_value", param });
}

/** OpenAI's `user` is an identifier, not a document: longer client values are cut to this. */
export const MAX_USER_LENGTH = 256;

const ONLY_ON_RESPONSES = "is not available for models Copilot serves only on /chat/completions; pick a model whose catalog entry lists /responses";

/**
 * Builds the Chat Completions request for `request` and the already expanded `items`; throws
 * the 400 for what Chat cannot carry. Pure: nothing given is modified.
 */
export function responsesToChat(request: ResponsesRequest, items: readonly InputItem[], options: ToChatOptions): ResponsesChatRequest {
  const messages: ChatMessage[] = [];
  if (typeof request.instructions === "string" && request.instructions !== "") messages.push({ role: "system", content: request.instructions });
  convertItems(items, options.supportsReasoning, messages);

  const chat: ResponsesChatRequest = { model: options.model, messages };
  if (typeof request.max_output_tokens === "number") chat.max_tokens = request.max_output_tokens;
  if (typeof request.temperature === "number") chat.temperature = request.temperature;
  if (typeof request.top_p === "number") chat.top_p = request.top_p;
  if (typeof request.user === "string" && request.user !== "") chat.user = request.user.slice(0, MAX_USER_LENGTH);
  if (typeof request.parallel_tool_calls === "boolean") chat.parallel_tool_calls = request.parallel_tool_calls;

  const tools = convertTools(request.tools);
  if (tools.length > 0) chat.tools = tools;
  if (request.tool_choice !== undefined && request.tool_choice !== null) {
    const choice = convertToolChoice(request.tool_choice);
    if (choice === undefined) {
      untranslatable("tool_choice", `tool_choice: this form ${ONLY_ON_RESPONSES}; use "auto", "none", "required" or {"type":"function","name":…}`);
    }
    chat.tool_choice = choice;
  }

  const format = request.text?.format;
  if (format && format.type === "json_schema") {
    const schema: Record<string, unknown> = { name: format.name ?? "response", schema: format.schema ?? {} };
    if (typeof format.strict === "boolean") schema.strict = format.strict;
    if (typeof format.description === "string") schema.description = format.description;
    chat.response_format = { type: "json_schema", json_schema: schema };
  } else if (format && format.type === "json_object") {
    chat.response_format = { type: "json_object" };
  }

  const effort = request.reasoning?.effort;
  if (options.supportsReasoning && typeof effort === "string") chat.reasoning_effort = effort;

  if (request.stream) {
    chat.stream = true;
    chat.stream_options = { include_usage: true };
  }
  return chat;
}

/** Appends the Chat messages for `items` to `messages`; throws for an item Chat cannot carry. */
function convertItems(items: readonly InputItem[], supportsReasoning: boolean, messages: ChatMessage[]): void {
  // Reasoning comes before the assistant turn it belongs to: held until that turn starts.
  let reasoning: { text: string[]; opaque?: string } | undefined;
  const assistant = (): Extract<ChatMessage, { role: "assistant" }> => {
    const last = messages.at(-1);
    if (last?.role === "assistant" && !reasoning) return last;
    const message: Extract<ChatMessage, { role: "assistant" }> = { role: "assistant", content: null };
    if (reasoning) {
      if (reasoning.text.length > 0) message.reasoning_text = reasoning.text.join("\n\n");
      if (reasoning.opaque !== undefined) message.reasoning_opaque = reasoning.opaque;
      reasoning = undefined;
    }
    messages.push(message);
    return message;
  };

  for (const [index, item] of items.entries()) {
    const type = itemType(item);
    const param = `input[${index}]`;
    if (type === "message") {
      const role = item.role;
      const content = messageContent(item.content, `${param}.content`);
      if (role === "assistant") {
        const message = assistant();
        const text = content.parts.map((p) => (p.type === "text" ? p.text : "")).join("");
        message.content = message.content ? `${message.content}${text}` : text === "" && message.tool_calls ? null : text;
      } else if (role === "system" || role === "developer") {
        messages.push({ role: "system", content: content.parts.map((p) => (p.type === "text" ? p.text : "")).join("\n") });
      } else if (role === "user") {
        const parts = content.parts;
        messages.push({ role: "user", content: parts.length === 1 && parts[0]!.type === "text" ? parts[0]!.text : parts });
      } else {
        untranslatable(`${param}.role`, `${param}.role: expected "user", "assistant", "system" or "developer"`);
      }
    } else if (type === "function_call") {
      const message = assistant();
      const name = String(item.name ?? "");
      const call: ChatToolCall = {
        id: String(item.call_id ?? ""),
        type: "function",
        function: {
          name: typeof item.namespace === "string" && item.namespace !== "" ? flatToolName(item.namespace, name) : name,
          arguments: stringOf(item.arguments),
        },
      };
      message.tool_calls = [...(message.tool_calls ?? []), call];
      if (message.content === "") message.content = null;
    } else if (type === "function_call_output") {
      const output = toolOutput(item.output, `${param}.output`);
      messages.push({ role: "tool", tool_call_id: String(item.call_id ?? ""), content: output.text });
      if (output.images.length > 0) {
        messages.push({ role: "user", content: [{ type: "text", text: `Images returned by tool call ${String(item.call_id ?? "")}:` }, ...output.images] });
      }
    } else if (type === "reasoning") {
      if (!supportsReasoning) continue;
      reasoning ??= { text: [] };
      for (const part of Array.isArray(item.summary) ? item.summary : []) {
        if (typeof part?.text === "string" && part.text !== "") reasoning.text.push(part.text);
      }
      if (typeof item.encrypted_content === "string" && item.encrypted_content !== "") reasoning.opaque = item.encrypted_content;
    } else {
      untranslatable(`${param}.type`, `${param}.type: input items of type ${JSON.stringify(type.slice(0, 64))} ${ONLY_ON_RESPONSES}`);
    }
  }
}

/** A message's content as Chat parts: text (input_text, output_text, refusal) and images. */
function messageContent(content: unknown, param: string): { parts: ChatContentPart[] } {
  if (typeof content === "string") return { parts: [{ type: "text", text: content }] };
  if (!Array.isArray(content)) return { parts: [] };
  const parts: ChatContentPart[] = [];
  for (const [index, part] of content.entries()) {
    const type = (part as { type?: unknown })?.type;
    if (type === "input_text" || type === "output_text" || type === "text") parts.push({ type: "text", text: String(part.text ?? "") });
    else if (type === "refusal") parts.push({ type: "text", text: String(part.refusal ?? "") });
    else if (type === "input_image") {
      if (typeof part.image_url !== "string" || part.image_url === "") {
        untranslatable(`${param}[${index}]`, `${param}[${index}]: an input_image needs an image_url (a URL or a data: URL); file_id ${ONLY_ON_RESPONSES}`);
      }
      const detail = part.detail === "low" || part.detail === "high" || part.detail === "auto" ? part.detail : undefined;
      parts.push({ type: "image_url", image_url: detail ? { url: part.image_url, detail } : { url: part.image_url } });
    } else {
      untranslatable(`${param}[${index}].type`, `${param}[${index}].type: content of type ${JSON.stringify(String(type).slice(0, 64))} ${ONLY_ON_RESPONSES}`);
    }
  }
  return { parts };
}

/** A function call's output as a tool message's text, plus its images (which a tool message cannot carry). */
function toolOutput(output: unknown, param: string): { text: string; images: ChatContentPart[] } {
  if (typeof output === "string") return { text: output, images: [] };
  if (output === undefined || output === null) return { text: "", images: [] };
  const content = messageContent(output, param);
  const texts: string[] = [];
  const images: ChatContentPart[] = [];
  for (const part of content.parts) {
    if (part.type === "text") texts.push(part.text);
    else images.push(part);
  }
  return { text: texts.join("\n"), images };
}

function stringOf(value: unknown): string {
  if (typeof value === "string") return value;
  return value === undefined || value === null ? "" : JSON.stringify(value);
}

function convertTools(tools: ResponsesRequest["tools"]): ChatFunctionTool[] {
  const out: ChatFunctionTool[] = [];
  const unsupported = (param: string, type: unknown) =>
    untranslatable(`${param}.type`, `${param}.type: tools of type ${JSON.stringify(String(type).slice(0, 64))} ${ONLY_ON_RESPONSES}`);
  for (const [index, tool] of (tools ?? []).entries()) {
    if (tool.type === "namespace") {
      for (const [at, inner] of (Array.isArray(tool.tools) ? (tool.tools as Record<string, unknown>[]) : []).entries()) {
        if (inner?.type !== "function") unsupported(`tools[${index}].tools[${at}]`, inner?.type);
        out.push(functionTool(inner, flatToolName(String(tool.name ?? ""), String(inner.name ?? ""))));
      }
    } else if (tool.type === "function") {
      out.push(functionTool(tool, String(tool.name ?? "")));
    } else {
      unsupported(`tools[${index}]`, tool.type);
    }
  }
  return out;
}

function functionTool(tool: Record<string, unknown>, name: string): ChatFunctionTool {
  const fn: ChatFunctionTool["function"] = { name };
  if (typeof tool.description === "string") fn.description = tool.description;
  if (typeof tool.parameters === "object" && tool.parameters !== null) fn.parameters = tool.parameters as Record<string, unknown>;
  if (typeof tool.strict === "boolean") fn.strict = tool.strict;
  return { type: "function", function: fn };
}

/** "auto" / "none" / "required" as they are; {type: "function", name} → {type: "function", function: {name}}; anything else undefined. */
export function convertToolChoice(choice: unknown): ChatToolChoice | undefined {
  if (choice === "auto" || choice === "none" || choice === "required") return choice;
  if (typeof choice === "object" && choice !== null) {
    const { type, name } = choice as { type?: unknown; name?: unknown };
    if (type === "function" && typeof name === "string") return { type: "function", function: { name } };
  }
  return undefined;
}
