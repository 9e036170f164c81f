import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "~/app-env";
import { apiError } from "~/lib/api-error";
import { cmd } from "~/lib/command-name";
import { type KeyResolver, NO_AUTH_KEY_ID, type Resolution, type ResolvedKey } from "./resolver";
import { utcTime } from "./settings";

const REASONS: Record<Exclude<Resolution, { key: unknown }>["reason"], string> = {
  // "… at <time>" is added below.
  expired: "this API key expired",
  missing: "missing API key: send it as `Authorization: Bearer <key>` or `x-api-key: <key>`",
  malformed: "malformed API key: it is not a copilot-api key (wrong prefix, length or checksum); check for a copy-paste error",
  unknown: `unknown API key: create one with \`${cmd("keys create")}\``,
  revoked: "this API key was revoked: ask the owner for a new one",
  no_keys: `this server has no active API key, so every request is refused (revoking the last key does not open a server): create one with \`${cmd("keys create")}\``,
};

/** Said when a key was presented to a store that never held one, where sending none would pass. */
const KEYLESS_HINT = `; this server has no key yet, so from this machine a request without any key passes (or create one with \`${cmd("keys create")}\`)`;

/** Reads the key from either header both OpenAI- and Anthropic-style clients use. */
function presentedSecret(authorization: string | undefined, apiKey: string | undefined): string | undefined {
  const bearer = authorization?.match(/^Bearer\s+(.+)$/i)?.[1]?.trim();
  return bearer || apiKey?.trim() || undefined;
}

/**
 * Who is calling: resolves the presented key into c.get("apiKey") (noted on the
 * event), or answers 401. Requests that pass without a key (as __noauth__) are
 * screened next by the host and cross-site guards (./guards.ts).
 * The client's Authorization and x-api-key headers never reach Copilot: the
 * upstream client builds its headers from a fixed set and copies none.
 */
declare module "hono" {
  interface ContextVariableMap {
    /** The key this request came with (or the __noauth__ sentinel): set by resolveKey. */
    apiKey: ResolvedKey;
  }
}

export function resolveKey(resolver: KeyResolver): MiddlewareHandler<AppEnv> {
  return async function resolveKey(c, next) {
    const resolution = resolver.resolve(presentedSecret(c.req.header("authorization"), c.req.header("x-api-key")));
    if (!("key" in resolution)) {
      if (resolution.keyId) c.get("event").keyId = resolution.keyId; // who still uses a revoked or expired key is worth knowing
      let message = REASONS[resolution.reason];
      if (resolution.expiredAt !== undefined) {
        message += ` at ${utcTime(resolution.expiredAt)}: ask the owner to extend it (\`${cmd(`keys update ${resolution.keyId} --expires 30d`)}\`) or for a new one`;
      }
      if (resolution.keyId) message += ` (${resolution.keyId})`;
      if (resolution.keyless) message += KEYLESS_HINT;
      return apiError(c, 401, { message, type: "invalid_request_error", code: "invalid_api_key" });
    }
    c.get("event").keyId = resolution.key.id;
    c.set("apiKey", resolution.key);
    await next();
  };
}

/** True when the request presents an active admin key (not the key-less __noauth__ caller): for what only admins may see on public routes. */
export function presentsAdminKey(resolver: KeyResolver, c: Context): boolean {
  const resolution = resolver.resolve(presentedSecret(c.req.header("authorization"), c.req.header("x-api-key")));
  return "key" in resolution && resolution.key.tier === "admin" && resolution.key.id !== NO_AUTH_KEY_ID;
}
