import type { StoredResponse } from "./queries";
import type { StoredResponses } from "./stored";

/** Longest chain walked; a longer one (or a cycle) is cut here rather than looping. */
export const MAX_CHAIN_LENGTH = 10_000;

export type Expansion = { items: unknown[]; turns: number } | { missing: string };

/**
 * The conversation `previous_response_id` names, as the input items it stands for: every
 * response of the chain, oldest first, its input items and then its output items. Copilot
 * remembers nothing between requests, so this is what goes upstream before the new input.
 * Every link must exist and belong to `keyId`; the first one that does not is `missing`
 * (one key can never read or continue another key's conversation). Reasoning items without
 * `encrypted_content` are left out: they stand for reasoning kept on OpenAI's servers, which
 * no upstream here can resolve.
 */
export function expandChain(stored: StoredResponses, keyId: string, id: string): Expansion {
  const links: StoredResponse[] = [];
  const seen = new Set<string>();
  let cursor: string | null = id;
  while (cursor !== null && !seen.has(cursor) && links.length < MAX_CHAIN_LENGTH) {
    const found = stored.find(cursor, keyId);
    if (!found) return { missing: cursor };
    seen.add(cursor);
    links.push(found);
    cursor = found.previousResponseId;
  }
  const items: unknown[] = [];
  for (const link of links.reverse()) {
    items.push(...link.input);
    const output = Array.isArray(link.response.output) ? link.response.output : [];
    for (const item of output) if (carried(item)) items.push(item);
  }
  return { items, turns: links.length };
}

function carried(item: unknown): boolean {
  if (typeof item !== "object" || item === null) return false;
  const { type, encrypted_content } = item as { type?: unknown; encrypted_content?: unknown };
  return type !== "reasoning" || (typeof encrypted_content === "string" && encrypted_content !== "");
}
