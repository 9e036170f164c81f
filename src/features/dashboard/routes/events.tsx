import { Hono } from "hono";
import { EVENT_ERRORS, type EventError } from "~/db/schema";
import type { DashboardEnv } from "../env";
import { EventsPage } from "../pages/events";
import { render } from "../pages/layout";
import { type EventCursor, type EventFilter, type EventPages, STATUS_CLASSES, type StatusClass } from "../queries";
import { type Dashboard, queryValue } from "./context";

const EVENTS_PER_PAGE = 50;

async function recentEventsPage(events: EventPages, filter: EventFilter, cursor: EventCursor | undefined) {
  const rows = await events.recent(filter, cursor, EVENTS_PER_PAGE + 1);
  const page = rows.slice(0, EVENTS_PER_PAGE);
  const last = page.at(-1);
  return { page, older: rows.length > EVENTS_PER_PAGE && last ? `${last.ts}.${last.id}` : undefined };
}

/** /events: the newest requests first, filtered, paged by keyset. */
export function eventsRoutes(d: Dashboard) {
  const { store } = d;
  return new Hono<DashboardEnv>().get("/events", d.page, async (c) => {
    const status = c.req.query("status");
    const error = c.req.query("error");
    const filter: EventFilter = {
      keyId: queryValue(c, "key", 64),
      statusClass: (STATUS_CLASSES as readonly string[]).includes(status ?? "") ? (status as StatusClass) : undefined,
      error: error === "none" || (EVENT_ERRORS as readonly string[]).includes(error ?? "") ? (error as EventError | "none") : undefined,
    };
    const before = c.req.query("before")?.match(/^(\d{1,15})\.(\d{1,15})$/);
    const cursor: EventCursor | undefined = before ? { ts: Number(before[1]), id: Number(before[2]) } : undefined;
    const rows = await recentEventsPage(store.events, filter, cursor);
    const keys = (await store.keys.list(true)).map((k) => k.id);
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
