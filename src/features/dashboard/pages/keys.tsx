import type { KeyRow } from "~/features/keys";
import type { Session } from "../env";
import { num, utc } from "./format";
import { Csrf, Layout } from "./layout";

export interface KeyForm {
  tier: string;
  label: string;
  models: string;
  rateLimit: string;
}

export const EMPTY_FORM: KeyForm = { tier: "client", label: "", models: "", rateLimit: "" };

export interface KeysView {
  session: Session;
  rows: KeyRow[];
  showAll: boolean;
  /** Right after a create: the secret, shown this once. */
  created?: { row: KeyRow; secret: string };
  /** The create form refused: what was wrong and what to do, with the values to fix. */
  formError?: string;
  form: KeyForm;
  notice?: string;
}

/** To the minute: the table stays narrow enough for a laptop. */
const minute = (at: number | null) => utc(at).slice(0, 16);

const status = (row: KeyRow, now: number) =>
  row.revokedAt !== null ? `revoked ${utc(row.revokedAt)}` : row.expiresAt !== null && row.expiresAt <= now ? `expired ${utc(row.expiresAt)}` : "active";

export function KeysPage(v: KeysView) {
  const now = Date.now();
  return (
    <Layout title="Keys" session={v.session} section="keys">
      <div class="heading">
        <h1>Keys</h1>
        <nav class="windows" aria-label="which keys">
          <a href="/dashboard/keys" aria-current={v.showAll ? undefined : "true"}>
            active
          </a>
          <a href="/dashboard/keys?all=1" aria-current={v.showAll ? "true" : undefined}>
            all
          </a>
        </nav>
      </div>
      {v.notice ? (
        <p class="notice" role="status">
          {v.notice}
        </p>
      ) : null}
      {v.created ? (
        <section class="panel secret" data-secret-once>
          <h2>
            Created {v.created.row.tier} key {v.created.row.id}
            {v.created.row.label ? ` (${v.created.row.label})` : ""}
          </h2>
          <p>This secret is shown only this once: copy it now. Only its SHA-256 is stored, so nobody can show it again.</p>
          <div class="copy-row">
            <code id="new-secret">{v.created.secret}</code>
            <button type="button" data-copy="new-secret">
              Copy
            </button>
          </div>
        </section>
      ) : null}

      <div class="table-wrap">
        <table data-table="keys">
          <caption>{v.showAll ? "All keys" : "Active keys"} (secrets are never shown)</caption>
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Tier</th>
              <th scope="col">Label</th>
              <th scope="col">Models</th>
              <th scope="col" class="num">
                Rate/min
              </th>
              <th scope="col" class="num">
                Premium/month
              </th>
              <th scope="col">Expires</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Status</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {v.rows.length === 0 ? (
              <tr>
                <td colspan={11} class="empty">
                  No keys yet.
                </td>
              </tr>
            ) : (
              v.rows.map((row) => (
                <tr data-key={row.id}>
                  <th scope="row">
                    <code>{row.id}</code>
                  </th>
                  <td>{row.tier}</td>
                  <td>{row.label || "–"}</td>
                  <td>{row.allowedModels.join(", ")}</td>
                  <td class="num">{num(row.rateLimit)}</td>
                  <td class="num">{num(row.premiumQuota)}</td>
                  <td>{row.expiresAt === null ? "never" : utc(row.expiresAt)}</td>
                  <td>{minute(row.createdAt)}</td>
                  <td>{minute(row.lastUsedAt)}</td>
                  <td>{status(row, now)}</td>
                  <td>
                    {row.revokedAt === null ? (
                      <a class="danger" href={`/dashboard/keys/${row.id}/revoke`}>
                        Revoke…
                      </a>
                    ) : null}
                  </td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>

      <section class="panel">
        <h2>Create a key</h2>
        {v.formError ? (
          <p class="error" role="alert">
            {v.formError}
          </p>
        ) : null}
        <form method="post" action="/dashboard/keys" class="grid-form">
          <Csrf session={v.session} />
          <label>
            Tier
            <select name="tier">
              <option value="client" selected={v.form.tier !== "admin"}>
                client: calls the API
              </option>
              <option value="admin" selected={v.form.tier === "admin"}>
                admin: also /admin and this dashboard
              </option>
            </select>
          </label>
          <label>
            Label
            <input name="label" maxlength={200} value={v.form.label} placeholder="who or what uses it" />
          </label>
          <label>
            Models
            <input name="models" maxlength={1000} value={v.form.models} placeholder="every model; or gpt-4o,claude-*" />
          </label>
          <label>
            Rate limit (requests/min)
            <input name="rateLimit" inputmode="numeric" maxlength={10} value={v.form.rateLimit} placeholder="unlimited" />
          </label>
          <button type="submit" class="primary">
            Create key
          </button>
        </form>
      </section>
    </Layout>
  );
}

/** Revoking asks first: a page of its own, so it works without JavaScript. */
export function RevokePage(props: { session: Session; row: KeyRow }) {
  const own = props.row.id === props.session.keyId;
  return (
    <Layout title="Revoke key" session={props.session} section="keys">
      <section class="panel narrow">
        <h1>Revoke {props.row.id}?</h1>
        <p>
          {props.row.tier} key{props.row.label ? ` “${props.row.label}”` : ""}, created {utc(props.row.createdAt)}, last used {utc(props.row.lastUsedAt)}.
        </p>
        <p>A revoked key is refused from its next request, and its dashboard sessions end. This cannot be undone: the holder needs a new key.</p>
        {own ? <p class="error">This is the key you signed in with: revoking it signs you out.</p> : null}
        <form method="post" action={`/dashboard/keys/${props.row.id}/revoke`} class="actions">
          <Csrf session={props.session} />
          <button type="submit" class="danger-button">
            Revoke {props.row.id}
          </button>
          <a href="/dashboard/keys">Cancel</a>
        </form>
      </section>
    </Layout>
  );
}
