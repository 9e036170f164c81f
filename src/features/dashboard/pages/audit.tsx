import { AUDIT_ACTIONS } from "~/db/schema";
import type { AuditRow } from "~/features/audit";
import type { Session } from "../env";
import { utc } from "./format";
import { ErrorNote } from "./keys";
import { Layout } from "./layout";
import { linkWith } from "./links";

export interface AuditView {
  session: Session;
  rows: AuditRow[];
  filter: { since: string; key?: string; action?: string };
  keys: string[];
  /** The `before` id of the next (older) page, when there is one. */
  older?: number;
  paged: boolean;
  query: URLSearchParams;
  /** A filter the log refused (a bad time or action), with its remedy. */
  error?: { message: string; hint?: string };
}

/** before/after as one short line: the full JSON is in the CSV, /admin/audit and `audit --json`. */
const brief = (value: unknown) => (value === null || value === undefined ? "" : JSON.stringify(value).slice(0, 160));

export function AuditPage(v: AuditView) {
  const exportQuery = new URLSearchParams({ since: v.filter.since });
  if (v.filter.key) exportQuery.set("key", v.filter.key);
  if (v.filter.action) exportQuery.set("action", v.filter.action);
  return (
    <Layout title="Audit log" session={v.session} section="audit">
      <div class="heading">
        <h1>Audit log</h1>
        <a class="button" href={`/dashboard/audit.csv?${exportQuery}`} download>
          Export CSV
        </a>
      </div>
      <form class="filters" method="get" action="/dashboard/audit">
        <label>
          Since
          <input name="since" value={v.filter.since} maxlength={40} placeholder="24h, 7d or 2026-11-01" />
        </label>
        <label>
          Key
          <select name="key" data-autosubmit>
            <option value="">all keys and users</option>
            {v.keys.map((id) => (
              <option value={id} selected={id === v.filter.key}>
                {id}
              </option>
            ))}
          </select>
        </label>
        <label>
          Action
          <select name="action" data-autosubmit>
            <option value="">any action</option>
            {AUDIT_ACTIONS.map((a) => (
              <option value={a} selected={a === v.filter.action}>
                {a}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Apply</button>
      </form>
      {v.error ? <ErrorNote error={v.error} /> : null}
      <div class="table-wrap">
        <table data-table="audit">
          <caption>Newest first, times in UTC</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Action</th>
              <th scope="col">Actor</th>
              <th scope="col">From</th>
              <th scope="col">Target</th>
              <th scope="col">Before</th>
              <th scope="col">After</th>
            </tr>
          </thead>
          <tbody>
            {v.rows.length === 0 ? (
              <tr>
                <td colspan={7} class="empty">
                  No audit entries match.
                </td>
              </tr>
            ) : (
              v.rows.map((r) => (
                <tr>
                  <td class="nowrap">{utc(r.ts)}</td>
                  <td>{r.action}</td>
                  <td>
                    <code>{`${r.actorKind}:${r.actor}`}</code>
                  </td>
                  <td class="text" title={r.userAgent ?? undefined}>
                    {r.address ?? "–"}
                  </td>
                  <td>{r.target ? <code>{r.target}</code> : "–"}</td>
                  <td class="text clamp">{brief(r.before)}</td>
                  <td class="text clamp">{brief(r.after)}</td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
      <nav class="pager" aria-label="pages">
        {v.paged ? <a href={linkWith("/dashboard/audit", v.query, { before: undefined })}>← Newest</a> : <span />}
        {v.older ? <a href={linkWith("/dashboard/audit", v.query, { before: String(v.older) })}>Older →</a> : null}
      </nav>
    </Layout>
  );
}
