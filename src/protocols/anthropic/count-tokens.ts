/**
 * POST /v1/messages/count_tokens, answered locally: an estimate of a request's input tokens.
 *
 * Tokenizer: gpt-tokenizer's o200k_base, a maintained pure-JS BPE. Copilot's own catalog
 * declares `"tokenizer": "o200k_base"` for its Claude models too, so this is the count
 * Copilot's prompt limits are closest to. It loads lazily (its tables take ~0.5 s to load, so
 * the first call pays that, or call {@link loadTokenizer} at boot) and then counts roughly
 * 2–3 million tokens a second on this machine kind.
 *
 * Error margin, honestly: Claude's own tokenizer is not public and differs from o200k_base;
 * it is commonly reported to yield more tokens for the same text (figures of roughly 10–30 %
 * more for English and code circulate; not verified here). This gateway was built without
 * access to Anthropic's API, so the margin was not measured against real counts: treat the
 * result as an estimate that is more likely low than high. What is counted:
 *
 * - system text, every text block, tool_use (name + JSON input) and tool_result content,
 *   plus {@link MESSAGE_OVERHEAD_TOKENS} per message for role framing;
 * - each tool definition as its JSON (name, description, input_schema), plus Anthropic's
 *   published tool-use system prompt size for Claude 4 models ({@link TOOL_PREAMBLE_TOKENS});
 * - each image as {@link IMAGE_TOKEN_ESTIMATE} tokens, whatever its size;
 * - thinking blocks are not counted (Anthropic ignores earlier turns' thinking for input).
 */
import type { ContentBlock, CountTokensRequest } from "./request-schema";

/**
 * Tokens per image. Anthropic counts an image as about width × height / 750 tokens and
 * scales images down to about 1.15 megapixels, so ~1,600 is the most an image costs; we use
 * that ceiling rather than decoding image sizes.
 */
export const IMAGE_TOKEN_ESTIMATE = 1600;

/** Role and turn framing added per message (the same order as OpenAI's 3 tokens a message). */
export const MESSAGE_OVERHEAD_TOKENS = 3;

/** Anthropic's documented tool-use system prompt for Claude 4 models: 346 tokens with tool_choice auto/none, 313 with any/tool. */
export const TOOL_PREAMBLE_TOKENS = { autoOrNone: 346, anyOrTool: 313 } as const;

/** A function that counts the tokens of a piece of text. */
export type TextCounter = (text: string) => number;

/**
 * Longest run of one kind of character (letters, whitespace, or punctuation and symbols) that
 * is encoded as one piece. o200k_base's pre-tokenizer makes such a run one word, and BPE's cost
 * grows with the square of a word's length (100 KB of one letter took 15–26 s); cut into pieces
 * of this length, the cost is linear (300 KB of one letter: ~15 ms) and the count the same or
 * within a token a piece. Ordinary words are far shorter, so ordinary text is never cut.
 */
export const MAX_RUN = 512;

const LETTER = /[\p{L}\p{M}]/u;
const SPACE = /\s/u;
const DIGIT = /\p{N}/u;

/** 0 letter, 1 whitespace, 2 digit (split into threes by the pre-tokenizer, never long), 3 anything else. */
function kindOf(code: number): number {
  if (code < 0x80) {
    if ((code >= 0x61 && code <= 0x7a) || (code >= 0x41 && code <= 0x5a)) return 0;
    if (code === 0x20 || (code >= 0x09 && code <= 0x0d)) return 1;
    if (code >= 0x30 && code <= 0x39) return 2;
    return 3;
  }
  const char = String.fromCharCode(code);
  if (LETTER.test(char)) return 0;
  if (SPACE.test(char)) return 1;
  return DIGIT.test(char) ? 2 : 3;
}

const isLowSurrogate = (code: number) => code >= 0xdc00 && code <= 0xdfff;

/** The text cut so that no run of one kind is longer than `maxRun`; one piece (the text itself) when none is. */
export function boundedPieces(text: string, maxRun = MAX_RUN): string[] {
  const pieces: string[] = [];
  let start = 0;
  let kind = -1;
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const k = kindOf(code);
    if (k !== kind) {
      kind = k;
      run = 0;
    }
    run++;
    // Never between the halves of a surrogate pair: the cut moves one code unit on.
    if (run > maxRun && k !== 2 && !isLowSurrogate(code)) {
      pieces.push(text.slice(start, i));
      start = i;
      run = 1;
    }
  }
  pieces.push(start === 0 ? text : text.slice(start));
  return pieces;
}

/** A counter whose cost is linear in the text's length, whatever the text: pathological runs are counted in pieces. */
export function boundedCounter(count: TextCounter): TextCounter {
  return (text) => {
    if (text.length <= MAX_RUN) return count(text);
    let total = 0;
    for (const piece of boundedPieces(text)) total += count(piece);
    return total;
  };
}

let counter: TextCounter | undefined;
let loading: Promise<TextCounter> | undefined;

/**
 * Loads the o200k_base tables once (about half a second); later calls return at once. The counter
 * is bounded ({@link boundedCounter}); the route runs it on its own thread (./token-worker.ts).
 */
export function loadTokenizer(): Promise<TextCounter> {
  if (counter) return Promise.resolve(counter);
  loading ??= import("gpt-tokenizer/encoding/o200k_base").then((mod) => {
    // Text that contains "<|endoftext|>" and the like is counted as text, not refused.
    const noSpecial = { disallowedSpecial: new Set<string>() };
    counter = boundedCounter((text: string) => (text === "" ? 0 : mod.countTokens(text, noSpecial)));
    return counter;
  });
  return loading;
}

/** Estimates the input tokens of a Messages (or count_tokens) request with o200k_base. */
export async function countInputTokens(request: CountTokensRequest): Promise<number> {
  return countInputTokensWith(request, await loadTokenizer());
}

/** The same estimate with any text counter; pure and synchronous. */
export function countInputTokensWith(request: CountTokensRequest, count: TextCounter): number {
  let total = 0;
  if (typeof request.system === "string") total += count(request.system);
  else if (request.system) for (const block of request.system) total += count(block.text);

  for (const message of request.messages) {
    total += MESSAGE_OVERHEAD_TOKENS;
    if (typeof message.content === "string") total += count(message.content);
    else for (const block of message.content) total += countBlock(block, count);
  }

  const tools = request.tools ?? [];
  if (tools.length > 0) {
    const choice = request.tool_choice?.type;
    total += choice === "any" || choice === "tool" ? TOOL_PREAMBLE_TOKENS.anyOrTool : TOOL_PREAMBLE_TOKENS.autoOrNone;
    for (const tool of tools) {
      total += count(JSON.stringify({ name: tool.name, description: tool.description ?? "", input_schema: tool.input_schema ?? {} }));
    }
  }
  return total;
}

function countBlock(block: ContentBlock, count: TextCounter): number {
  switch (block.type) {
    case "text":
      return count(block.text);
    case "image":
      return IMAGE_TOKEN_ESTIMATE;
    case "tool_use":
      return count(block.name) + count(JSON.stringify(block.input));
    case "tool_result": {
      if (block.content === undefined) return 0;
      if (typeof block.content === "string") return count(block.content);
      let sum = 0;
      for (const part of block.content)
        sum += part.type === "text" ? count(part.text) : part.type === "image" ? IMAGE_TOKEN_ESTIMATE : count(JSON.stringify(part));
      return sum;
    }
    case "thinking":
    case "redacted_thinking":
      return 0;
    // Replayed search calls and results, and supplied sources: their JSON, a fair estimate of the text they carry.
    case "server_tool_use":
    case "web_search_tool_result":
    case "document":
    case "search_result":
      return count(JSON.stringify(block));
  }
}
