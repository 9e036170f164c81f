import { Hono } from "hono";
import type { Store } from "~/db";
import { log } from "~/lib/log";
import { openAIError } from "~/lib/openai-error";

export interface AppDeps {
  store: Store;
}

/** The app in one place: middleware order and routes are read top to bottom here. */
export function createApp(_deps: AppDeps) {
  const app = new Hono();

  app.get("/healthz", (c) => c.json({ status: "ok" }));

  app.notFound((c) => openAIError(c, 404, `no route for ${c.req.method} ${c.req.path}`, "invalid_request_error", "not_found"));
  app.onError((error, c) => {
    log.error(error);
    return openAIError(c, 500, "internal error in copilot-api; see its log", "server_error");
  });
  return app;
}
