import type { Initiator } from "~/upstream/copilot-client";

/**
 * Request traits that become Copilot headers, read from a chat request:
 * `X-Initiator` (the person, or the agent continuing its own work: the request
 * is the user's only when the last message is something the person typed, as
 * Copilot's own clients send it) and `Copilot-Vision-Request` (an image is present).
 */

/** A chat message as the OpenAI routes receive it (not validated): only `role` is read. */
export interface ChatMessageLike {
  role?: unknown;
  content?: unknown;
}

/** Chat Completions: `user` when the last message's role is `user`; `tool`, `assistant` (or anything else) → `agent`. */
export function chatInitiator(messages: readonly ChatMessageLike[]): Initiator {
  return messages.at(-1)?.role === "user" ? "user" : "agent";
}

/** Chat Completions: any `image_url` content part. */
export function chatHasImages(messages: readonly ChatMessageLike[]): boolean {
  return messages.some(
    (message) =>
      Array.isArray(message.content) &&
      message.content.some((part: unknown) => typeof part === "object" && part !== null && (part as { type?: unknown }).type === "image_url"),
  );
}
