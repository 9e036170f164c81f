import { Hono } from "hono";
import type { AppEnv } from "~/app-env";
import { observeFor } from "~/features/events";
import type { CopilotClient } from "~/upstream/copilot-client";
import { type ModelCatalog, premiumMultiplier } from "~/upstream/model-catalog";
import { forwardAndRelay } from "~/upstream/relay";
import { type BodyDeps, readBodyWithin } from "../body-read";
import { requireJsonBody } from "../json-body";
import { getModel, listModels } from "../models";
import { acceptModelRequest } from "../request-checks";
import { chatHasImages, chatInitiator } from "./initiator";
import { chatCompletionRequest, embeddingsRequest } from "./request-schemas";
import { completeAnswer, completeChunks } from "./strict-fields";
import { openAIUsage } from "./usage";

export interface OpenAIDeps extends BodyDeps {
  /** Absent when no GitHub token is configured: the routes then answer 503. */
  copilot?: CopilotClient;
  /** Copilot's models (absent with no GitHub token), refreshed in the background. */
  catalog?: ModelCatalog;
}

/** The paths this protocol serves (mounted at / and /v1), as events record them. */
export const OPENAI_ROUTES = { usage: ["/chat/completions", "/embeddings"], other: ["/models"] } as const;

/** OpenAI Chat Completions, embeddings and models, mounted at / and /v1 by server.ts. */
export function openAIRoutes(deps: OpenAIDeps) {
  const routes = new Hono<AppEnv>();
  const limit = readBodyWithin(deps);

  routes.post("/chat/completions", requireJsonBody, limit, async (c) => {
    const body = await acceptModelRequest(c, chatCompletionRequest);
    if (body instanceof Response) return body;
    const messages = body.json.messages as Parameters<typeof chatInitiator>[0];
    const model = body.json.model as string;
    // What a person's request to this model costs in premium requests, as the catalog says now.
    // Right after a start the catalog may still be loading: wait for it, or the first requests would be billed as free.
    c.var.event.premiumMultiplier = premiumMultiplier(await deps.catalog?.resolveOrRefresh(model));
    return forwardAndRelay(
      c,
      deps.copilot,
      { method: "POST", path: "/chat/completions", body: body.text, vision: chatHasImages(messages), initiator: chatInitiator(messages) },
      observeFor(c.var.event, openAIUsage),
      // Strict clients (the OpenAI Python SDK) need the `object` (and `model`) Copilot leaves out.
      { transform: completeChunks(model), rewriteAnswer: completeAnswer(model), model },
    );
  });

  routes.post("/embeddings", requireJsonBody, limit, async (c) => {
    const body = await acceptModelRequest(c, embeddingsRequest);
    if (body instanceof Response) return body;
    return forwardAndRelay(c, deps.copilot, { method: "POST", path: "/embeddings", body: body.text }, observeFor(c.var.event, openAIUsage));
  });

  // Answered from the model catalog (Anthropic's shape with an anthropic-version header).
  routes.get("/models", (c) => listModels(c, deps));
  routes.get("/models/:id", (c) => getModel(c, deps, c.req.param("id")));
  return routes;
}
