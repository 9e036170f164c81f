import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "~/app-env";
import { apiError } from "~/lib/api-error";

/** Admin routes: an admin-tier key (or the owner on an open loopback server). */
export const requireAdmin: MiddlewareHandler<AppEnv> = async function requireAdmin(c, next) {
  if (c.get("apiKey").tier !== "admin") {
    return apiError(c, 403, {
      message: `key ${c.get("apiKey").id} is a client key; this route needs an admin key`,
      type: "invalid_request_error",
      code: "admin_only",
    });
  }
  await next();
};
