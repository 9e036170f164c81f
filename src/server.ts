import { Hono } from "hono";
import type { AppEnv } from "~/app-env";
import type { Store } from "~/db";
import type { EventRecorder } from "~/features/events/recorder";
import { telemetry } from "~/features/events/telemetry";
import { crossSiteGuard, hostGuard, type GuardOptions } from "~/features/keys/guards";
import { requireKey, type KeyDeps } from "~/features/keys/middleware";
import { proxyRoutes, type ProxyDeps } from "~/features/proxy/routes";
import { quotaRoutes } from "~/features/quota/routes";
import type { QuotaSource } from "~/features/quota/quota";
import { usageRoutes } from "~/features/usage/routes";
import { clip } from "~/lib/clip";
import { log } from "~/lib/log";
import { openAIError } from "~/lib/openai-error";

export interface AppDeps {
  store: Store;
  proxy: ProxyDeps;
  keys: KeyDeps;
  guards: GuardOptions;
  recorder: EventRecorder;
  /** Copilot's own counters (GET /admin/quota); absent without a GitHub token. */
  quota?: QuotaSource;
}

/** The app in one place: middleware order and routes are read top to bottom here. */
export function createApp(deps: AppDeps) {
  const app = new Hono<AppEnv>();

  // Public, no key needed. 503 "degraded" with the reasons when the server runs
  // but does not do its job: events dropped in the last minute, the store not
  // writable, or the database file deleted/replaced under it (restart it).
  app.get("/healthz", (c) => {
    const fileProblem = deps.store.fileProblem();
    const reasons = [...(fileProblem ? [`${fileProblem}: restart copilot-api`] : []), ...deps.recorder.problems()];
    const body = { status: reasons.length ? "degraded" : "ok", eventsDropped: deps.recorder.dropped, eventsNotStored: deps.recorder.notStored, reasons };
    return c.json(body, reasons.length ? 503 : 200);
  });

  // Outermost: the clock starts here, so our own 401/403/429 are recorded too.
  app.use(telemetry(deps.recorder));
  // Everything registered below needs a key: resolution runs once, before any route.
  app.use(requireKey(deps.keys));
  // Requests that passed without a key must name this machine in Host (DNS rebinding).
  app.use(hostGuard(deps.guards));
  // …and must not come from another site's web page (Origin, Sec-Fetch-Site).
  app.use(crossSiteGuard(deps.guards));

  const proxy = proxyRoutes(deps.proxy);
  app.route("/", proxy);
  app.route("/v1", proxy);
  app.route("/admin", usageRoutes(deps.store));
  app.route("/admin", quotaRoutes(deps.quota));

  // Method and path are the client's: bounded before they are echoed.
  app.notFound((c) => openAIError(c, 404, `no route for ${clip(c.req.method, 20)} ${clip(c.req.path)}`, "invalid_request_error", "not_found"));
  app.onError((error, c) => {
    log.error(error);
    return openAIError(c, 500, "internal error in copilot-api; see its log", "server_error");
  });
  return app;
}
