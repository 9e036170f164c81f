import { Hono } from "hono";
import type { AppEnv } from "~/app-env";
import type { Store } from "~/db";
import { dashboardRoutes, eventsCsvRoute } from "~/features/dashboard";
import { type EventRecorder, telemetry } from "~/features/events";
import {
  crossSiteGuard,
  hostGuard,
  type KeyPolicy,
  type KeyResolver,
  type LastUsedTracker,
  noteLastUsed,
  type PremiumUsage,
  premiumQuota,
  type RateLimiter,
  rateLimit,
  requireAdmin,
  resolveKey,
} from "~/features/keys";
import type { QuotaSource } from "~/features/quota/quota";
import { quotaRoutes } from "~/features/quota/routes";
import type { StoredResponses } from "~/features/responses";
import { usageRoutes } from "~/features/usage/routes";
import { apiError, type ErrorShape, openAIShape } from "~/lib/api-error";
import { clip } from "~/lib/clip";
import { log } from "~/lib/log";
import { ANTHROPIC_ROUTES, anthropicRoutes, anthropicShape, speaksAnthropic } from "~/protocols/anthropic";
import { OPENAI_ROUTES, type OpenAIDeps, openAIRoutes } from "~/protocols/openai";
import { RESPONSES_ROUTES, responsesRoutes } from "~/protocols/responses";

declare module "hono" {
  interface ContextVariableMap {
    /** How errors are worded for this request: its protocol's shape (set first, below). */
    errorShape: ErrorShape;
  }
}

export interface AppDeps {
  store: Store;
  recorder: EventRecorder;
  keys: { policy: KeyPolicy; resolver: KeyResolver; limiter: RateLimiter; lastUsed: LastUsedTracker; premium: PremiumUsage };
  upstream: OpenAIDeps;
  /** Stored responses (Responses API); `storing` is false with --no-store-responses. */
  responses: { stored: StoredResponses; storing: boolean };
  /** Absent without a GitHub token: /admin/quota then answers 503. */
  quota?: QuotaSource;
  /** Wall clock (Unix ms) for dashboard sessions; tests inject one. Date.now by default. */
  now?: () => number;
}

/**
 * The app in one place: the request pipeline (who may call, in what order,
 * what is recorded) and the routes, read top to bottom.
 */
export function createApp(deps: AppDeps) {
  const app = new Hono<AppEnv>();

  // First: errors are worded in the protocol the client speaks (Anthropic's on its routes).
  app.use(async function errorShape(c, next) {
    c.set("errorShape", speaksAnthropic(c.req.path, c.req) ? anthropicShape : openAIShape);
    await next();
  });

  // Public, no key needed. 503 "degraded" with the reasons when the server runs
  // but does not do its job: events dropped in the last minute, the store not
  // writable, or the database file deleted/replaced under it (restart it).
  app.get("/healthz", (c) => {
    const fileProblem = deps.store.fileProblem();
    const reasons = [...(fileProblem ? [`${fileProblem}: restart copilot-api`] : []), ...deps.recorder.problems()];
    const body = { status: reasons.length ? "degraded" : "ok", eventsDropped: deps.recorder.dropped, eventsNotStored: deps.recorder.notStored, reasons };
    return c.json(body, reasons.length ? 503 : 200);
  });

  // The dashboard: an admin key signs in once, then its own session cookie (not a key) is checked: before the key pipeline.
  app.route("/dashboard", dashboardRoutes({ store: deps.store, quota: deps.quota, now: deps.now }));

  // The clock starts here, so every refusal below is recorded too (for the protocol routes).
  app.use(telemetry(deps.recorder, OPENAI_ROUTES, ANTHROPIC_ROUTES, RESPONSES_ROUTES));
  // Who is calling: the presented key, always checked (401); once per request.
  app.use(resolveKey(deps.keys.resolver));
  // Requests that passed without a key must name this machine in Host (DNS rebinding)…
  app.use(hostGuard(deps.keys.policy));
  // …and must not come from another site's web page (Origin, Sec-Fetch-Site).
  app.use(crossSiteGuard(deps.keys.policy));
  // The key's --rate-limit (429 with Retry-After).
  app.use(rateLimit(deps.keys.limiter));
  // The key's --premium-quota for this calendar month (429 until the 1st, UTC).
  app.use(premiumQuota(deps.keys.premium));
  // The key was used: keys.last_used_at, written in batches.
  app.use(noteLastUsed(deps.keys.lastUsed));
  // /admin/* takes admin keys only (403 for a client key), whatever feature serves the route.
  app.use("/admin/*", requireAdmin);

  // The protocols, each at / and /v1.
  const openai = openAIRoutes(deps.upstream);
  app.route("/", openai);
  app.route("/v1", openai);
  const anthropic = anthropicRoutes(deps.upstream);
  app.route("/", anthropic);
  app.route("/v1", anthropic);
  const responses = responsesRoutes({ ...deps.upstream, ...deps.responses });
  app.route("/", responses);
  app.route("/v1", responses);
  // Behind requireAdmin (above).
  app.route("/admin", usageRoutes(deps.store));
  app.route("/admin", quotaRoutes(deps.quota));
  app.route("/admin", eventsCsvRoute(deps.store));

  // Method and path are the client's: bounded before they are echoed.
  app.notFound((c) =>
    apiError(c, 404, { message: `no route for ${clip(c.req.method, 20)} ${clip(c.req.path)}`, type: "invalid_request_error", code: "not_found" }),
  );
  app.onError((error, c) => {
    log.error(error);
    return apiError(c, 500, { message: "internal error in copilot-api; see its log", type: "server_error" });
  });
  return app;
}
