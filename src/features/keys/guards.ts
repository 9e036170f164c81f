import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "~/app-env";
import { apiError } from "~/lib/api-error";
import { cmd } from "~/lib/command-name";
import { isLoopback } from "~/lib/net";
import type { KeyPolicy } from "./policy";
import { NO_AUTH_KEY_ID } from "./resolver";

/**
 * Guards for requests that passed without a key (as __noauth__): on a loopback
 * server whose store never held a key, or with --no-auth. Such a server trusts
 * "whoever can reach the port", and a web page in the user's own browser can
 * reach a loopback port; these refuse what only a browser page would send.
 * Keyed requests are not affected: a page cannot read a key, and sending one
 * needs a CORS preflight this server never answers.
 */

const passedWithoutKey = (c: Context<AppEnv>) => c.get("apiKey")?.id === NO_AUTH_KEY_ID;

/** Why requests may pass without a key here, for the error message. */
const why = (options: KeyPolicy) => (options.authDisabled ? "this server does not check API keys (--no-auth)" : "this server has no API key yet");

/** The host name of a Host header: `localhost:4141` → `localhost`, `[::1]:4141` → `::1`. */
export function hostnameOf(host: string | undefined): string {
  if (!host) return "";
  const bracketed = host.match(/^\[([^\]]+)\]/);
  return bracketed ? bracketed[1]! : host.replace(/:\d+$/, "");
}

/** `http(s)://localhost|127.x.x.x|[::1][:port]`, and nothing else (`null` included). */
export function isLoopbackOrigin(origin: string): boolean {
  if (!URL.canParse(origin)) return false;
  const url = new URL(origin);
  return (url.protocol === "http:" || url.protocol === "https:") && isLoopback(url.hostname);
}

/**
 * DNS rebinding: a page on evil.example that rebinds its name to 127.0.0.1
 * reaches this port, but its requests carry `Host: evil.example`. On a loopback
 * listener, a request without a key must name this machine.
 * (On a non-loopback listener with --no-auth, the operator chose to serve any name.)
 */
export function hostGuard(options: KeyPolicy): MiddlewareHandler<AppEnv> {
  return async function hostGuard(c, next) {
    if (options.loopbackListener && passedWithoutKey(c) && !isLoopback(hostnameOf(c.req.header("host")))) {
      return apiError(c, 403, {
        message: `${why(options)}, so it only answers requests addressed to localhost, 127.0.0.1 or [::1] (DNS rebinding guard): use one of those names, or create a key with \`${cmd("keys create")}\` and send it`,
        type: "invalid_request_error",
        code: "host_not_allowed",
      });
    }
    await next();
  };
}

/**
 * Cross-site requests: a page on another site can POST a "simple" request
 * (text/plain, no preflight) to a loopback port, and the browser says so with
 * `Origin` and `Sec-Fetch-Site`. Programs (curl, SDKs, editors) send neither
 * a foreign Origin nor `Sec-Fetch-Site: cross-site`.
 */
export function crossSiteGuard(options: KeyPolicy): MiddlewareHandler<AppEnv> {
  return async function crossSiteGuard(c, next) {
    if (passedWithoutKey(c) && isCrossSite(c.req.header("origin"), c.req.header("sec-fetch-site"))) {
      return apiError(c, 403, {
        message: `${why(options)}, so it refuses requests a browser marks as coming from another site's web page (Origin or Sec-Fetch-Site header): call it from a program, or create a key with \`${cmd("keys create")}\` and send it`,
        type: "invalid_request_error",
        code: "cross_site_request",
      });
    }
    await next();
  };
}

function isCrossSite(origin: string | undefined, fetchSite: string | undefined): boolean {
  if (fetchSite?.trim().toLowerCase() === "cross-site") return true;
  return origin !== undefined && !isLoopbackOrigin(origin.trim());
}
