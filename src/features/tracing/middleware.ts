import type { Attributes } from "@opentelemetry/api";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "~/app-env";
import type { EventDraft } from "~/features/events";
import { clip } from "~/lib/clip";
import { OtelRequestTrace, type OtelTracing } from "./otel";

/** GenAI semantic conventions' operation for each model route (without /v1); other routes are plain HTTP spans. */
const OPERATIONS: Record<string, string> = {
  "/chat/completions": "chat",
  "/messages": "chat",
  "/responses": "chat",
  "/embeddings": "embeddings",
  "/messages/count_tokens": "count_tokens",
};

/** Copilot's upstream path for the client's route means the request went natively (not translated through chat). */
const isNative = (route: string, upstreamPath: string) => upstreamPath.endsWith(route);

/**
 * What a finished request's span says: the GenAI conventions (operation, requested and answering
 * model, token usage) and the gateway's own (key id, initiator, native or translated). Never a
 * prompt or an answer; the requested model is the client's text, so it is bounded.
 */
function endAttributes(route: string, draft: EventDraft | undefined, upstreamPath: string | undefined): Attributes {
  const attributes: Attributes = { "http.route": route };
  const operation = OPERATIONS[route];
  if (operation) {
    attributes["gen_ai.operation.name"] = operation;
    attributes["gen_ai.provider.name"] = "github_copilot";
    attributes["gen_ai.system"] = "github_copilot";
  }
  if (!draft) return attributes;
  attributes["copilot_api.key.id"] = draft.keyId;
  if (draft.model) attributes["gen_ai.request.model"] = clip(draft.model, 200);
  if (draft.upstreamModel) attributes["gen_ai.response.model"] = clip(draft.upstreamModel, 200);
  if (draft.promptTokens !== null) attributes["gen_ai.usage.input_tokens"] = draft.promptTokens;
  if (draft.completionTokens !== null) attributes["gen_ai.usage.output_tokens"] = draft.completionTokens;
  if (draft.initiator) attributes["copilot_api.initiator"] = draft.initiator;
  if (draft.error) attributes["copilot_api.error"] = draft.error;
  attributes["copilot_api.stream"] = draft.stream;
  if (upstreamPath) attributes["copilot_api.path"] = isNative(route, upstreamPath) ? "native" : "translated";
  return attributes;
}

/** One span per request, from arrival to the event's commit (a stream's: its last byte). */
export function tracingMiddleware(otel: OtelTracing): MiddlewareHandler<AppEnv> {
  return async function tracing(c, next) {
    const route = c.req.path.replace(/^\/v1(?=\/)/, "");
    const request = new OtelRequestTrace(otel.tracer, c.req.raw.headers, `${c.req.method} ${route}`, { "http.request.method": c.req.method });
    c.set("trace", request);
    await next();
    const draft = c.get("event") as EventDraft | undefined;
    const finish = () => {
      const attributes = endAttributes(route, draft, request.upstreamPath);
      const operation = attributes["gen_ai.operation.name"];
      if (operation && attributes["gen_ai.request.model"]) request.span.updateName(`${operation} ${attributes["gen_ai.request.model"]}`);
      request.end(attributes, c.res.status);
    };
    if (draft?.recorded) void draft.recorded.then(finish, finish);
    else finish();
  };
}
