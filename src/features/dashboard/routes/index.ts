import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { DashboardEnv } from "../env";
import { REFUSALS, refusal } from "../pages/layout";
import { assetRoutes } from "./assets";
import { auditRoutes } from "./audit";
import { type DashboardDeps, dashboardOf } from "./context";
import { eventsRoutes } from "./events";
import { dashboardEventsCsv } from "./events-csv";
import { keyEditRoutes } from "./key-edit";
import { keysRoutes } from "./keys";
import { securityHeaders } from "./security-headers";
import { signInRoutes } from "./sign-in";
import { signInLinkRoute } from "./sign-in-link";
import { usageRoutes } from "./usage";

export type { DashboardDeps } from "./context";
export { exportCsv } from "./events-csv";

/** The dashboard under /dashboard: its own sign-in and session cookie, separate from the API key pipeline. Each page is its own module. */
export function dashboardRoutes(deps: DashboardDeps) {
  const d = dashboardOf(deps);
  const app = new Hono<DashboardEnv>();
  app.use(securityHeaders);
  // Forms are small: nothing larger is read.
  app.use(bodyLimit({ maxSize: 64 * 1024, onError: (c) => c.text("form too large (64 KB at most)", 413) }));

  app.route("/", assetRoutes());
  // A one-time link from `copilot-api dashboard` (no key typed into a form).
  app.route("/", signInLinkRoute(d));
  app.route("/", signInRoutes(d));
  app.route("/", usageRoutes(d));
  app.route("/", keysRoutes(d));
  app.route("/", keyEditRoutes(d));
  app.route("/", eventsRoutes(d));
  app.route("/", dashboardEventsCsv(d));
  app.route("/", auditRoutes(d));

  // Nothing under /dashboard falls through to the API key pipeline.
  app.all("*", (c) => refusal(c, 404, REFUSALS.notFound));
  return app;
}
