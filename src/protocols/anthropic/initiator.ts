/**
 * Request traits that become Copilot headers, shared by the protocols:
 * `X-Initiator` (who started this request: the person, or the agent continuing its own work)
 * and `Copilot-Vision-Request` (an image is present).
 *
 * The rule is the one Copilot's own clients follow: the request is the user's only when the
 * last message is something the person typed. A tool result or an assistant continuation is
 * the agent's.
 */
import type { MessagesRequest } from "./request-schema";

export type Initiator = "user" | "agent";

type AnthropicMessages = MessagesRequest["messages"];

/** Anthropic Messages: `user` only when the last message is a user turn with no `tool_result` block. */
export function anthropicInitiator(messages: AnthropicMessages): Initiator {
  const last = messages.at(-1);
  if (last?.role !== "user") return "agent";
  if (typeof last.content === "string") return "user";
  return last.content.some((block) => block.type === "tool_result") ? "agent" : "user";
}

/** A chat message as the OpenAI routes receive it (not validated): only `role` is read. */
export interface ChatMessageLike {
  role?: unknown;
  content?: unknown;
}

/** Chat Completions: `user` when the last message's role is `user`; `tool`, `assistant` (or anything else) → `agent`. */
export function chatInitiator(messages: readonly ChatMessageLike[]): Initiator {
  return messages.at(-1)?.role === "user" ? "user" : "agent";
}

/** Anthropic Messages: any image block, in a message or inside a tool result. */
export function anthropicHasImages(messages: AnthropicMessages): boolean {
  for (const message of messages) {
    if (typeof message.content === "string") continue;
    for (const block of message.content) {
      if (block.type === "image") return true;
      if (block.type === "tool_result" && Array.isArray(block.content) && block.content.some((part) => part.type === "image")) return true;
    }
  }
  return false;
}

/** Chat Completions: any `image_url` content part. */
export function chatHasImages(messages: readonly ChatMessageLike[]): boolean {
  return messages.some(
    (message) =>
      Array.isArray(message.content) &&
      message.content.some((part: unknown) => typeof part === "object" && part !== null && (part as { type?: unknown }).type === "image_url"),
  );
}
