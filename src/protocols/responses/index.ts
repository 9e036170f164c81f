import type { Protocol } from "~/protocols/pipeline";
import { type ResponsesStore, responsesRoute, storedResponseRoutes } from "./routes";

/** The paths this protocol serves (at / and /v1), as events record them. */
export const RESPONSES_PATHS = { usage: ["/responses"], other: [] } as const;

/**
 * OpenAI's Responses API, mounted at / and /v1: POST /responses on every model of the plan
 * (passed through to Copilot's /responses for models whose catalog entry lists it, translated
 * to /chat/completions for the others), and the stored responses of the calling key.
 * Copilot's errors go back as it said them: its chat errors are already in OpenAI's shape.
 */
export function responsesProtocol(store: ResponsesStore): Protocol {
  return {
    paths: RESPONSES_PATHS,
    models: [responsesRoute(store)],
    extraRoutes: (routes) => storedResponseRoutes(routes, store),
  };
}
