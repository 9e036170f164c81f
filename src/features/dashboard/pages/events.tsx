import { EVENT_ERRORS } from "~/db/schema";
import type { Session } from "../env";
import { type EventFilter, type EventLine, STATUS_CLASSES } from "../queries";
import { ms, num, utc } from "./format";
import { Layout } from "./layout";
import { linkWith } from "./links";

export interface EventsView {
  session: Session;
  rows: EventLine[];
  filter: EventFilter;
  keys: string[];
  /** The `before` cursor of the next (older) page, when there is one. */
  older?: string;
  /** This is not the first page. */
  paged: boolean;
  query: URLSearchParams;
}

export function EventsPage(v: EventsView) {
  const exportQuery = new URLSearchParams({ since: "7d" });
  if (v.filter.keyId) exportQuery.set("key", v.filter.keyId);
  return (
    <Layout title="Events" session={v.session} section="events">
      <div class="heading">
        <h1>Recent events</h1>
        <a class="button" href={`/dashboard/events.csv?${exportQuery}`} download>
          Export CSV (7 days)
        </a>
      </div>
      <form class="filters" method="get" action="/dashboard/events">
        <label>
          Key
          <select name="key" data-autosubmit>
            <option value="">all keys</option>
            {v.keys.map((id) => (
              <option value={id} selected={id === v.filter.keyId}>
                {id}
              </option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select name="status" data-autosubmit>
            <option value="">any status</option>
            {STATUS_CLASSES.map((s) => (
              <option value={s} selected={s === v.filter.statusClass}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Error
          <select name="error" data-autosubmit>
            <option value="">any</option>
            <option value="none" selected={v.filter.error === "none"}>
              none
            </option>
            {EVENT_ERRORS.map((e) => (
              <option value={e} selected={e === v.filter.error}>
                {e}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Apply</button>
      </form>
      <div class="table-wrap">
        <table data-table="events">
          <caption>Newest first, times in UTC</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Key</th>
              <th scope="col">Route</th>
              <th scope="col">Model</th>
              <th scope="col" class="num">
                Status
              </th>
              <th scope="col" class="num">
                Latency
              </th>
              <th scope="col">Error</th>
              <th scope="col" class="num">
                Prompt
              </th>
              <th scope="col" class="num">
                Completion
              </th>
              <th scope="col" class="num">
                Cached
              </th>
            </tr>
          </thead>
          <tbody>
            {v.rows.length === 0 ? (
              <tr>
                <td colspan={10} class="empty">
                  No events match.
                </td>
              </tr>
            ) : (
              v.rows.map((e) => (
                <tr class={e.status >= 400 ? "failed" : undefined}>
                  <td class="nowrap">{utc(e.ts)}</td>
                  <td>
                    <code>{e.keyId}</code>
                  </td>
                  <td class="text">{e.route}</td>
                  <td class="text">{e.model ?? "–"}</td>
                  <td class="num">{e.status}</td>
                  <td class="num">{ms(e.latencyMs)}</td>
                  <td>{e.error ?? ""}</td>
                  <td class="num">{num(e.promptTokens)}</td>
                  <td class="num">{num(e.completionTokens)}</td>
                  <td class="num">{num(e.cacheReadTokens)}</td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
      <nav class="pager" aria-label="pages">
        {v.paged ? <a href={linkWith("/dashboard/events", v.query, { before: undefined })}>← Newest</a> : <span />}
        {v.older ? <a href={linkWith("/dashboard/events", v.query, { before: v.older })}>Older →</a> : null}
      </nav>
    </Layout>
  );
}
