import { Hono } from "hono";
import { COOKIE_PATH, SESSION_COOKIE, setDashboardCookie } from "../auth";
import type { DashboardEnv } from "../env";
import { hashSessionId, isActiveAdmin, newSessionId, SESSION_ID_SHAPE, SESSION_TTL_MS } from "../sessions";
import type { Dashboard } from "./context";

/** GET /dashboard/link?token=…: the link `copilot-api dashboard` printed signs this browser in. */
export function signInLinkRoute(d: Dashboard) {
  const { store, now } = d;
  const app = new Hono<DashboardEnv>();
  app.get("/link", async (c) => {
    const token = c.req.query("token") ?? "";
    const at = now();
    // Taken whatever follows: it opens a session only while in time and for a key still an active admin key.
    const taken = SESSION_ID_SHAPE.test(token) ? await store.links.take(hashSessionId(token)) : undefined;
    const key = taken && taken.expiresAt > at ? await store.keys.get(taken.keyId) : undefined;
    if (!key || !isActiveAdmin(key, at)) return c.redirect(`${COOKIE_PATH}/login?notice=link-used`, 303);
    const id = newSessionId();
    await store.sessions.open(hashSessionId(id), key.id, at);
    await d.audit(c, { kind: "session", id: key.id }, { action: "dashboard.sign_in", target: key.id, after: { via: "one-time link" } });
    setDashboardCookie(c, SESSION_COOKIE, id, SESSION_TTL_MS / 1000);
    return c.redirect(COOKIE_PATH, 303);
  });
  return app;
}
