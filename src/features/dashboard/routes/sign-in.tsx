import { Hono } from "hono";
import { getCookie } from "hono/cookie";
import type { EventError } from "~/db/schema";
import { cmd } from "~/lib/command-name";
import {
  CSRF_FIELD,
  clearDashboardCookie,
  clientAddress,
  currentSession,
  requireCsrf,
  SESSION_COOKIE,
  SIGN_IN_COOKIE,
  SignInLimiter,
  sameToken,
  setDashboardCookie,
  signInToken,
} from "../auth";
import type { DashboardEnv } from "../env";
import { REFUSALS, refusal, render } from "../pages/layout";
import { LoginPage } from "../pages/login";
import { hashSessionId, newSessionId, SESSION_TTL_MS } from "../sessions";
import { SignInFailures } from "../sign-in-failures";
import { bySession, type Dashboard, text } from "./context";

const LOGIN_NOTICES: Record<string, string> = {
  "signed-out": "Signed out.",
  ended: "Your session ended (it expired, or its key was revoked): sign in again.",
  "revoked-self": "You revoked the key you signed in with, so you are signed out.",
  "link-used": `That sign-in link was already used or has expired: run \`${cmd("dashboard")}\` for a new one, or sign in with an admin key.`,
};

/** /login (the form, and an admin key posted to it) and /logout. */
export function signInRoutes(d: Dashboard) {
  const { store, now, page } = d;
  const limiter = new SignInLimiter();
  const failures = new SignInFailures(d.deps.recorder);
  const app = new Hono<DashboardEnv>();

  app.get("/login", async (c) => {
    if (await currentSession(c, store, now())) return c.redirect("/dashboard", 303);
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
    const key = await store.keys.bySecret(text(form.key).slice(0, 200));
    const active = key && key.revokedAt === null && (key.expiresAt === null || key.expiresAt > at);
    if (!active || key.tier !== "admin") {
      const fail = (status: 401 | 403 | 429, error: EventError, why: string) => {
        failures.note({ address, keyId: key?.id, status, error, why, at, latencyMs: Math.round(performance.now() - started) });
        return d.audit(c, { kind: "key", id: key?.id ?? "unknown" }, { action: "dashboard.sign_in_failed", target: key?.id, after: { reason: why } });
      };
      const wait = limiter.blocked(address, at);
      if (wait !== undefined) {
        await fail(429, "rate_limited", "refused: too many failed sign-ins from this address in the last minute");
        c.header("retry-after", String(wait));
        return refusal(c, 429, REFUSALS.rateLimited, "/dashboard/login");
      }
      limiter.failed(address, at);
      if (!active) {
        await fail(401, "unauthorized", key ? `key ${key.id} is revoked or expired` : "not a key of this server");
        return refusal(c, 401, REFUSALS.wrongKey, "/dashboard/login");
      }
      await fail(403, "forbidden", `key ${key.id} is a client key, not an admin key`);
      return refusal(c, 403, REFUSALS.clientKey, "/dashboard/login");
    }
    // A new id at every sign-in (no fixation); the cookie holds it, the table its SHA-256.
    const id = newSessionId();
    await store.sessions.open(hashSessionId(id), key.id, at);
    await d.audit(c, { kind: "session", id: key.id }, { action: "dashboard.sign_in", target: key.id });
    setDashboardCookie(c, SESSION_COOKIE, id, SESSION_TTL_MS / 1000);
    clearDashboardCookie(c, SIGN_IN_COOKIE);
    return c.redirect("/dashboard", 303);
  });

  app.post("/logout", page, requireCsrf, async (c) => {
    await store.sessions.delete(c.get("session").idHash);
    await d.audit(c, bySession(c), { action: "dashboard.sign_out", target: c.get("session").keyId });
    clearDashboardCookie(c, SESSION_COOKIE);
    return c.redirect("/dashboard/login?notice=signed-out", 303);
  });
  return app;
}
