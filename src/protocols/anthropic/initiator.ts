/**
 * Request traits that become Copilot headers, read from an Anthropic request:
 * `X-Initiator` (who started this request: the person, or the agent continuing its own work)
 * and `Copilot-Vision-Request` (an image is present).
 *
 * The rule is the one Copilot's own clients follow: the request is the user's only when the
 * last message is something the person typed. A tool result or an assistant continuation is
 * the agent's.
 */

import type { Initiator } from "~/upstream/copilot-client";
import type { MessagesRequest } from "./request-schema";

type AnthropicMessages = MessagesRequest["messages"];

/** Anthropic Messages: `user` only when the last message is a user turn with no `tool_result` block. */
export function anthropicInitiator(messages: AnthropicMessages): Initiator {
  const last = messages.at(-1);
  if (last?.role !== "user") return "agent";
  if (typeof last.content === "string") return "user";
  return last.content.some((block) => block.type === "tool_result") ? "agent" : "user";
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
