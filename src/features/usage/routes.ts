import { Hono } from "hono";
import type { AppEnv } from "~/app-env";
import { apiError } from "~/lib/api-error";
import { clip } from "~/lib/clip";
import { AppError, describeError } from "~/lib/errors";
import { parseSince } from "~/lib/since";
import { buildReport, parseGroup } from "./report";
import type { UsageStore } from "./store";

/** GET /admin/usage?since=7d&by=model&key=ID: the `usage` report as JSON, for admin keys (server.ts mounts it behind requireAdmin). */
export function usageRoutes(usage: () => Promise<UsageStore>, clock: () => number = Date.now) {
  return new Hono<AppEnv>().get("/usage", async (c) => {
    try {
      // Query values are the client's: bounded, since a refusal echoes them.
      const query = (name: string) => {
        const value = c.req.query(name);
        return value === undefined ? undefined : clip(value);
      };
      const now = clock();
      const options = { since: parseSince(query("since") ?? "24h", now), by: parseGroup("by", query("by") ?? "key"), key: query("key") };
      return c.json(await buildReport(await usage(), options, now));
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      return apiError(c, 400, { message: describeError(error), type: "invalid_request_error", code: "invalid_query" });
    }
  });
}
