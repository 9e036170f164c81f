import { eq, lte } from "drizzle-orm";
import { Hono } from "hono";
import type { AppDatabase, Store } from "~/db";
import { keys, signInLinks } from "~/db/schema";
import { appendAudit, httpActor } from "~/features/audit";
import { COOKIE_PATH, SESSION_COOKIE, setDashboardCookie } from "./auth";
import type { DashboardEnv } from "./env";
import { deleteExpiredSessions, hashSessionId, insertSession, newSessionId, SESSION_ID_SHAPE, SESSION_TTL_MS } from "./sessions";

/** A link is good for ten minutes, and for one use. */
export const LINK_TTL_MS = 10 * 60_000;

/** Stores a new link for an admin key and returns its token (only the SHA-256 is kept). */
export function createSignInLink(db: AppDatabase, keyId: string, now = Date.now()): string {
  const token = newSessionId();
  db.delete(signInLinks).where(lte(signInLinks.expiresAt, now)).run();
  db.insert(signInLinks)
    .values({ tokenHash: hashSessionId(token), keyId, createdAt: now, expiresAt: now + LINK_TTL_MS })
    .run();
  return token;
}

/**
 * Takes a link: deletes its row whatever happens next (single use), and answers
 * the key it opens a session for while the link is in time and the key is still
 * an active admin key.
 */
function takeLink(db: AppDatabase, token: string, now: number): string | undefined {
  const taken = db
    .delete(signInLinks)
    .where(eq(signInLinks.tokenHash, hashSessionId(token)))
    .returning()
    .get();
  if (!taken || taken.expiresAt <= now) return undefined;
  const key = db.select().from(keys).where(eq(keys.id, taken.keyId)).get();
  if (key?.tier !== "admin" || key.revokedAt !== null || (key.expiresAt !== null && key.expiresAt <= now)) return undefined;
  return key.id;
}

/** GET /dashboard/link?token=…: the link `copilot-api dashboard` printed signs this browser in. */
export function signInLinkRoute(store: Store, now: () => number) {
  const app = new Hono<DashboardEnv>();
  app.get("/link", (c) => {
    const token = c.req.query("token") ?? "";
    const at = now();
    const keyId = SESSION_ID_SHAPE.test(token) ? takeLink(store.db, token, at) : undefined;
    if (!keyId) return c.redirect(`${COOKIE_PATH}/login?notice=link-used`, 303);
    deleteExpiredSessions(store.db, at);
    const id = newSessionId();
    insertSession(store.db, hashSessionId(id), keyId, at);
    appendAudit(store.db, { ...httpActor(c, "session", keyId), action: "dashboard.sign_in", target: keyId, ts: at, after: { via: "one-time link" } });
    setDashboardCookie(c, SESSION_COOKIE, id, SESSION_TTL_MS / 1000);
    return c.redirect(COOKIE_PATH, 303);
  });
  return app;
}
