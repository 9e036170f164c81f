import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "~/app-env";
import { openAIError } from "~/lib/openai-error";
import type { LastUsedTracker } from "./last-used";
import type { RateLimiter } from "./rate-limit";
import type { KeyResolver, Resolution } from "./resolver";

export interface KeyDeps {
  resolver: KeyResolver;
  limiter: RateLimiter;
  lastUsed: LastUsedTracker;
}

const REASONS: Record<Exclude<Resolution, { key: unknown }>["reason"], string> = {
  missing: "missing API key: send it as `Authorization: Bearer <key>` or `x-api-key: <key>`",
  malformed: "malformed API key: it is not a copilot-api key (wrong prefix, length or checksum); check for a copy-paste error",
  unknown: "unknown API key: create one with `copilot-api keys create`",
  revoked: "this API key was revoked: ask the owner for a new one",
  no_keys: "this server has no active API key, so every request is refused (revoking the last key does not open a server): create one with `copilot-api keys create`",
};

/** Said when a key was presented to a store that never held one, where sending none would pass. */
const KEYLESS_HINT = "; this server has no key yet, so from this machine a request without any key passes (or create one with `copilot-api keys create`)";

/** Reads the key from either header both OpenAI- and Anthropic-style clients use. */
function presentedSecret(authorization: string | undefined, apiKey: string | undefined): string | undefined {
  const bearer = authorization?.match(/^Bearer\s+(.+)$/i)?.[1]?.trim();
  return bearer || apiKey?.trim() || undefined;
}

/**
 * Resolves the request's key into c.var.apiKey, or answers 401 / 429.
 * Requests that pass without a key (as __noauth__) are screened next by the
 * host and cross-site guards (./guards.ts).
 * The client's Authorization and x-api-key headers never reach Copilot: the
 * upstream client builds its headers from a fixed set and copies none.
 */
export function requireKey(deps: KeyDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const resolution = deps.resolver.resolve(presentedSecret(c.req.header("authorization"), c.req.header("x-api-key")));
    if (!("key" in resolution)) {
      if (resolution.keyId) c.var.event.keyId = resolution.keyId; // who still uses a revoked key is worth knowing
      let message = REASONS[resolution.reason];
      if (resolution.keyId) message += ` (${resolution.keyId})`;
      if (resolution.keyless) message += KEYLESS_HINT;
      return openAIError(c, 401, message, "invalid_request_error", "invalid_api_key");
    }
    const key = resolution.key;
    c.var.event.keyId = key.id;
    if (key.rateLimit !== null) {
      const wait = deps.limiter.take(key.id, key.rateLimit);
      if (wait > 0) {
        c.header("retry-after", String(wait));
        return openAIError(c, 429, `rate limit of ${key.rateLimit} requests per minute reached for key ${key.id}; retry in ${wait}s`, "rate_limit_error", "rate_limit_exceeded");
      }
    }
    deps.lastUsed.touch(key.id);
    c.set("apiKey", key);
    await next();
  };
}

/** Admin routes: an admin-tier key (or the owner on an open loopback server). */
export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.var.apiKey.tier !== "admin") {
    return openAIError(c, 403, `key ${c.var.apiKey.id} is a client key; this route needs an admin key`, "invalid_request_error", "admin_only");
  }
  await next();
};
