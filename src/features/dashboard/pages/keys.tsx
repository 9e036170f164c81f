import type { KeyRow } from "~/features/keys";
import type { Session } from "../env";
import { num, utc } from "./format";
import { Csrf, Layout } from "./layout";

/** A key's settings as the forms hold them: text, read by the keys feature's parseKeySettings (the CLI's flags). */
export interface SettingsForm {
  label: string;
  models: string;
  rateLimit: string;
  premiumQuota: string;
  budget: string;
  expires: string;
}

export interface KeyForm extends SettingsForm {
  tier: string;
}

export const EMPTY_FORM: KeyForm = { tier: "client", label: "", models: "", rateLimit: "", premiumQuota: "", budget: "", expires: "" };

/** A refused form: the AppError's message and, when it has one, what to do. */
export interface FormError {
  message: string;
  hint?: string;
  /** The input the error is about (the parser's FieldError said so): marked, and the message shown beside it. */
  field?: keyof KeyForm;
}

export interface KeysView {
  session: Session;
  rows: KeyRow[];
  showAll: boolean;
  /** Right after a create: the secret, shown this once. */
  created?: { row: KeyRow; secret: string };
  /** Premium requests each key used this calendar month (UTC). */
  premiumUsed: Map<string, number>;
  /** The create form refused: what was wrong and what to do, with the values to fix. */
  formError?: FormError;
  form: KeyForm;
  notice?: string;
}

/** To the minute: the table stays narrow enough for a laptop. */
const minute = (at: number | null) => utc(at).slice(0, 16);

/** Long labels and model lists wrap, at most a few lines; the whole text is in the tooltip. */
const Clamped = ({ text }: { text: string }) => (
  <span class="clamp" title={text}>
    {text}
  </span>
);

/** Premium requests are fractional (multipliers like 0.33): two decimals, like `keys list`. */
const premium = (n: number) => num(Math.round(n * 100) / 100);

/** `12.5 of 300` this month, or just what was used when the key has no quota. */
function PremiumCell({ used, quota }: { used: number; quota: number | null }) {
  if (quota === null) return <td class="num">{premium(used)}</td>;
  return (
    <td class={used >= quota ? "num error" : "num"} title={used >= quota ? "quota reached: refused (429) until the 1st" : undefined}>
      {premium(used)} of {num(quota)}
    </td>
  );
}

/** A refusal shown above a form or a table: what happened, and the remedy. */
export function ErrorNote({ error }: { error: Pick<FormError, "message" | "hint"> }) {
  return (
    <div class="form-error" role="alert">
      <p class="error">{error.message}</p>
      {error.hint ? <p class="remedy">{error.hint}</p> : null}
    </div>
  );
}

/** The id of a field's own error message, which its input names in aria-describedby. */
const errorId = (field: keyof KeyForm) => `key-${field}-error`;

/** The attributes that tie an input to its error, when the error is about that input. */
const errorAttributes = (error: FormError | undefined, field: keyof KeyForm) =>
  error?.field === field ? { "aria-invalid": "true", "aria-describedby": errorId(field) } : {};

/** A field's error beside its input (the note above the form repeats it, with the remedy). */
function FieldMessage({ error, field }: { error?: FormError; field: keyof KeyForm }) {
  return error?.field === field ? (
    <small class="field-error" id={errorId(field)}>
      {error.message}
    </small>
  ) : null;
}

/** One settings input: its label, the input, its error when it has one, and the CLI flag it stands for. */
function Field(props: {
  name: keyof SettingsForm;
  label: string;
  form: SettingsForm;
  error?: FormError;
  maxlength: number;
  placeholder: string;
  numeric?: boolean;
  hint: string;
}) {
  const { name, error } = props;
  return (
    <label>
      {props.label}
      <input
        name={name}
        id={`key-${name}`}
        inputmode={props.numeric ? "numeric" : undefined}
        maxlength={props.maxlength}
        value={props.form[name]}
        placeholder={props.placeholder}
        {...errorAttributes(error, name)}
      />
      <FieldMessage error={error} field={name} />
      <small class="hint">{props.hint}</small>
    </label>
  );
}

/**
 * The fields create and edit share, named like the CLI's flags (error messages
 * name the flag). Blank means the CLI's default: no limit, every model, never.
 */
function SettingsFields({ form, error }: { form: SettingsForm; error?: FormError }) {
  const shared = { form, error };
  return (
    <>
      <Field {...shared} name="label" label="Label" maxlength={200} placeholder="who or what uses it" hint="--label" />
      <Field {...shared} name="models" label="Models" maxlength={1000} placeholder="* (every model)" hint="--models: gpt-4o,claude-*; * for all" />
      <Field
        {...shared}
        name="rateLimit"
        label="Rate limit per minute"
        numeric
        maxlength={20}
        placeholder="none (unlimited)"
        hint="--rate-limit: N requests, or none"
      />
      <Field
        {...shared}
        name="premiumQuota"
        label="Premium quota per month"
        numeric
        maxlength={20}
        placeholder="none (unlimited)"
        hint="--premium-quota: N, or none"
      />
      <Field {...shared} name="budget" label="Budget per month" maxlength={20} placeholder="none (unlimited)" hint="--budget: 5usd, 500credits, or none" />
      <Field {...shared} name="expires" label="Expires" maxlength={40} placeholder="never" hint="--expires: 30d, a date, or never" />
    </>
  );
}

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
              <th scope="col" class="num" title="premium requests used this calendar month (UTC), of the key's quota">
                Premium/month
              </th>
              <th scope="col">Expires</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Status</th>
              <th scope="col" class="row-end">
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
                  <td class="text">
                    <Clamped text={row.label || "–"} />
                  </td>
                  <td class="text">
                    <Clamped text={row.allowedModels.join(", ")} />
                  </td>
                  <td class="num">{num(row.rateLimit)}</td>
                  <PremiumCell used={v.premiumUsed.get(row.id) ?? 0} quota={row.premiumQuota} />
                  <td>{row.expiresAt === null ? "never" : utc(row.expiresAt)}</td>
                  <td>{minute(row.createdAt)}</td>
                  <td>{minute(row.lastUsedAt)}</td>
                  <td>{status(row, now)}</td>
                  <td class="row-end">
                    {row.revokedAt === null ? (
                      <span class="row-actions">
                        <a class="edit" href={`/dashboard/keys/${row.id}/edit`}>
                          Edit
                        </a>
                        <a class="danger" href={`/dashboard/keys/${row.id}/revoke`}>
                          Revoke…
                        </a>
                      </span>
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
        {v.formError ? <ErrorNote error={v.formError} /> : null}
        <form method="post" action="/dashboard/keys" class="grid-form">
          <Csrf session={v.session} />
          <label>
            Tier
            <select name="tier" id="key-tier" {...errorAttributes(v.formError, "tier")}>
              <option value="client" selected={v.form.tier !== "admin"}>
                client: calls the API
              </option>
              <option value="admin" selected={v.form.tier === "admin"}>
                admin: also /admin and this dashboard
              </option>
            </select>
            <FieldMessage error={v.formError} field="tier" />
          </label>
          <SettingsFields form={v.form} error={v.formError} />
          <div class="form-end">
            <button type="submit" class="primary">
              Create key
            </button>
          </div>
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

/**
 * Editing a key: its settings pre-filled as the CLI writes them; the secret,
 * tier and history stay. The same code path as `copilot-api keys update`.
 */
export function EditKeyPage(props: { session: Session; row: KeyRow; form: SettingsForm; premiumUsed: number; error?: FormError }) {
  const { row } = props;
  return (
    <Layout title={`Edit ${row.id}`} session={props.session} section="keys">
      <section class="panel narrow edit-key">
        <h1>Edit {row.id}</h1>
        <p class="muted">
          {row.tier} key, created {utc(row.createdAt)}, last used {utc(row.lastUsedAt)}; {premium(props.premiumUsed)} premium requests this month (UTC).
        </p>
        {props.error ? <ErrorNote error={props.error} /> : null}
        <form method="post" action={`/dashboard/keys/${row.id}/edit`} class="stack">
          <Csrf session={props.session} />
          <SettingsFields form={props.form} error={props.error} />
          <p class="hint">Fields left as they are stay unchanged. The key keeps its secret; the change applies from its next request.</p>
          <div class="actions">
            <button type="submit" class="primary">
              Save changes
            </button>
            <a href="/dashboard/keys">Cancel</a>
          </div>
        </form>
      </section>
    </Layout>
  );
}
