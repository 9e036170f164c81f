import type { Context } from "hono";
import { Hono } from "hono";
import { KEY_TIERS } from "~/db/schema";
import { keySpecFrom, parseKeySettings } from "~/features/keys";
import { parseChoice } from "~/lib/cli";
import { clip } from "~/lib/clip";
import { AppError, forField } from "~/lib/errors";
import { clearDashboardCookie, requireCsrf, SESSION_COOKIE } from "../auth";
import type { DashboardEnv } from "../env";
import { EMPTY_FORM, type FormError, type KeyForm, KeysPage, RevokePage } from "../pages/keys";
import { render } from "../pages/layout";
import { bySession, type Dashboard, KEY_ID, sessionActor, text } from "./context";
import { createInput, echoed, formError, settingsForm } from "./key-form";
import { keyLookup } from "./key-lookup";

/** The notice a redirect back to the list asks for (`?revoked=ID`, `?updated=ID`, `?unchanged=ID`). */
function listNotice(c: Context): string | undefined {
  const revoked = c.req.query("revoked");
  const updated = c.req.query("updated");
  const unchanged = c.req.query("unchanged");
  if (revoked && KEY_ID.test(revoked)) return `Revoked ${revoked}: it is refused from its next request.`;
  if (updated && KEY_ID.test(updated)) return `Updated ${updated}: the change applies from its next request.`;
  if (unchanged && KEY_ID.test(unchanged)) return `Nothing to change on ${unchanged}: the form held its current settings.`;
  return undefined;
}

/** /keys (the list and the create form) and /keys/:id/revoke (asks first, then revokes). */
export function keysRoutes(d: Dashboard) {
  const { store, now, page } = d;
  const { keyOf, noSuchKey } = keyLookup(d);
  const app = new Hono<DashboardEnv>();

  const keysPage = async (
    c: Context<DashboardEnv>,
    extra: { created?: Parameters<typeof KeysPage>[0]["created"]; formError?: FormError; form?: KeyForm; notice?: string },
    status: 200 | 400 = 200,
  ) => {
    const showAll = c.req.query("all") === "1";
    const [rows, premiumUsed] = await Promise.all([store.keys.list(showAll), store.keys.premiumUsedThisMonth(now())]);
    return render(
      c,
      <KeysPage session={c.get("session")} rows={rows} showAll={showAll} premiumUsed={premiumUsed} form={extra.form ?? EMPTY_FORM} {...extra} />,
      status,
    );
  };

  app.get("/keys", page, (c) => keysPage(c, { notice: listNotice(c) }));

  // The same code path as `copilot-api keys create`: the keys feature's parseKeySettings and createKey.
  app.post("/keys", page, requireCsrf, async (c) => {
    const values: KeyForm = { tier: clip(text(c.get("form").tier), 20), ...settingsForm(c.get("form")) };
    try {
      const tier = forField("tier", () => parseChoice("tier", values.tier, KEY_TIERS));
      const created = await store.keys.create(keySpecFrom(tier, parseKeySettings(createInput(values), now())), sessionActor(c), now());
      return keysPage(c, { created });
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      return keysPage(c, { formError: formError(error), form: echoed(values) }, 400);
    }
  });

  app.get("/keys/:id/revoke", page, async (c) => {
    const row = await keyOf(c);
    if (!row) return noSuchKey(c);
    if (row.revokedAt !== null) return c.redirect("/dashboard/keys?all=1", 303);
    return render(c, <RevokePage session={c.get("session")} row={row} />);
  });

  // The same code path as `copilot-api keys revoke`; its dashboard sessions end with it.
  app.post("/keys/:id/revoke", page, requireCsrf, async (c) => {
    const row = await keyOf(c);
    if (!row) return noSuchKey(c);
    await store.keys.revoke(row.id, sessionActor(c), now());
    const ended = await store.sessions.deleteOfKey(row.id);
    if (ended > 0) await d.audit(c, bySession(c), { action: "dashboard.session_ended", target: row.id, after: { sessions: ended, reason: "key revoked" } });
    if (row.id === c.get("session").keyId) {
      clearDashboardCookie(c, SESSION_COOKIE);
      return c.redirect("/dashboard/login?notice=revoked-self", 303);
    }
    return c.redirect(`/dashboard/keys?revoked=${row.id}`, 303);
  });
  return app;
}
