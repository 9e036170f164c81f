import type { Context } from "hono";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { getCookie } from "hono/cookie";
import type { AppEnv } from "~/app-env";
import type { Store } from "~/db";
import { EVENT_ERRORS, type EventError, KEY_TIERS } from "~/db/schema";
import { type AuditEntry, appendAudit, createKeyAudited, httpActor } from "~/features/audit";
import type { EventRecorder } from "~/features/events";
import {
  type KeyRow,
  type KeySettingsInput,
  keyById,
  keyForSecret,
  keySettingsText,
  keySpecFrom,
  keyView,
  LABEL_MAX,
  listKeys,
  parseKeySettings,
  premiumUsedThisMonth,
  revokeKey,
  updateKey,
} from "~/features/keys";

import type { QuotaSource } from "~/features/quota";
import { type SeatWindows, windowsReport } from "~/features/quota";
import { apiError } from "~/lib/api-error";
import { parseChoice } from "~/lib/cli";
import { clip } from "~/lib/clip";
import { cmd } from "~/lib/command-name";
import { AppError, describeError } from "~/lib/errors";
import { parseSince } from "~/lib/since";
import { assetNamed } from "./assets";
import { auditPages } from "./audit-routes";
import {
  CSRF_FIELD,
  clearDashboardCookie,
  clientAddress,
  currentSession,
  requireCsrf,
  requireSession,
  SESSION_COOKIE,
  SIGN_IN_COOKIE,
  SignInLimiter,
  sameToken,
  setDashboardCookie,
  signInToken,
} from "./auth";
import { csvDownload, eventsCsv } from "./csv";
import type { DashboardEnv } from "./env";
import { EventsPage } from "./pages/events";
import { utc } from "./pages/format";
import { EditKeyPage, EMPTY_FORM, type FormError, type KeyForm, KeysPage, RevokePage, type SettingsForm } from "./pages/keys";
import { REFUSALS, refusal, render } from "./pages/layout";
import { LoginPage } from "./pages/login";
import { type QuotaState, SORTABLE, type Sort, UsagePage } from "./pages/usage";
import {
  DEFAULT_WINDOW,
  type EventCursor,
  type EventFilter,
  recentEvents,
  STATUS_CLASSES,
  type StatusClass,
  UsageParts,
  usageSeries,
  usageTables,
  WINDOWS,
  type WindowName,
  windowStart,
} from "./queries";
import { deleteExpiredSessions, deleteSession, deleteSessionsOfKey, hashSessionId, insertSession, newSessionId, SESSION_TTL_MS } from "./sessions";
import { SignInFailures } from "./sign-in-failures";
import { signInLinkRoute } from "./sign-in-link";

export interface DashboardDeps {
  store: Store;
  /** Copilot's own counters; absent without a GitHub token. */
  quota?: QuotaSource;
  /** Each Copilot seat's session and weekly windows, as their answers said them. */
  windows?: SeatWindows;
  /** Wall clock, Unix ms: session expiry and windows (tests move it past a session's expiry). */
  now?: () => number;
  /** Where failed sign-ins are recorded as events (capped per minute, always counted). */
  recorder?: EventRecorder;
}

/**
 * Every dashboard answer: a strict Content-Security-Policy (scripts, styles and
 * fetches from this origin only, so no inline script and no third party), no
 * framing, no sniffing, no referrer, and nothing cached but the assets.
 */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async function securityHeaders(c: Context, next: () => Promise<void>) {
  await next();
  c.res.headers.set("content-security-policy", CSP);
  c.res.headers.set("x-content-type-options", "nosniff");
  c.res.headers.set("x-frame-options", "DENY");
  c.res.headers.set("referrer-policy", "no-referrer");
  c.res.headers.set("cross-origin-opener-policy", "same-origin");
  if (!c.res.headers.has("cache-control")) c.res.headers.set("cache-control", "no-store");
}

/** Query values are the client's: bounded before use. An empty value means "no filter". */
function queryValue(c: Context, name: string, max = 256): string | undefined {
  const value = c.req.query(name);
  return value ? clip(value, max) : undefined;
}

const isWindow = (value: string | undefined): value is WindowName => value !== undefined && Object.hasOwn(WINDOWS, value);

function sortOf(value: string | undefined): Sort {
  const descending = value?.startsWith("-") ?? true;
  const column = value?.replace(/^-/, "");
  return (SORTABLE as readonly string[]).includes(column ?? "") ? { column: column as Sort["column"], descending } : { column: "requests", descending: true };
}

/** The window and filters of a usage request, from its query (unknown values fall back to the defaults). */
function usageInput(c: Context, now: number) {
  const window = isWindow(c.req.query("window")) ? (c.req.query("window") as WindowName) : DEFAULT_WINDOW;
  return {
    window,
    since: windowStart(window, now),
    until: now,
    keyId: queryValue(c, "key", 64),
    model: c.req.query("model") === undefined ? undefined : queryValue(c, "model"),
  };
}

/** Copilot's counters, waited for at most 1.5 s so a slow GitHub never holds the page. */
async function quotaState(source: QuotaSource | undefined): Promise<QuotaState> {
  if (!source) return { kind: "none" };
  try {
    const report = await Promise.race([source.get(), Bun.sleep(1500).then(() => undefined)]);
    if (report === undefined) return { kind: "error", message: "GitHub did not answer within 1.5 s; reload the page in a moment" };
    return { kind: "ok", report };
  } catch (error) {
    return { kind: "error", message: describeError(error) };
  }
}

/** The CSV export, for a session (/dashboard/events.csv) or an admin key (/admin/events.csv): one handler. */
function exportCsv(c: Context, store: Store, now: number): Response {
  let since: number;
  try {
    since = parseSince(queryValue(c, "since") ?? "24h", now);
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    return apiError(c, 400, { message: describeError(error), type: "invalid_request_error", code: "invalid_query", param: "since" });
  }
  return c.body(eventsCsv(store, { since, keyId: queryValue(c, "key", 64) }), 200, csvDownload("events", now));
}

/** GET /admin/events.csv?since=…&key=…: the export for admin keys (scripts, curl; behind requireAdmin in server.ts). */
export function eventsCsvRoute(store: Store) {
  return new Hono<AppEnv>().get("/events.csv", (c) => exportCsv(c, store, Date.now()));
}

const LOGIN_NOTICES: Record<string, string> = {
  "signed-out": "Signed out.",
  ended: "Your session ended (it expired, or its key was revoked): sign in again.",
  "revoked-self": "You revoked the key you signed in with, so you are signed out.",
  "link-used": `That sign-in link was already used or has expired: run \`${cmd("dashboard")}\` for a new one, or sign in with an admin key.`,
};

const KEY_ID = /^key_[0-9A-Za-z]{10}$/;
const text = (value: unknown) => (typeof value === "string" ? value : "");

/**
 * The settings fields of a posted form, bounded (a browser's maxlength is only a
 * suggestion): the values an error message repeats are cut first; the label is
 * checked whole (its error gives only its length) and cut by `echoed`.
 */
function settingsForm(form: Record<string, string | File>): SettingsForm {
  return {
    label: text(form.label),
    models: clip(text(form.models), 1000),
    rateLimit: clip(text(form.rateLimit), 20),
    premiumQuota: clip(text(form.premiumQuota), 20),
    budget: clip(text(form.budget), 20),
    expires: clip(text(form.expires), 40),
  };
}

/** A refused form as it is shown again: bounded. */
const echoed = <T extends SettingsForm>(form: T): T => ({ ...form, label: clip(form.label, LABEL_MAX) });

/** A blank field means what leaving the flag out of `keys create` means: no limit, every model, never. */
const BLANK: Omit<SettingsForm, "label"> = { models: "*", rateLimit: "none", premiumQuota: "none", budget: "none", expires: "never" };

/** Create: blank fields are left out, as flags not given to `keys create`. */
function createInput(form: SettingsForm): KeySettingsInput {
  const input: KeySettingsInput = { label: form.label };
  for (const field of Object.keys(BLANK) as (keyof typeof BLANK)[]) if (form[field].trim() !== "") input[field] = form[field];
  return input;
}

/** Edit: only the fields that differ from the key's current settings, as flags given to `keys update`; blank means the default. */
function changedInput(form: SettingsForm, row: KeyRow): KeySettingsInput {
  const current = keySettingsText(row);
  const input: KeySettingsInput = {};
  if (form.label !== current.label) input.label = form.label;
  for (const field of Object.keys(BLANK) as (keyof typeof BLANK)[]) {
    const value = form[field].trim() === "" ? BLANK[field] : form[field];
    if (value.trim() !== current[field]) input[field] = value;
  }
  return input;
}

/** The flag each field's error messages start with (the keys feature speaks the CLI's words). */
const FLAGS: [string, keyof SettingsForm][] = [
  ["--label", "label"],
  ["--models", "models"],
  ["--rate-limit", "rateLimit"],
  ["--premium-quota", "premiumQuota"],
  ["--budget", "budget"],
  ["--expires", "expires"],
];

function formError(error: AppError): FormError {
  const field = FLAGS.find(([flag]) => error.message.startsWith(`${flag} `))?.[1];
  return { message: error.message, hint: error.hint, field };
}

/** The dashboard under /dashboard: its own sign-in and session cookie, separate from the API key pipeline. */
export function dashboardRoutes(deps: DashboardDeps) {
  const { store } = deps;
  const now = deps.now ?? Date.now;
  const limiter = new SignInLimiter();
  const failures = new SignInFailures(deps.recorder);
  const usage = new UsageParts(store);
  const page = requireSession(store, now, "page");
  const data = requireSession(store, now, "data");
  const app = new Hono<DashboardEnv>();
  // Every admin action here goes in the audit log, with the session's key, address and User-Agent.
  const audit = (c: Context, actor: { kind: "session" | "key"; id: string }, entry: Omit<AuditEntry, "actorKind" | "actor">) =>
    appendAudit(store.db, { ...httpActor(c, actor.kind, actor.id), ts: now(), ...entry });
  const bySession = (c: Context<DashboardEnv>) => ({ kind: "session" as const, id: c.get("session").keyId });

  app.use(securityHeaders);
  // Forms are small: nothing larger is read.
  app.use(bodyLimit({ maxSize: 64 * 1024, onError: (c) => c.text("form too large (64 KB at most)", 413) }));

  app.get("/assets/:name", async (c) => {
    const asset = assetNamed(c.req.param("name"));
    if (!asset) return refusal(c, 404, REFUSALS.notFound);
    return c.body(asset.body, 200, { "content-type": asset.type, "cache-control": "public, max-age=31536000, immutable", etag: `"${asset.hash}"` });
  });

  // A one-time link from `copilot-api dashboard` (no key typed into a form).
  app.route("/", signInLinkRoute(store, now));

  app.get("/login", async (c) => {
    if (currentSession(c, store, now())) return c.redirect("/dashboard", 303);
    return render(c, <LoginPage token={signInToken(c)} notice={LOGIN_NOTICES[c.req.query("notice") ?? ""]} />);
  });

  // The key is checked first: a right admin key signs in whatever the failures before it; only failures are limited.
  app.post("/login", async (c) => {
    const started = performance.now();
    const address = clientAddress(c);
    const form = await c.req.parseBody();
    const token = getCookie(c, SIGN_IN_COOKIE);
    if (!token || !sameToken(token, form[CSRF_FIELD])) return refusal(c, 403, REFUSALS.csrf, "/dashboard/login");
    const at = now();
    // Looked up by its SHA-256: no comparison of the secret itself, so no timing to learn it from.
    const key = keyForSecret(store.db, text(form.key).slice(0, 200));
    const active = key && key.revokedAt === null && (key.expiresAt === null || key.expiresAt > at);
    if (!active || key.tier !== "admin") {
      const fail = (status: 401 | 403 | 429, error: EventError, why: string) => {
        failures.note({ address, keyId: key?.id, status, error, why, at, latencyMs: Math.round(performance.now() - started) });
        audit(c, { kind: "key", id: key?.id ?? "unknown" }, { action: "dashboard.sign_in_failed", target: key?.id, after: { reason: why } });
      };
      const wait = limiter.blocked(address, at);
      if (wait !== undefined) {
        fail(429, "rate_limited", "refused: too many failed sign-ins from this address in the last minute");
        c.header("retry-after", String(wait));
        return refusal(c, 429, REFUSALS.rateLimited, "/dashboard/login");
      }
      limiter.failed(address, at);
      if (!active) {
        fail(401, "unauthorized", key ? `key ${key.id} is revoked or expired` : "not a key of this server");
        return refusal(c, 401, REFUSALS.wrongKey, "/dashboard/login");
      }
      fail(403, "forbidden", `key ${key.id} is a client key, not an admin key`);
      return refusal(c, 403, REFUSALS.clientKey, "/dashboard/login");
    }
    deleteExpiredSessions(store.db, at);
    // A new id at every sign-in (no fixation); the cookie holds it, the table its SHA-256.
    const id = newSessionId();
    insertSession(store.db, hashSessionId(id), key.id, at);
    audit(c, { kind: "session", id: key.id }, { action: "dashboard.sign_in", target: key.id });
    setDashboardCookie(c, SESSION_COOKIE, id, SESSION_TTL_MS / 1000);
    clearDashboardCookie(c, SIGN_IN_COOKIE);
    return c.redirect("/dashboard", 303);
  });

  app.post("/logout", page, requireCsrf, (c) => {
    deleteSession(store.db, c.get("session").idHash);
    audit(c, bySession(c), { action: "dashboard.sign_out", target: c.get("session").keyId });
    clearDashboardCookie(c, SESSION_COOKIE);
    return c.redirect("/dashboard/login?notice=signed-out", 303);
  });

  app.get("/", page, async (c) => {
    const input = usageInput(c, now());
    const tables = usageTables(usage.read(input.since, WINDOWS[input.window].step, input.until), input);
    if (input.keyId && !tables.keysSeen.includes(input.keyId)) tables.keysSeen.push(input.keyId);
    if (input.model !== undefined && !tables.modelsSeen.includes(input.model)) tables.modelsSeen.push(input.model);
    const labels = new Map(listKeys(store.db, { includeRevoked: true }).map((k) => [k.id, k.label]));
    return render(
      c,
      <UsagePage
        session={c.get("session")}
        window={input.window}
        keyId={input.keyId}
        model={input.model}
        since={input.since}
        until={input.until}
        tables={tables}
        labels={labels}
        keySort={sortOf(c.req.query("ks"))}
        modelSort={sortOf(c.req.query("ms"))}
        quota={await quotaState(deps.quota)}
        windows={windowsReport(deps.windows ?? (() => []))}
        query={new URL(c.req.url).searchParams}
      />,
    );
  });

  // The charts' data: the same window and filters as the page, by hour or UTC day.
  app.get("/api/usage", data, (c) => {
    const input = usageInput(c, now());
    const step = WINDOWS[input.window].step;
    const series = usageSeries(usage.read(input.since, step, input.until), {
      since: input.since,
      until: input.until,
      keyId: input.keyId,
      model: input.model,
      step,
    });
    return c.json({
      window: input.window,
      since: new Date(input.since).toISOString(),
      until: new Date(input.until).toISOString(),
      key: input.keyId ?? null,
      model: input.model ?? null,
      series,
    });
  });

  const keysPage = (
    c: Context<DashboardEnv>,
    extra: { created?: Parameters<typeof KeysPage>[0]["created"]; formError?: FormError; form?: KeyForm; notice?: string },
    status: 200 | 400 = 200,
  ) => {
    const showAll = c.req.query("all") === "1";
    const rows = listKeys(store.db, { includeRevoked: showAll });
    const premiumUsed = premiumUsedThisMonth(store.db, now());
    return render(
      c,
      <KeysPage session={c.get("session")} rows={rows} showAll={showAll} premiumUsed={premiumUsed} form={extra.form ?? EMPTY_FORM} {...extra} />,
      status,
    );
  };

  app.get("/keys", page, (c) => {
    const revoked = c.req.query("revoked");
    const updated = c.req.query("updated");
    const unchanged = c.req.query("unchanged");
    const notice =
      revoked && KEY_ID.test(revoked)
        ? `Revoked ${revoked}: it is refused from its next request.`
        : updated && KEY_ID.test(updated)
          ? `Updated ${updated}: the change applies from its next request.`
          : unchanged && KEY_ID.test(unchanged)
            ? `Nothing to change on ${unchanged}: the form held its current settings.`
            : undefined;
    return keysPage(c, { notice });
  });

  // The same code path as `copilot-api keys create`: the keys feature's parseKeySettings and createKey.
  app.post("/keys", page, requireCsrf, (c) => {
    const values: KeyForm = { tier: clip(text(c.get("form").tier), 20), ...settingsForm(c.get("form")) };
    try {
      const tier = parseChoice("tier", values.tier, KEY_TIERS);
      const created = createKeyAudited(
        store,
        keySpecFrom(tier, parseKeySettings(createInput(values), now())),
        httpActor(c, "session", c.get("session").keyId),
        now(),
      );
      return keysPage(c, { created });
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      return keysPage(c, { formError: formError(error), form: echoed(values) }, 400);
    }
  });

  const keyOr404 = (c: Context<DashboardEnv>) => {
    const id = c.req.param("id") ?? "";
    return KEY_ID.test(id) ? keyById(store.db, id) : undefined;
  };
  const noSuchKey = (c: Context<DashboardEnv>) =>
    refusal(c, 404, { title: "No such key", message: "No key of this server has that id.", remedy: "Pick a key from the list." }, "/dashboard/keys");

  const revokedKey = (c: Context<DashboardEnv>, row: KeyRow) =>
    refusal(
      c,
      409,
      {
        title: "Key revoked",
        message: `${row.id} was revoked at ${utc(row.revokedAt)} UTC; a revoked key stays revoked.`,
        remedy: "Create a new key instead.",
      },
      "/dashboard/keys",
    );

  const editPage = (c: Context<DashboardEnv>, row: KeyRow, form: SettingsForm, error?: FormError) =>
    render(
      c,
      <EditKeyPage session={c.get("session")} row={row} form={form} premiumUsed={premiumUsedThisMonth(store.db, now()).get(row.id) ?? 0} error={error} />,
      error ? 400 : 200,
    );

  app.get("/keys/:id/edit", page, (c) => {
    const row = keyOr404(c);
    if (!row) return noSuchKey(c);
    if (row.revokedAt !== null) return revokedKey(c, row);
    return editPage(c, row, keySettingsText(row));
  });

  // The same code path as `copilot-api keys update`: the keys feature's updateKey (checks all, writes all or nothing).
  app.post("/keys/:id/edit", page, requireCsrf, async (c) => {
    const row = keyOr404(c);
    if (!row) return noSuchKey(c);
    if (row.revokedAt !== null) return revokedKey(c, row); // (revoked after the form was shown)
    const values = settingsForm(c.get("form"));
    const input = changedInput(values, row);
    if (Object.keys(input).length === 0) return c.redirect(`/dashboard/keys?unchanged=${row.id}`, 303);
    try {
      const { before, after } = updateKey(store, row.id, input, now());
      audit(c, bySession(c), { action: "key.updated", target: row.id, before: keyView(before), after: keyView(after) });
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      return editPage(c, keyById(store.db, row.id) ?? row, echoed(values), formError(error));
    }
    return c.redirect(`/dashboard/keys?updated=${row.id}`, 303);
  });

  app.get("/keys/:id/revoke", page, async (c) => {
    const row = keyOr404(c);
    if (!row) return noSuchKey(c);
    if (row.revokedAt !== null) return c.redirect("/dashboard/keys?all=1", 303);
    return render(c, <RevokePage session={c.get("session")} row={row} />);
  });

  // The same code path as `copilot-api keys revoke`; its dashboard sessions end with it.
  app.post("/keys/:id/revoke", page, requireCsrf, async (c) => {
    const row = keyOr404(c);
    if (!row) return noSuchKey(c);
    if (revokeKey(store.db, row.id, now()))
      audit(c, bySession(c), { action: "key.revoked", target: row.id, before: keyView(row), after: keyView(keyById(store.db, row.id) ?? row) });
    const ended = deleteSessionsOfKey(store.db, row.id);
    if (ended > 0) audit(c, bySession(c), { action: "dashboard.session_ended", target: row.id, after: { sessions: ended, reason: "key revoked" } });
    if (row.id === c.get("session").keyId) {
      clearDashboardCookie(c, SESSION_COOKIE);
      return c.redirect("/dashboard/login?notice=revoked-self", 303);
    }
    return c.redirect(`/dashboard/keys?revoked=${row.id}`, 303);
  });

  app.get("/events", page, (c) => {
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

  app.get("/events.csv", data, (c) => exportCsv(c, store, now()));
  app.route("/", auditPages(store, now, page, data));

  // Nothing under /dashboard falls through to the API key pipeline.
  app.all("*", (c) => refusal(c, 404, REFUSALS.notFound));
  return app;
}

const EVENTS_PER_PAGE = 50;

function recentEventsPage(store: Store, filter: EventFilter, cursor: EventCursor | undefined) {
  const rows = recentEvents(store.db, filter, cursor, EVENTS_PER_PAGE + 1);
  const page = rows.slice(0, EVENTS_PER_PAGE);
  const last = page.at(-1);
  return { page, older: rows.length > EVENTS_PER_PAGE && last ? `${last.ts}.${last.id}` : undefined };
}
