/** The metrics feature's public face: Prometheus metrics counted from committed events, served at /metrics. */
export { GatewayMetrics } from "./gateway-metrics";
export { type ListenAddress, metricsRoute, parseMetricsListen, serveMetrics } from "./routes";
