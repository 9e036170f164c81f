/**
 * Reading a Responses request's `input`: its items (a string is one user message), and the
 * traits that become Copilot headers. Used on both paths, before anything is translated.
 */
import type { Initiator } from "~/upstream/copilot-client";
import type { InputItem } from "./types";

/** `input` as a list of items: a string is one user message; absent is none. */
export function inputItems(input: unknown): InputItem[] {
  if (typeof input === "string") return [{ type: "message", role: "user", content: input }];
  if (!Array.isArray(input)) return [];
  return input.filter((item): item is InputItem => typeof item === "object" && item !== null && !Array.isArray(item));
}

/** An item's kind: its `type`, or `message` for an item with only a `role` (OpenAI's "easy" input message). */
export function itemType(item: InputItem): string {
  if (typeof item.type === "string") return item.type;
  return typeof item.role === "string" ? "message" : "unknown";
}

/**
 * X-Initiator: `user` when the last item is a message the person typed (role user), `agent`
 * for anything else (a `function_call_output` continuing the agent's own work, an assistant turn).
 */
export function responsesInitiator(items: readonly InputItem[]): Initiator {
  const last = items.at(-1);
  return last && itemType(last) === "message" && last.role === "user" ? "user" : "agent";
}

/** Copilot-Vision-Request: an `input_image` part in any message (or function call output). */
export function responsesHasImages(items: readonly InputItem[]): boolean {
  return items.some((item) => {
    const parts = Array.isArray(item.content) ? item.content : Array.isArray(item.output) ? item.output : [];
    return parts.some((part: unknown) => typeof part === "object" && part !== null && (part as { type?: unknown }).type === "input_image");
  });
}
