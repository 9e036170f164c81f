/** The metrics feature's public face: Prometheus metrics counted from committed events, served at /metrics. */
export type { GatewayMetrics } from "./gateway-metrics";
export { type ListenAddress, parseMetricsListen } from "./listen-address";

/** GatewayMetrics, metricsRoute and serveMetrics: prom-client and the OpenTelemetry API it imports. */
export type MetricsKit = typeof import("./kit");

/** Loads the metrics code (prom-client and what it imports) only when metrics are asked for: a plain start never loads it. */
export const loadMetrics = (): Promise<MetricsKit> => import("./kit");
