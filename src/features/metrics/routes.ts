import { Hono } from "hono";
import type { AppEnv } from "~/app-env";
import { requireAdmin } from "~/features/keys";
import { AppError, errorMessage } from "~/lib/errors";
import type { GatewayMetrics } from "./gateway-metrics";
import type { ListenAddress } from "./listen-address";

const scrape = async (metrics: GatewayMetrics) => {
  const { body, contentType } = await metrics.render();
  return new Response(body, { headers: { "content-type": contentType, "cache-control": "no-store" } });
};

/** GET /metrics on the main listener: admin keys only, like /admin/*. */
export function metricsRoute(metrics: GatewayMetrics) {
  return new Hono<AppEnv>().get("/metrics", requireAdmin, () => scrape(metrics));
}

/** Serves GET /metrics (and nothing else) on the loopback address; the caller stops it. */
export function serveMetrics(address: ListenAddress, metrics: GatewayMetrics): ReturnType<typeof Bun.serve> {
  try {
    return Bun.serve({
      hostname: address.host,
      port: address.port,
      fetch: (request) => (new URL(request.url).pathname === "/metrics" ? scrape(metrics) : new Response("only GET /metrics here\n", { status: 404 })),
    });
  } catch (error) {
    throw new AppError(`cannot listen for metrics on ${address.host}:${address.port}: ${errorMessage(error)}`, "pick another --metrics-listen port");
  }
}
