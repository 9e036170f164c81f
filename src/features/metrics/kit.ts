/** What serving metrics needs, loaded only when --metrics or --metrics-listen asks for it (see index.ts). */
export { GatewayMetrics } from "./gateway-metrics";
export { metricsRoute, serveMetrics } from "./routes";
