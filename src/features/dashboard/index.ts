import { Hono } from "hono";
import type { AppEnv } from "~/app-env";
import type { Store } from "~/db";
import type { DashboardDeps } from "./routes";
import type { AdminStore } from "./store";

/*
 * The dashboard's public face. Its code (pages, JSX, queries, CSV) is loaded on the first
 * request that needs it, not at boot: a gateway nobody browses never loads it.
 */

export type { AdminStore } from "./store";

type RoutesModule = typeof import("./routes");
let routesModule: Promise<RoutesModule> | undefined;
const routes = () => (routesModule ??= import("./routes"));

/** The admin plane's store over the SQLite file, built on its first use (its modules loaded then). */
export function sqliteAdmin(store: Store): () => Promise<AdminStore> {
  let built: Promise<AdminStore> | undefined;
  return () => (built ??= import("./store").then(({ sqliteAdminStore }) => sqliteAdminStore(store)));
}

/** Its routes under /dashboard, built on the first request there (the caller mounts this at the root). */
export function dashboardRoutes(deps: Omit<DashboardDeps, "store"> & { store: () => Promise<AdminStore> }) {
  let built: Promise<Hono<AppEnv>> | undefined;
  const build = async () => {
    const [{ dashboardRoutes: make }, store] = await Promise.all([routes(), deps.store()]);
    // Thrown errors go on to the gateway's own onError (logged, a 500 in the protocol's shape), as when it was mounted directly.
    return new Hono<AppEnv>().route("/dashboard", make({ ...deps, store })).onError((error) => {
      throw error;
    });
  };
  const app = () => (built ??= build());
  // The dashboard answers every path under /dashboard (its own 404 page included): nothing falls through.
  return new Hono<AppEnv>().use("/dashboard/*", async (c) => (await app()).fetch(c.req.raw, c.env));
}

/** GET /admin/events.csv?since=…&key=…: the export for admin keys (behind requireAdmin in server.ts). */
export function eventsCsvRoute(admin: () => Promise<AdminStore>) {
  return new Hono<AppEnv>().get("/events.csv", async (c) => {
    const [{ exportCsv }, { events }] = await Promise.all([routes(), admin()]);
    return exportCsv(c, events, Date.now());
  });
}
