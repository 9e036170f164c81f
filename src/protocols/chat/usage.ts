import type { EventDraft, UsageReader } from "~/features/events";
import type { StreamEnds } from "~/upstream/relay";

interface OpenAIUsage {
  prompt_tokens?: unknown;
  completion_tokens?: unknown;
  prompt_tokens_details?: { cached_tokens?: unknown } | null;
  completion_tokens_details?: { reasoning_tokens?: unknown } | null;
}

const count = (value: unknown) => (typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : null);

/**
 * Reads OpenAI's usage block ({ prompt_tokens, completion_tokens }, with
 * `prompt_tokens_details.cached_tokens`, part of the prompt tokens, and
 * `completion_tokens_details.reasoning_tokens`) and the answering model from a
 * chat or embeddings answer, or a stream chunk.
 */
function noteUsage(draft: EventDraft, answer: unknown): void {
  if (typeof answer !== "object" || answer === null) return;
  const { model, usage } = answer as { model?: unknown; usage?: OpenAIUsage | null };
  if (typeof model === "string" && model) draft.upstreamModel = model;
  if (typeof usage !== "object" || usage === null) return;
  draft.usageSeen = true;
  draft.promptTokens = count(usage.prompt_tokens);
  draft.completionTokens = count(usage.completion_tokens);
  draft.cacheReadTokens = count(usage.prompt_tokens_details?.cached_tokens);
  draft.reasoningTokens = count(usage.completion_tokens_details?.reasoning_tokens);
}

/**
 * Copilot puts usage in the last chunk before `data: [DONE]`: the tail's `data:` lines are read
 * from the end, one at a time, until one carries usage (the tail is not split into lines).
 */
function noteStreamUsage(draft: EventDraft, { tail }: StreamEnds): void {
  for (let end = tail.length; end > 0; ) {
    const start = tail.lastIndexOf("\n", end - 1) + 1;
    const line = tail.slice(start, end);
    end = start - 1;
    if (!line.startsWith("data:")) continue;
    const data = line.slice(5).trim();
    if (data === "[DONE]") continue;
    try {
      noteUsage(draft, JSON.parse(data));
      if (draft.usageSeen) return;
    } catch {
      // a chunk cut by the tail window or by an abort: keep looking further up
    }
  }
}

export const chatUsage: UsageReader = { fromAnswer: noteUsage, fromStream: noteStreamUsage };
