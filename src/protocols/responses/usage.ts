import { type EventDraft, noteCost, type UsageReader } from "~/features/events";

/**
 * Usage in the Responses API: a Response's `usage` block
 * ({ input_tokens, input_tokens_details.cached_tokens, output_tokens,
 * output_tokens_details.reasoning_tokens }), read from a JSON answer or from the
 * Response a stream's terminal event (`response.completed`, `.incomplete`, `.failed`) carries.
 */

const TERMINAL_EVENTS = new Set(["response.completed", "response.incomplete", "response.failed"]);

/** Reads a Response object's model and usage into the draft. */
export function noteResponseUsage(draft: EventDraft, response: unknown): void {
  if (typeof response !== "object" || response === null) return;
  const { model, usage } = response as { model?: unknown; usage?: unknown };
  if (typeof model === "string" && model) draft.upstreamModel = model;
  if (typeof usage !== "object" || usage === null) return;
  const u = usage as {
    input_tokens?: unknown;
    output_tokens?: unknown;
    input_tokens_details?: { cached_tokens?: unknown } | null;
    output_tokens_details?: { reasoning_tokens?: unknown } | null;
  };
  draft.usageSeen = true;
  draft.promptTokens = numberOrNull(u.input_tokens);
  draft.completionTokens = numberOrNull(u.output_tokens);
  draft.cacheReadTokens = numberOrNull(u.input_tokens_details?.cached_tokens);
  draft.reasoningTokens = numberOrNull(u.output_tokens_details?.reasoning_tokens);
}

/** The Response of a terminal event in an SSE text, read from the end; undefined when none is complete in it. */
export function terminalResponseIn(text: string): Record<string, unknown> | undefined {
  for (const line of text.split("\n").reverse()) {
    if (!line.startsWith("data:")) continue;
    const event = terminalEvent(line.slice(5).trim());
    if (event) return event.response;
  }
  return undefined;
}

/** A terminal event: its Response, and Copilot's meter beside it (copilot_usage, at the event's top level). */
export type TerminalEvent = { response: Record<string, unknown> } & Record<string, unknown>;

/** Parses one SSE data payload when it is a terminal event; the event, else undefined. */
export function terminalEvent(data: string): TerminalEvent | undefined {
  try {
    const event = JSON.parse(data) as { type?: unknown; response?: unknown };
    if (typeof event.type === "string" && TERMINAL_EVENTS.has(event.type) && typeof event.response === "object" && event.response !== null) {
      return event as TerminalEvent;
    }
  } catch {
    // cut by the tail window, or not JSON
  }
  return undefined;
}

export const isTerminalEventName = (name: string) => TERMINAL_EVENTS.has(name);

/**
 * Reads usage from a Response answer, or from a stream's terminal event (`found` first: the whole
 * event, when the route caught it, with Copilot's meter beside the Response however long its line).
 */
export function responsesUsage(found: () => TerminalEvent | undefined = () => undefined): UsageReader {
  return {
    fromAnswer: noteResponseUsage,
    fromStream: (draft, { tail }) => {
      const event = found();
      noteResponseUsage(draft, event?.response ?? terminalResponseIn(tail));
      if (event) noteCost(draft, event);
    },
  };
}

function numberOrNull(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}
