/**
 * `GET /responses/{id}/input_items`: a stored response's input items as OpenAI lists them,
 * each a full item with an id (a message's string content as one `input_text` part), paged
 * by `order`, `after` and `limit`.
 */
import { itemType } from "./input";
import type { InputItem } from "./types";

export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 100;

export interface ItemPage {
  object: "list";
  data: InputItem[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

export interface PageQuery {
  order: "asc" | "desc";
  after?: string;
  limit: number;
}

const PREFIXES: Record<string, string> = { message: "msg", function_call: "fc", function_call_output: "fco", reasoning: "rs" };

/**
 * An input item as listed: its own id, or one derived from the response id and its position
 * (stable across calls, so `after` works); a message always typed and its content in parts.
 */
export function listedItem(item: InputItem, responseId: string, index: number): InputItem {
  const type = itemType(item);
  const id = typeof item.id === "string" && item.id !== "" ? item.id : `${PREFIXES[type] ?? "item"}_${responseId.replace(/^resp_/, "")}${index.toString(36)}`;
  if (type !== "message") return { ...item, id };
  const part = item.role === "assistant" ? "output_text" : "input_text";
  const content = typeof item.content === "string" ? [{ type: part, text: item.content }] : item.content;
  return { ...item, type: "message", id, content };
}

/** One page of `items` (in the order they were given) per the query; `after` names an item id of this list. */
export function pageOf(items: readonly unknown[], responseId: string, query: PageQuery): ItemPage {
  const listed = items.map((item, index) => listedItem(item as InputItem, responseId, index));
  if (query.order === "desc") listed.reverse();
  let start = 0;
  if (query.after !== undefined) {
    const at = listed.findIndex((item) => item.id === query.after);
    start = at === -1 ? listed.length : at + 1;
  }
  const data = listed.slice(start, start + query.limit);
  return {
    object: "list",
    data,
    first_id: (data[0]?.id as string | undefined) ?? null,
    last_id: (data.at(-1)?.id as string | undefined) ?? null,
    has_more: start + query.limit < listed.length,
  };
}
