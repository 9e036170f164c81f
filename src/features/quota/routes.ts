import { Hono } from "hono";
import type { AppEnv } from "~/app-env";
import { requireAdmin } from "~/features/keys/middleware";
import { AppError, errorMessage } from "~/lib/errors";
import { log } from "~/lib/log";
import { openAIError } from "~/lib/openai-error";
import { GithubTokenRejected } from "~/upstream/copilot-token";
import type { QuotaSource } from "./quota";

/** GET /admin/quota: Copilot's own counters for this server's GitHub account, for admin keys. */
export function quotaRoutes(source: QuotaSource | undefined) {
  return new Hono<AppEnv>().get("/quota", requireAdmin, async (c) => {
    if (!source) {
      return openAIError(
        c,
        503,
        "copilot-api has no GitHub token: run `copilot-api auth`, or start it with --github-token or GH_TOKEN",
        "server_error",
        "not_authenticated",
      );
    }
    try {
      return c.json(await source.get());
    } catch (error) {
      if (error instanceof GithubTokenRejected) {
        c.header("x-should-retry", "false");
        return openAIError(c, 503, `${error.message}; ${error.hint}`, "server_error", "github_token_rejected");
      }
      if (!(error instanceof AppError)) throw error;
      log.warn(`quota: ${errorMessage(error)}`);
      return openAIError(c, 502, error.hint ? `${error.message}; ${error.hint}` : error.message, "upstream_error", "upstream_unavailable");
    }
  });
}
