import { Hono } from "hono";
import type { Store } from "~/db";
import { EVENT_ERRORS, type EventError } from "~/db/schema";
import { listKeys } from "~/features/keys";
import type { DashboardEnv } from "../env";
import { EventsPage } from "../pages/events";
import { render } from "../pages/layout";
import { type EventCursor, type EventFilter, recentEvents, STATUS_CLASSES, type StatusClass } from "../queries";
import { type Dashboard, queryValue } from "./context";

const EVENTS_PER_PAGE = 50;

function recentEventsPage(store: Store, filter: EventFilter, cursor: EventCursor | undefined) {
  const rows = recentEvents(store.db, filter, cursor, EVENTS_PER_PAGE + 1);
  const page = rows.slice(0, EVENTS_PER_PAGE);
  const last = page.at(-1);
  return { page, older: rows.length > EVENTS_PER_PAGE && last ? `${last.ts}.${last.id}` : undefined };
}

/** /events: the newest requests first, filtered, paged by keyset. */
export function eventsRoutes(d: Dashboard) {
  const { store } = d;
  return new Hono<DashboardEnv>().get("/events", d.page, (c) => {
    const status = c.req.query("status");
    const error = c.req.query("error");
    const filter: EventFilter = {
      keyId: queryValue(c, "key", 64),
      statusClass: (STATUS_CLASSES as readonly string[]).includes(status ?? "") ? (status as StatusClass) : undefined,
      error: error === "none" || (EVENT_ERRORS as readonly string[]).includes(error ?? "") ? (error as EventError | "none") : undefined,
    };
    const before = c.req.query("before")?.match(/^(\d{1,15})\.(\d{1,15})$/);
    const cursor: EventCursor | undefined = before ? { ts: Number(before[1]), id: Number(before[2]) } : undefined;
    const rows = recentEventsPage(store, filter, cursor);
    const keys = listKeys(store.db, { includeRevoked: true }).map((k) => k.id);
    if (filter.keyId && !keys.includes(filter.keyId)) keys.push(filter.keyId);
    return render(
      c,
      <EventsPage
        session={c.get("session")}
        rows={rows.page}
        filter={filter}
        keys={keys}
        older={rows.older}
        paged={cursor !== undefined}
        query={new URL(c.req.url).searchParams}
      />,
    );
  });
}
