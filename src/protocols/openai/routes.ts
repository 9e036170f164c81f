import { Hono } from "hono";
import type { AppEnv } from "~/app-env";
import { observeFor } from "~/features/events";
import { premiumMultiplier } from "~/upstream/model-catalog";
import { forwardAndRelay } from "~/upstream/relay";
import { requireJsonBody } from "../json-body";
import { getModel, listModels } from "../models";
import { acceptModelRequest, jsonBodyLimit } from "../request-checks";
import { chatHasImages, chatInitiator } from "./initiator";
import { chatCompletionRequest, embeddingsRequest } from "./request-schemas";
import { completeAnswer, completeChunks } from "./strict-fields";
import { openAIUsage } from "./usage";

export interface OpenAIDeps {
  bodyLimitBytes: number;
}

/** The paths this protocol serves (mounted at / and /v1), as events record them. */
export const OPENAI_ROUTES = { usage: ["/chat/completions", "/embeddings"], other: ["/models"] } as const;

/** OpenAI Chat Completions, embeddings and models, mounted at / and /v1 by server.ts. */
export function openAIRoutes(deps: OpenAIDeps) {
  const routes = new Hono<AppEnv>();
  const limit = jsonBodyLimit(deps.bodyLimitBytes);

  routes.post("/chat/completions", requireJsonBody, limit, async (c) => {
    const body = await acceptModelRequest(c, chatCompletionRequest);
    if (body instanceof Response) return body;
    const messages = body.json.messages as Parameters<typeof chatInitiator>[0];
    const model = body.json.model as string;
    // What a person's request to this model costs in premium requests, as the catalog says now.
    // Right after a start the catalog may still be loading: wait for it, or the first requests would be billed as free.
    c.var.event.premiumMultiplier = premiumMultiplier(await c.var.upstream.catalog?.resolveOrRefresh(model));
    return forwardAndRelay(
      c,
      c.var.upstream.copilot,
      { method: "POST", path: "/chat/completions", body: body.text, vision: chatHasImages(messages), initiator: chatInitiator(messages) },
      observeFor(c.var.event, openAIUsage),
      // Strict clients (the OpenAI Python SDK) need the `object` (and `model`) Copilot leaves out.
      { transform: completeChunks(model), rewriteAnswer: completeAnswer(model), model },
    );
  });

  routes.post("/embeddings", requireJsonBody, limit, async (c) => {
    const body = await acceptModelRequest(c, embeddingsRequest);
    if (body instanceof Response) return body;
    return forwardAndRelay(c, c.var.upstream.copilot, { method: "POST", path: "/embeddings", body: body.text }, observeFor(c.var.event, openAIUsage));
  });

  // Answered from the model catalog (Anthropic's shape with an anthropic-version header).
  routes.get("/models", (c) => listModels(c, c.var.upstream));
  routes.get("/models/:id", (c) => getModel(c, c.var.upstream, c.req.param("id")));
  return routes;
}
