import { dirname, sep } from "node:path";
import { Hono } from "hono";
import type { AppEnv } from "~/app-env";
import type { Store } from "~/db";
import { auditRoute } from "~/features/audit";
import { chooseUpstream, UpstreamRouter } from "~/features/credentials";
import { type AdminStore, dashboardRoutes, eventsCsvRoute, sqliteAdmin } from "~/features/dashboard";
import { type EventRecorder, telemetry } from "~/features/events";
import {
  CreditBudget,
  creditBudget,
  crossSiteGuard,
  hostGuard,
  type KeyPolicy,
  type KeyResolver,
  type LastUsedTracker,
  noteLastUsed,
  type PremiumUsage,
  premiumQuota,
  presentsAdminKey,
  type RateLimiter,
  rateLimit,
  requireAdmin,
  resolveKey,
  type SharedBudget,
  type SharedLimit,
  type SharedRateLimiter,
} from "~/features/keys";
import type { QuotaSource } from "~/features/quota/quota";
import { quotaRoutes } from "~/features/quota/routes";
import { type SeatWindows, windowGate, windowsReport } from "~/features/quota/windows";
import type { StoredResponses } from "~/features/responses";
import type { Tracing } from "~/features/tracing";
import { usageRoutes } from "~/features/usage/routes";
import { apiError, type ErrorShape, openAIShape } from "~/lib/api-error";
import { clip } from "~/lib/clip";
import { log } from "~/lib/log";
import { ANTHROPIC_PATHS, anthropicProtocol, anthropicShape, speaksAnthropic, type TokenCounter } from "~/protocols/anthropic";
import { BodyReads } from "~/protocols/body-read";
import { openAIProtocol } from "~/protocols/openai";
import { type ProtocolDeps, protocolRoutes } from "~/protocols/pipeline";
import { RESPONSES_PATHS, responsesProtocol } from "~/protocols/responses";
import type { UpstreamChoice } from "~/upstream/forwarder";

declare module "hono" {
  interface ContextVariableMap {
    /** How errors are worded for this request: its protocol's shape (set first, below). */
    errorShape: ErrorShape;
  }
}

export interface AppDeps {
  /** The SQLite store; absent when serving from PostgreSQL. */
  store?: Store;
  /** The admin plane (dashboard, /admin/usage, /admin/events.csv, /admin/audit) on PostgreSQL; over `store` when absent. */
  admin?: AdminStore;
  recorder: EventRecorder;
  keys: {
    policy: KeyPolicy;
    resolver: KeyResolver;
    limiter: RateLimiter | SharedRateLimiter;
    lastUsed: LastUsedTracker;
    premium: PremiumUsage | SharedLimit;
    budget?: CreditBudget | SharedBudget;
  };
  /** The default GitHub token's Copilot client and catalog (absent without one), and the body limits. */
  upstream: ProtocolDeps & UpstreamChoice;
  /** Chooses each request's Copilot seat (credentials, --pool); without one, every request uses `upstream`. */
  router?: UpstreamRouter;
  /** Stored responses (Responses API); `storing` is false with --no-store-responses. */
  responses: { stored: StoredResponses; storing: boolean };
  /** Absent without a GitHub token: /admin/quota then answers 503. */
  quota?: QuotaSource;
  /** count_tokens' thread, stopped with the other workers; the Anthropic routes make their own when absent. */
  tokens?: TokenCounter;
  /** GET /metrics for admin keys (--metrics / --metrics-listen); absent, it is not served. */
  metricsRoute?: Hono<AppEnv>;
  /** OpenTelemetry tracing (--otlp-endpoint); absent, no span and no OpenTelemetry code runs. */
  tracing?: Tracing;
  /** Litestream replicating the store (--replicate-to): its persistent failures make /healthz degraded. */
  replication?: { problems(): string[] };
  /** Each Copilot seat's windows, for /admin/quota and /healthz. */
  windows?: SeatWindows;
  /** --reserve-window: the last percent of each Copilot window kept for admin keys. */
  reserveWindowPercent?: number;
  /** Wall clock (Unix ms) for dashboard sessions and usage windows; tests inject one. Date.now by default. */
  now?: () => number;
}

/** The routes each protocol records, by protocol: telemetry's list and the metrics' protocol label. */
export const PROTOCOL_ROUTES = { openai: openAIProtocol.paths, anthropic: ANTHROPIC_PATHS, responses: RESPONSES_PATHS };

/**
 * The app in one place: the request pipeline (who may call, in what order,
 * what is recorded) and the routes, read top to bottom.
 */
export function createApp(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  const protocols = [openAIProtocol, anthropicProtocol(deps.tokens), responsesProtocol({ ...deps.responses, bodyLimitBytes: deps.upstream.bodyLimitBytes })];

  // First: errors are worded in the protocol the client speaks (Anthropic's on its routes).
  app.use(async function errorShape(c, next) {
    c.set("errorShape", speaksAnthropic(c.req.path, c.req) ? anthropicShape : openAIShape);
    await next();
  });

  // Public, no key needed. 503 "degraded" with the reasons when the server runs
  // but does not do its job: events dropped in the last minute, the store not
  // writable, the database file deleted/replaced under it (restart it), or
  // replication failing for a while (or stopped past its local size limit).
  // The database's folder is named to admin keys only: to anyone else the reasons name just the file.
  const store = deps.store;
  const dataFolder = store ? `${dirname(store.path)}${sep}` : undefined;
  app.get("/healthz", (c) => {
    const fileProblem = store?.fileProblem();
    let reasons = [...(fileProblem ? [`${fileProblem}: restart copilot-api`] : []), ...deps.recorder.problems(), ...(deps.replication?.problems() ?? [])];
    if (dataFolder && reasons.length && !presentsAdminKey(deps.keys.resolver, c)) reasons = reasons.map((reason) => reason.replaceAll(dataFolder, ""));
    // Copilot's windows are information, never a reason to be degraded: the gateway answers for an exhausted one.
    const windows = windowsReport(deps.windows ?? (() => []));
    const body = {
      status: reasons.length ? "degraded" : "ok",
      eventsDropped: deps.recorder.dropped,
      eventsNotStored: deps.recorder.notStored,
      reasons,
      windows,
    };
    return c.json(body, reasons.length ? 503 : 200);
  });

  // A browser pointed at the server finds the dashboard.
  app.get("/", (c) => c.redirect("/dashboard", 302));

  // The dashboard: an admin key signs in once, then its own session cookie (not a key) is checked: before the key pipeline.
  const pgAdmin = deps.admin;
  const admin = pgAdmin ? async () => pgAdmin : store ? sqliteAdmin(store) : undefined;
  if (!admin) throw new Error("createApp needs a store: the SQLite store or the admin plane on PostgreSQL");
  app.route("/", dashboardRoutes({ store: admin, quota: deps.quota, windows: deps.windows, now: deps.now, recorder: deps.recorder }));

  // One span per request (when tracing is on), ended once its event is committed.
  if (deps.tracing) app.use(deps.tracing.middleware);
  // The clock starts here, so every refusal below is recorded too (for the protocol routes).
  app.use(telemetry(deps.recorder, ...protocols.map((protocol) => protocol.paths)));
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
  // The key's --budget of AI credits for this calendar month (429 budget_exceeded until the 1st, UTC).
  const budget = deps.keys.budget ?? (store && new CreditBudget(store));
  if (budget) app.use(creditBudget(budget));
  // The key was used: keys.last_used_at, written in batches.
  app.use(noteLastUsed(deps.keys.lastUsed));
  // Which Copilot seat answers: the key's credential, the pool, or the default GitHub token (c.get("upstream")).
  app.use(chooseUpstream(deps.router ?? new UpstreamRouter(deps.upstream)));
  // That seat's Copilot windows: exhausted (429 until the reset, probing once a minute), or inside --reserve-window for client keys.
  app.use(windowGate(deps.reserveWindowPercent ?? 0, new Set(protocols.flatMap((protocol) => protocol.paths.usage))));
  // /admin/* takes admin keys only (403 for a client key), whatever feature serves the route.
  app.use("/admin/*", requireAdmin);

  // The protocols, each at / and /v1, each an adapter over protocols/pipeline.ts; one count of arriving bodies per address for all.
  const upstream = { ...deps.upstream, bodyReads: deps.upstream.bodyReads ?? new BodyReads() };
  for (const protocol of protocols) {
    const routes = protocolRoutes(protocol, upstream);
    app.route("/", routes);
    app.route("/v1", routes);
  }
  // Behind requireAdmin (above).
  app.route(
    "/admin",
    usageRoutes(async () => (await admin()).usage, deps.now),
  );
  app.route("/admin", eventsCsvRoute(admin));
  app.route(
    "/admin",
    auditRoute(async () => (await admin()).audit),
  );
  app.route("/admin", quotaRoutes(deps.quota, deps.windows));
  // Prometheus metrics for admin keys (a keyless scraper uses --metrics-listen on loopback).
  if (deps.metricsRoute) app.route("/", deps.metricsRoute);

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
