import { Hono } from "hono";
import type { AppEnv } from "~/app-env";
import { requireAdmin } from "~/features/keys";
import { AppError, errorMessage } from "~/lib/errors";
import { isLoopback } from "~/lib/net";
import type { GatewayMetrics } from "./gateway-metrics";

const scrape = async (metrics: GatewayMetrics) => {
  const { body, contentType } = await metrics.render();
  return new Response(body, { headers: { "content-type": contentType, "cache-control": "no-store" } });
};

/** GET /metrics on the main listener: admin keys only, like /admin/*. */
export function metricsRoute(metrics: GatewayMetrics) {
  return new Hono<AppEnv>().get("/metrics", requireAdmin, () => scrape(metrics));
}

export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * `--metrics-listen 127.0.0.1:9464`: a listener only this machine can reach, for a scraper
 * without a key. Anything but a loopback address is refused: it would publish key labels
 * and usage to the network without a key.
 */
export function parseMetricsListen(value: string): ListenAddress {
  const match = value.trim().match(/^(\[[^\]]+\]|[^:]+):(\d{1,5})$/);
  const port = match ? Number(match[2]) : Number.NaN;
  if (!match || port > 65_535)
    throw new AppError(`--metrics-listen ${value} is not HOST:PORT`, "use a loopback address and a port, e.g. --metrics-listen 127.0.0.1:9464");
  const host = match[1]!.replace(/^\[|\]$/g, "");
  if (!isLoopback(host)) {
    throw new AppError(
      `--metrics-listen ${value} is not a loopback address: the metrics listener has no key check, so it only listens where nobody else can reach it`,
      "use 127.0.0.1 or [::1] (run a scraper on this machine), or scrape GET /metrics on the main port with an admin key",
    );
  }
  return { host, port };
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
