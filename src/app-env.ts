import type { ContextVariableMap } from "hono";

/**
 * The typed request context (c.var) that middleware fills and routes read.
 * Each variable is declared beside the middleware that sets it (a
 * ContextVariableMap augmentation, as Hono's own request-id middleware does):
 * apiKey in features/keys/resolve-key.ts, event in features/events/telemetry.ts,
 * errorShape in server.ts, trace in lib/trace-hook.ts, upstream in features/credentials/middleware.ts.
 * Read them with c.get(name), not c.get("name"): Hono's c.var builds an object of every
 * variable on each access (Object.fromEntries), a dozen times per request.
 */
export interface AppEnv {
  Variables: ContextVariableMap;
}
