import { Hono } from "hono";
import type { AppEnv } from "~/app-env";
import type { Store } from "~/db";
import { requireAdmin } from "~/features/keys/middleware";
import { AppError } from "~/lib/errors";
import { openAIError } from "~/lib/openai-error";
import { buildReport } from "./report";

/** GET /admin/usage?since=7d&by=model&key=ID: the `usage` report as JSON, for admin keys. */
export function usageRoutes(store: Store) {
  return new Hono<AppEnv>().get("/usage", requireAdmin, (c) => {
    try {
      return c.json(buildReport(store.db, { since: c.req.query("since") ?? "24h", by: c.req.query("by") ?? "key", key: c.req.query("key") }));
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      return openAIError(c, 400, `${error.message.replace(/^--/, "")}; ${error.hint ?? ""}`.trim(), "invalid_request_error", "invalid_query");
    }
  });
}
