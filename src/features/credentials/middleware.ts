import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "~/app-env";
import type { UpstreamChoice } from "~/upstream/forwarder";
import type { UpstreamRouter } from "./router";

declare module "hono" {
  interface ContextVariableMap {
    /** The Copilot client and catalog this request uses: its key's seat, the pool, or the default token. */
    upstream: UpstreamChoice;
  }
}

/** The one step of the request path that picks the Copilot seat: c.get("upstream"), read by every protocol route. */
export function chooseUpstream(router: UpstreamRouter): MiddlewareHandler<AppEnv> {
  return async function chooseUpstream(c, next) {
    c.set("upstream", router.forRequest(c.get("apiKey"), c.get("event")));
    await next();
  };
}
