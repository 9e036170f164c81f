import type { Context } from "hono";

/**
 * Every dashboard answer: a strict Content-Security-Policy (scripts, styles and
 * fetches from this origin only, so no inline script and no third party), no
 * framing, no sniffing, no referrer, and nothing cached but the assets.
 */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export async function securityHeaders(c: Context, next: () => Promise<void>) {
  await next();
  c.res.headers.set("content-security-policy", CSP);
  c.res.headers.set("x-content-type-options", "nosniff");
  c.res.headers.set("x-frame-options", "DENY");
  c.res.headers.set("referrer-policy", "no-referrer");
  c.res.headers.set("cross-origin-opener-policy", "same-origin");
  if (!c.res.headers.has("cache-control")) c.res.headers.set("cache-control", "no-store");
}
