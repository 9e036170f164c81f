import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "~/app-env";
import type { Worker } from "~/lib/worker";

/** Tracing when on: the request middleware, and a worker whose stop() flushes the last spans. */
export interface Tracing extends Worker {
  middleware: MiddlewareHandler<AppEnv>;
}

/**
 * Loads OpenTelemetry only now (--otlp-endpoint / OTEL_EXPORTER_OTLP_ENDPOINT was given), so a
 * gateway without it never loads the SDK: its boot and its requests are as before.
 */
export async function loadTracing(endpoint: string, version: string): Promise<Tracing> {
  const [{ startOtel }, { tracingMiddleware }] = await Promise.all([import("./otel"), import("./middleware")]);
  const otel = startOtel(endpoint, version);
  return { middleware: tracingMiddleware(otel), start() {}, stop: () => otel.shutdown() };
}
