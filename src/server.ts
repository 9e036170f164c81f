import { Hono } from "hono";
import type { AppEnv } from "~/app-env";
import type { Store } from "~/db";
import type { EventRecorder } from "~/features/events/recorder";
import { telemetry } from "~/features/events/telemetry";
import { requireKey, type KeyDeps } from "~/features/keys/middleware";
import { proxyRoutes, type ProxyDeps } from "~/features/proxy/routes";
import { quotaRoutes } from "~/features/quota/routes";
import type { QuotaSource } from "~/features/quota/quota";
import { usageRoutes } from "~/features/usage/routes";
import { log } from "~/lib/log";
import { openAIError } from "~/lib/openai-error";

export interface AppDeps {
  store: Store;
  proxy: ProxyDeps;
  keys: KeyDeps;
  recorder: EventRecorder;
  /** Copilot's own counters (GET /admin/quota); absent without a GitHub token. */
  quota?: QuotaSource;
}

/** The app in one place: middleware order and routes are read top to bottom here. */
export function createApp(deps: AppDeps) {
  const app = new Hono<AppEnv>();

  // Public: liveness only, no key needed.
  app.get("/healthz", (c) => c.json({ status: "ok", eventsDropped: deps.recorder.dropped }));

  // Outermost: the clock starts here, so our own 401/403/429 are recorded too.
  app.use(telemetry(deps.recorder));
  // Everything registered below needs a key: resolution runs once, before any route.
  app.use(requireKey(deps.keys));

  const proxy = proxyRoutes(deps.proxy);
  app.route("/", proxy);
  app.route("/v1", proxy);
  app.route("/admin", usageRoutes(deps.store));
  app.route("/admin", quotaRoutes(deps.quota));

  app.notFound((c) => openAIError(c, 404, `no route for ${c.req.method} ${c.req.path}`, "invalid_request_error", "not_found"));
  app.onError((error, c) => {
    log.error(error);
    return openAIError(c, 500, "internal error in copilot-api; see its log", "server_error");
  });
  return app;
}
