/**
 * Copilot's own meter on an answer: `copilot_usage: { total_nano_aiu, token_details: [...] }`
 * (1 AI credit = 1e9 nano-AIU). The same block on every protocol: a chat body or its usage
 * chunk, a Responses body or the top level of its terminal event, an Anthropic message or its
 * stream events. Absent on older backends: the draft's cost stays null (unknown, never zero).
 */

/** token_details kept per event at most: entries, and characters of a string in one. */
const MAX_DETAILS = 16;
const MAX_DETAIL_TEXT = 64;

/** Where a cost is noted: an event's draft. */
interface CostFields {
  costNanoAiu: number | null;
  tokenDetails: string | null;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** Copilot's token_details, compact and bounded: each entry's numbers and short strings, nothing nested. */
function compactDetails(details: unknown): string | null {
  if (!Array.isArray(details)) return null;
  // Plain loops: this runs for every answer that carries a cost.
  const kept: Record<string, string | number>[] = [];
  for (let i = 0; i < details.length && i < MAX_DETAILS; i++) {
    const entry: unknown = details[i];
    if (!isRecord(entry)) continue;
    let fields: Record<string, string | number> | undefined;
    for (const name in entry) {
      const value = entry[name];
      if (name.length > MAX_DETAIL_TEXT || (typeof value !== "number" && typeof value !== "string")) continue;
      fields ??= {};
      fields[name] = typeof value === "string" ? value.slice(0, MAX_DETAIL_TEXT) : value;
    }
    if (fields) kept.push(fields);
  }
  return kept.length > 0 ? JSON.stringify(kept) : null;
}

/** Reads `holder.copilot_usage` into the draft; true when a cost was found. */
export function noteCost(draft: CostFields, holder: unknown): boolean {
  if (!isRecord(holder) || !isRecord(holder.copilot_usage)) return false;
  const { total_nano_aiu: total, token_details: details } = holder.copilot_usage;
  if (typeof total !== "number" || !Number.isFinite(total) || total < 0) return false;
  draft.costNanoAiu = Math.round(total);
  draft.tokenDetails = compactDetails(details);
  return true;
}

/**
 * The last `copilot_usage` in a stream's tail, else its head: found by searching back for the
 * name, and only the `data:` line holding it parsed (a 32 KB tail is not split). The head is
 * decoded only when the tail has none.
 */
export function noteStreamCost(draft: CostFields, ends: { readonly tail: string; readonly head: string }): void {
  if (!noteCostIn(draft, ends.tail)) noteCostIn(draft, ends.head);
}

/** The last `copilot_usage` of one SSE text into the draft; true when one was found. */
function noteCostIn(draft: CostFields, text: string): boolean {
  const NAME = '"copilot_usage"';
  for (let at = text.lastIndexOf(NAME); at >= 0; at = at > 0 ? text.lastIndexOf(NAME, at - 1) : -1) {
    const start = text.lastIndexOf("\n", at) + 1;
    const end = text.indexOf("\n", at);
    const line = text.slice(start, end < 0 ? undefined : end);
    if (!line.startsWith("data:")) continue;
    try {
      if (noteCost(draft, JSON.parse(line.slice(5)))) return true;
    } catch {
      // cut by the head/tail window: look further back
    }
    at = start; // the rest of this line was read
  }
  return false;
}
