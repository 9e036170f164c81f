import { type AuditLog, type AuditQueryInput, type AuditRow, readAudit } from "~/features/audit";
import { creditsOf, usdOf } from "~/lib/credits";
import type { EventCursor, EventLine, EventPages, ExportFilter } from "./queries";

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
 * Rows as CSV, read a page at a time as the client reads: `next` is called
 * only when the previous page was taken, so a slow client or a million rows
 * never sit in memory. `next` gets the last row of the previous page (keyset).
 */
function pagedCsv<T>(header: string[], next: (last: T | undefined) => Promise<T[]>, line: (row: T) => string): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let last: T | undefined;
  let started = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!started) {
          started = true;
          controller.enqueue(encoder.encode(csvLine(header)));
          return;
        }
        const rows = await next(last);
        if (rows.length > 0) {
          last = rows.at(-1)!;
          controller.enqueue(encoder.encode(rows.map(line).join("")));
        }
        if (rows.length < EXPORT_PAGE_ROWS) controller.close();
      },
    },
    { highWaterMark: 1 },
  );
}

/** Events as CSV, by keyset (time, id). */
export function eventsCsv(events: EventPages, filter: ExportFilter): ReadableStream<Uint8Array> {
  const page = (last: EventLine | undefined) => {
    const cursor: EventCursor | undefined = last && { ts: last.ts, id: last.id };
    return events.exportPage(filter, cursor, EXPORT_PAGE_ROWS);
  };
  return pagedCsv(HEADER, page, eventLine);
}

const AUDIT_HEADER = ["time", "action", "actor_kind", "actor", "address", "user_agent", "target", "before", "after"];

const json = (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value));

const auditLine = (r: AuditRow) =>
  csvLine([new Date(r.ts).toISOString(), r.action, r.actorKind, r.actor, r.address, r.userAgent, r.target, json(r.before), json(r.after)]);

/** The audit log as CSV, newest first, by id; the filters are checked before the first byte (readAudit throws). */
export async function auditCsv(audit: AuditLog, input: AuditQueryInput, now: number): Promise<ReadableStream<Uint8Array>> {
  const first = await readAudit(audit, { ...input, limit: EXPORT_PAGE_ROWS }, now);
  const page = async (last: AuditRow | undefined) => (last ? readAudit(audit, { ...input, limit: EXPORT_PAGE_ROWS, beforeId: last.id }, now) : first);
  return pagedCsv(AUDIT_HEADER, page, auditLine);
}

/** The headers of a CSV download named by what it holds and when it was taken. */
export function csvDownload(what: "events" | "audit", now: number): Record<string, string> {
  const stamp = new Date(now).toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-");
  return {
    "content-type": "text/csv; charset=utf-8",
    "content-disposition": `attachment; filename="copilot-api-${what}-${stamp}.csv"`,
    "cache-control": "no-store",
  };
}
