import type { Context } from "hono";
import { Hono } from "hono";
import { type KeyRow, keySettingsText } from "~/features/keys";
import { AppError } from "~/lib/errors";
import { requireCsrf } from "../auth";
import type { DashboardEnv } from "../env";
import { EditKeyPage, type FormError, type SettingsForm } from "../pages/keys";
import { render } from "../pages/layout";
import { type Dashboard, sessionActor } from "./context";
import { changedInput, echoed, formError, settingsForm } from "./key-form";
import { keyLookup } from "./key-lookup";

/** /keys/:id/edit: a key's settings, pre-filled as the CLI writes them, changed through `keys update`'s code path. */
export function keyEditRoutes(d: Dashboard) {
  const { store, now, page } = d;
  const { keyOf, noSuchKey, revokedKey } = keyLookup(d);
  const app = new Hono<DashboardEnv>();

  const editPage = async (c: Context<DashboardEnv>, row: KeyRow, form: SettingsForm, error?: FormError) =>
    render(
      c,
      <EditKeyPage
        session={c.get("session")}
        row={row}
        form={form}
        premiumUsed={(await store.keys.premiumUsedThisMonth(now())).get(row.id) ?? 0}
        error={error}
      />,
      error ? 400 : 200,
    );

  app.get("/keys/:id/edit", page, async (c) => {
    const row = await keyOf(c);
    if (!row) return noSuchKey(c);
    if (row.revokedAt !== null) return revokedKey(c, row);
    return editPage(c, row, keySettingsText(row));
  });

  // The same code path as `copilot-api keys update`: the keys feature's updateKey (checks all, writes all or nothing).
  app.post("/keys/:id/edit", page, requireCsrf, async (c) => {
    const row = await keyOf(c);
    if (!row) return noSuchKey(c);
    if (row.revokedAt !== null) return revokedKey(c, row); // (revoked after the form was shown)
    const values = settingsForm(c.get("form"));
    const input = changedInput(values, row);
    if (Object.keys(input).length === 0) return c.redirect(`/dashboard/keys?unchanged=${row.id}`, 303);
    try {
      await store.keys.update(row.id, input, sessionActor(c), now());
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      return editPage(c, (await store.keys.get(row.id)) ?? row, echoed(values), formError(error));
    }
    return c.redirect(`/dashboard/keys?updated=${row.id}`, 303);
  });
  return app;
}
