import type { Context } from "hono";
import { Hono } from "hono";
import { apiError } from "~/lib/api-error";
import { AppError, describeError } from "~/lib/errors";
import { parseSince } from "~/lib/since";
import { csvDownload, eventsCsv } from "../csv";
import type { DashboardEnv } from "../env";
import type { EventPages } from "../queries";
import { type Dashboard, queryValue } from "./context";

/** The CSV export, for a session (/dashboard/events.csv) or an admin key (/admin/events.csv): one handler. */
export function exportCsv(c: Context, events: EventPages, now: number): Response {
  let since: number;
  try {
    since = parseSince(queryValue(c, "since") ?? "24h", now);
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    return apiError(c, 400, { message: describeError(error), type: "invalid_request_error", code: "invalid_query", param: "since" });
  }
  return c.body(eventsCsv(events, { since, keyId: queryValue(c, "key", 64) }), 200, csvDownload("events", now));
}

/** GET /dashboard/events.csv: the same export for a signed-in session. */
export function dashboardEventsCsv(d: Dashboard) {
  return new Hono<DashboardEnv>().get("/events.csv", d.data, (c) => exportCsv(c, d.store.events, d.now()));
}
