import { Hono } from "hono";
import type { AppEnv } from "~/app-env";
import { apiError } from "~/lib/api-error";
import { cmd } from "~/lib/command-name";
import { AppError, errorMessage } from "~/lib/errors";
import { log } from "~/lib/log";
import { GithubTokenRejected } from "~/upstream/copilot-token";
import type { QuotaSource } from "./quota";
import { type SeatWindows, windowsReport } from "./windows";

/**
 * GET /admin/quota: Copilot's own counters for this server's GitHub account, and each seat's session and
 * weekly windows as last seen, for admin keys (server.ts mounts it behind requireAdmin).
 */
export function quotaRoutes(source: QuotaSource | undefined, seats: SeatWindows = () => []) {
  return new Hono<AppEnv>().get("/quota", async (c) => {
    if (!source) {
      return apiError(c, 503, {
        message: `copilot-api has no GitHub token: run \`${cmd("auth")}\`, or start it with --github-token or GH_TOKEN`,
        type: "server_error",
        code: "not_authenticated",
      });
    }
    try {
      return c.json({ ...(await source.get()), windows: windowsReport(seats) });
    } catch (error) {
      if (error instanceof GithubTokenRejected) {
        c.header("x-should-retry", "false");
        return apiError(c, 503, { message: `${error.message}; ${error.hint}`, type: "server_error", code: "github_token_rejected" });
      }
      if (!(error instanceof AppError)) throw error;
      log.warn(`quota: ${errorMessage(error)}`);
      return apiError(c, 502, {
        message: error.hint ? `${error.message}; ${error.hint}` : error.message,
        type: "upstream_error",
        code: "upstream_unavailable",
      });
    }
  });
}
