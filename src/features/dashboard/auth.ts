import { randomBytes, timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { GATEWAY_ACTOR } from "~/features/audit";
import { apiError } from "~/lib/api-error";
import type { DashboardEnv, Session } from "./env";
import { REFUSALS, refusal } from "./pages/layout";
import { hashSessionId, isActiveAdmin, SESSION_ID_SHAPE, SESSION_TTL_MS, SLIDE_STEP_MS } from "./sessions";
import type { AdminStore } from "./store";

/** The session cookie: HttpOnly, SameSite=Strict, Path=/dashboard, Secure when served over TLS. */
export const SESSION_COOKIE = "copilot_api_session";
/** Before sign-in: a random value the sign-in form repeats (double-submit), so another site cannot sign a browser in. */
export const SIGN_IN_COOKIE = "copilot_api_signin";
export const COOKIE_PATH = "/dashboard";
/** The form field every state-changing request carries. */
export const CSRF_FIELD = "csrf";

/** Over TLS: the URL says https, or a TLS-terminating proxy in front says so. Only ever adds the Secure flag. */
const overTls = (c: Context) => new URL(c.req.url).protocol === "https:" || c.req.header("x-forwarded-proto")?.toLowerCase() === "https";

export function setDashboardCookie(c: Context, name: string, value: string, maxAgeSeconds: number): void {
  setCookie(c, name, value, { httpOnly: true, sameSite: "Strict", secure: overTls(c), path: COOKIE_PATH, maxAge: maxAgeSeconds });
}

export function clearDashboardCookie(c: Context, name: string): void {
  deleteCookie(c, name, { httpOnly: true, sameSite: "Strict", secure: overTls(c), path: COOKIE_PATH });
}

const sha256 = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex");

/**
 * The CSRF token of a session: derived from the session id (which only the
 * cookie holds), so it needs no storage, differs per session, and cannot be
 * computed by a page that cannot read the HttpOnly cookie.
 */
export const csrfTokenFor = (sessionId: string) => sha256(`csrf\u0000${sessionId}`);

export function sameToken(expected: string, given: unknown): boolean {
  if (typeof given !== "string" || given.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(expected), Buffer.from(given));
}

/** The pre-sign-in token, set on the sign-in page and repeated by its form. */
export function signInToken(c: Context): string {
  const existing = getCookie(c, SIGN_IN_COOKIE);
  if (existing && SESSION_ID_SHAPE.test(existing)) return existing;
  const token = randomBytes(32).toString("base64url");
  setDashboardCookie(c, SIGN_IN_COOKIE, token, 3600);
  return token;
}

/**
 * The signed-in session of this request, or undefined. A session ends when its
 * sliding expiry passes, and with its key: revoked, expired or no longer admin
 * (then every session of that key is deleted). Use moves the expiry ahead.
 */
export async function currentSession(c: Context, store: AdminStore, now: number): Promise<Session | undefined> {
  const id = getCookie(c, SESSION_COOKIE);
  if (!id || !SESSION_ID_SHAPE.test(id)) return undefined;
  const idHash = hashSessionId(id);
  const row = await store.sessions.find(idHash);
  if (!row) return undefined;
  if (row.expiresAt <= now) {
    await store.sessions.delete(idHash);
    return undefined;
  }
  if (!isActiveAdmin({ tier: row.keyTier, revokedAt: row.keyRevokedAt, expiresAt: row.keyExpiresAt }, now)) {
    // The key changed outside the dashboard (`keys revoke` or `update` from the CLI, or it expired): its
    // sessions end here, at their first use since, and only the request that deletes them audits it.
    const ended = await store.sessions.deleteOfKey(row.keyId);
    const reason = row.keyRevokedAt !== null ? "key revoked" : row.keyTier !== "admin" ? "key no longer admin" : "key expired";
    if (ended > 0)
      await store.audit.append({ ...GATEWAY_ACTOR, action: "dashboard.session_ended", target: row.keyId, ts: now, after: { sessions: ended, reason } });
    return undefined;
  }
  if (row.expiresAt - now < SESSION_TTL_MS - SLIDE_STEP_MS) {
    await store.sessions.extend(idHash, now + SESSION_TTL_MS);
    setDashboardCookie(c, SESSION_COOKIE, id, SESSION_TTL_MS / 1000);
  }
  return { idHash, keyId: row.keyId, keyLabel: row.keyLabel, csrf: csrfTokenFor(id) };
}

/**
 * Dashboard routes need a session: pages send a browser without one to the
 * sign-in page; JSON and CSV answer 401 with the remedy.
 */
export function requireSession(store: AdminStore, now: () => number, answer: "page" | "data"): MiddlewareHandler<DashboardEnv> {
  return async function requireSession(c, next) {
    const session = await currentSession(c, store, now());
    if (!session) {
      const hadOne = getCookie(c, SESSION_COOKIE) !== undefined;
      if (answer === "page") {
        if (hadOne) clearDashboardCookie(c, SESSION_COOKIE);
        return c.redirect(`${COOKIE_PATH}/login${hadOne ? "?notice=ended" : ""}`, 303);
      }
      // A page's background request leaves the dead cookie in place: the next page load
      // is the one that clears it and tells the person why they must sign in again.
      return apiError(c, 401, {
        message: "not signed in to the dashboard (or the session expired): sign in again at /dashboard/login, or send an admin key to /admin/events.csv",
        type: "invalid_request_error",
        code: "not_signed_in",
      });
    }
    c.set("session", session);
    await next();
  };
}

/**
 * Every state-changing request carries the session's CSRF token in its form;
 * one without it (or with another session's) is refused before anything changes.
 */
export const requireCsrf: MiddlewareHandler<DashboardEnv> = async function requireCsrf(c, next) {
  const form = await c.req.parseBody();
  if (!sameToken(c.get("session").csrf, form[CSRF_FIELD])) return refusal(c, 403, REFUSALS.csrf);
  c.set("form", form);
  await next();
};

/**
 * Failed sign-ins per client address: after `limit` in a minute, further
 * failures from that address are refused (429) until the minute is over. Only
 * failures are limited: the sign-in route checks the key first, and a right
 * admin key always gets through, so neither a flood of addresses nor a proxy
 * in front (every client one address) can lock the admins out. Memory is
 * bounded: past `maxAddresses`, the address that failed longest ago is
 * forgotten (an attacker's, since a rightful admin needs no entry).
 */
export class SignInLimiter {
  /** Least recently failed first (a Map keeps insertion order; a failure moves its address to the end). */
  private readonly windows = new Map<string, { start: number; failures: number }>();

  constructor(
    private readonly limit = 10,
    private readonly windowMs = 60_000,
    private readonly maxAddresses = 10_000,
  ) {}

  /** Seconds to wait before this address may fail again, or undefined when it may try now. */
  blocked(address: string, now: number): number | undefined {
    const window = this.current(address, now);
    if (!window || window.failures < this.limit) return undefined;
    return Math.max(1, Math.ceil((window.start + this.windowMs - now) / 1000));
  }

  failed(address: string, now: number): void {
    const window = this.current(address, now) ?? { start: now, failures: 0 };
    window.failures += 1;
    this.windows.delete(address);
    this.windows.set(address, window);
    if (this.windows.size > this.maxAddresses) this.windows.delete(this.windows.keys().next().value!);
  }

  /** Addresses tracked now (bounded by maxAddresses). */
  get size(): number {
    return this.windows.size;
  }

  private current(address: string, now: number) {
    const window = this.windows.get(address);
    // A window that is over (or that a clock set back puts in the future) counts nothing.
    if (window && now - window.start < this.windowMs && now >= window.start) return window;
    if (window) this.windows.delete(address);
    return undefined;
  }
}

/** The client's address as Bun's server saw it (the fetch handler's second argument), for the sign-in limit. */
export function clientAddress(c: Context): string {
  const server = c.env as { requestIP?: (request: Request) => { address: string } | null } | undefined;
  return server?.requestIP?.(c.req.raw)?.address ?? "unknown";
}
