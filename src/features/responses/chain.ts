import type { StoredResponse } from "./queries";
import { type ChainSource, StoredResponses } from "./stored";

/** Longest chain walked; a longer one (or a cycle) is cut here rather than looping. */
export const MAX_CHAIN_LENGTH = 10_000;

export type Expansion =
  /** `credentialId`: the seat that answered the newest link, where the conversation continues. */
  | { items: unknown[]; turns: number; credentialId: string | null }
  | { missing: string }
  /** A link was too large to store: only a note of its size was kept. */
  | { notStored: { id: string; bytes: number } }
  /** The links read so far already take more than the budget: at least `bytes`, in `turns` links. */
  | { tooLarge: { bytes: number; turns: number } };

/**
 * The conversation `previous_response_id` names, as the input items it stands for: every
 * response of the chain, oldest first, its input items and then its output items. Copilot
 * remembers nothing between requests, so this is what goes upstream before the new input.
 * Every link must exist and belong to `keyId`; the first one that does not is `missing`
 * (one key can never read or continue another key's conversation). Reasoning items without
 * `encrypted_content` are left out: they stand for reasoning kept on OpenAI's servers, which
 * no upstream here can resolve.
 *
 * `budgetBytes` bounds the history, in bytes of the links' stored JSON: the links are read one
 * at a time, newest first, and the walk stops at the first that takes the total past it, so a
 * hostile chain costs at most the budget and one link of memory.
 */
export function expandChain(stored: ChainSource, keyId: string, id: string, budgetBytes = Number.POSITIVE_INFINITY): Expansion {
  const links: StoredResponse[] = [];
  const seen = new Set<string>();
  let bytes = 0;
  let cursor: string | null = id;
  while (cursor !== null && !seen.has(cursor) && links.length < MAX_CHAIN_LENGTH) {
    const found = stored.find(cursor, keyId);
    if (!found) return { missing: cursor };
    if (found.omittedBytes !== undefined) return { notStored: { id: cursor, bytes: found.omittedBytes } };
    bytes += StoredResponses.sizeOf(found);
    if (bytes > budgetBytes) return { tooLarge: { bytes, turns: links.length + 1 } };
    seen.add(cursor);
    links.push(found);
    cursor = found.previousResponseId;
  }
  const credentialId = links[0]?.credentialId ?? null;
  const items: unknown[] = [];
  for (const link of links.reverse()) {
    items.push(...link.input);
    const output = Array.isArray(link.response.output) ? link.response.output : [];
    for (const item of output) if (carried(item)) items.push(item);
  }
  return { items, turns: links.length, credentialId };
}

function carried(item: unknown): boolean {
  if (typeof item !== "object" || item === null) return false;
  const { type, encrypted_content } = item as { type?: unknown; encrypted_content?: unknown };
  return type !== "reasoning" || (typeof encrypted_content === "string" && encrypted_content !== "");
}
