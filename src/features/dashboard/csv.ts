import type { Store } from "~/db";
import { creditsOf, usdOf } from "~/lib/credits";
import { type EventCursor, type EventLine, exportPage } from "./queries";

/** Rows read per page of the export: memory stays at one page whatever the export's size. */
export const EXPORT_PAGE_ROWS = 1000;

const HEADER = [
  "time",
  "key_id",
  "route",
  "model",
  "upstream_model",
  "stream",
  "status",
  "latency_ms",
  "error",
  "prompt_tokens",
  "completion_tokens",
  "cache_read_tokens",
  "cache_creation_tokens",
  "reasoning_tokens",
  "initiator",
  "cost_nano_aiu",
  "credits",
  "usd",
  "token_details",
  "premium_requests_legacy",
];

/**
 * One CSV cell (RFC 4180). Text a spreadsheet would read as a formula, starting
 * with = + - @ (or a tab or carriage return, which some strip first), gets a
 * leading apostrophe, so an exported model name like `=HYPERLINK(…)` stays text.
 */
export function csvCell(value: string | number | boolean | null): string {
  if (value === null) return "";
  if (typeof value !== "string") return String(value);
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const csvLine = (cells: (string | number | boolean | null)[]) => `${cells.map(csvCell).join(",")}\r\n`;

function eventLine(e: EventLine): string {
  return csvLine([
    new Date(e.ts).toISOString(),
    e.keyId,
    e.route,
    e.model,
    e.upstreamModel,
    e.stream,
    e.status,
    e.latencyMs,
    e.error,
    e.promptTokens,
    e.completionTokens,
    e.cacheReadTokens,
    e.cacheCreationTokens,
    e.reasoningTokens,
    e.initiator,
    // Unknown stays empty, never 0: Copilot sent no cost for it.
    e.costNanoAiu,
    e.costNanoAiu === null ? null : creditsOf(e.costNanoAiu),
    e.costNanoAiu === null ? null : usdOf(e.costNanoAiu),
    e.tokenDetails,
    e.premiumRequests,
  ]);
}

/**
 * Events as CSV, read a page at a time by keyset (time, id) as the client
 * reads: a page is fetched only when the previous one was taken, so a slow
 * client or a million rows never sit in memory.
 */
export function eventsCsv(store: Store, filter: { since: number; keyId?: string }): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let cursor: EventCursor | undefined;
  let started = false;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (!started) {
          started = true;
          controller.enqueue(encoder.encode(csvLine(HEADER)));
          return;
        }
        const rows = exportPage(store.db, filter, cursor, EXPORT_PAGE_ROWS);
        if (rows.length > 0) {
          const last = rows.at(-1)!;
          cursor = { ts: last.ts, id: last.id };
          controller.enqueue(encoder.encode(rows.map(eventLine).join("")));
        }
        if (rows.length < EXPORT_PAGE_ROWS) controller.close();
      },
    },
    { highWaterMark: 1 },
  );
}
