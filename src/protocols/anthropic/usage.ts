import type { EventDraft, UsageReader } from "~/features/events";
import type { StreamEnds } from "~/upstream/relay";

/**
 * Reads Anthropic's usage from Copilot's native /v1/messages answers into the event:
 * a message's `usage` block, or a stream's `message_start` (input side, at the stream's
 * head) and last `message_delta` (output side, and on newer streams cumulative input
 * counts, at its tail).
 *
 * Events count prompt tokens the way OpenAI does, cache included: prompt_tokens =
 * input_tokens + cache_read_input_tokens + cache_creation_input_tokens, with the two cache
 * counts also kept on their own (cache_read_tokens, cache_creation_tokens).
 */

interface AnthropicUsageBlock {
  input_tokens?: unknown;
  output_tokens?: unknown;
  cache_read_input_tokens?: unknown;
  cache_creation_input_tokens?: unknown;
}

const count = (value: unknown) => (typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : undefined);

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null;

/** The counts a usage block carries; a later block's counts replace an earlier one's (message_delta's are cumulative). */
interface Counts {
  input?: number;
  output?: number;
  cacheRead?: number;
  cacheCreation?: number;
}

function readCounts(usage: unknown, into: Counts): boolean {
  if (!isRecord(usage)) return false;
  const u = usage as AnthropicUsageBlock;
  into.input = count(u.input_tokens) ?? into.input;
  into.output = count(u.output_tokens) ?? into.output;
  into.cacheRead = count(u.cache_read_input_tokens) ?? into.cacheRead;
  into.cacheCreation = count(u.cache_creation_input_tokens) ?? into.cacheCreation;
  return true;
}

function fill(draft: EventDraft, counts: Counts): void {
  draft.usageSeen = true;
  const cacheRead = counts.cacheRead ?? 0;
  const cacheCreation = counts.cacheCreation ?? 0;
  draft.promptTokens = counts.input === undefined ? null : counts.input + cacheRead + cacheCreation;
  draft.completionTokens = counts.output ?? null;
  draft.cacheReadTokens = counts.cacheRead ?? null;
  draft.cacheCreationTokens = counts.cacheCreation ?? null;
}

function noteModel(draft: EventDraft, model: unknown): void {
  if (typeof model === "string" && model !== "") draft.upstreamModel = model;
}

/** A non-streamed message: `{ model, usage: {...} }`. */
function fromAnswer(draft: EventDraft, answer: unknown): void {
  if (!isRecord(answer)) return;
  noteModel(draft, answer.model);
  const counts: Counts = {};
  if (readCounts(answer.usage, counts)) fill(draft, counts);
}

/** The parsed `data:` payloads of an SSE text, in order; lines cut by the head/tail window are skipped. */
function* events(text: string, reverse: boolean): Generator<Record<string, unknown>> {
  const lines = text.split("\n");
  if (reverse) lines.reverse();
  for (const line of lines) {
    if (!line.startsWith("data:")) continue;
    try {
      const data: unknown = JSON.parse(line.slice(5));
      if (isRecord(data)) yield data;
    } catch {
      // cut by the window, or not JSON: look further
    }
  }
}

function fromStream(draft: EventDraft, { head, tail }: StreamEnds): void {
  const counts: Counts = {};
  let seen = false;
  for (const event of events(head, false)) {
    if (event.type !== "message_start" || !isRecord(event.message)) continue;
    noteModel(draft, event.message.model);
    seen = readCounts(event.message.usage, counts);
    break;
  }
  for (const event of events(tail, true)) {
    if (event.type !== "message_delta") continue;
    seen = readCounts(event.usage, counts) || seen;
    break;
  }
  if (seen) fill(draft, counts);
}

export const anthropicUsage: UsageReader = { fromAnswer, fromStream };
