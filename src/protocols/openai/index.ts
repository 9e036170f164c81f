import { chatUsage } from "~/protocols/chat";
import { type ModelRequest, modelRoute, type Protocol, type Send } from "~/protocols/pipeline";
import { relay } from "~/upstream/relay";
import { getModel, listModels } from "../models";
import { chatHasImages, chatInitiator } from "./initiator";
import { chatCompletionRequest, embeddingsRequest } from "./request-schemas";
import { completeAnswer, completeChunks } from "./strict-fields";

/** What the chat route reads of a request (request-schemas.ts checks it). */
interface ChatRequest extends ModelRequest {
  messages: Parameters<typeof chatInitiator>[0];
}

/**
 * OpenAI Chat Completions, embeddings and the model list, mounted at / and /v1: Copilot speaks
 * this protocol, so both model routes go as they came and their answers are relayed (Copilot's
 * errors are already in OpenAI's shape).
 */
export const openAIProtocol: Protocol = {
  paths: { usage: ["/chat/completions", "/embeddings"], other: ["/models"] },
  models: [
    modelRoute<ChatRequest>({
      path: "/chat/completions",
      schema: chatCompletionRequest,
      endpoint: "/chat/completions",
      async native({ c, request, text, send, observe }) {
        const { messages, model } = request;
        const observer = observe(chatUsage);
        const options: Send = { method: "POST", path: "/chat/completions", body: text, vision: chatHasImages(messages), initiator: chatInitiator(messages) };
        // Strict clients (the OpenAI Python SDK) need the `object` (and `model`) Copilot leaves out.
        return relay(await send(options, observer), observer, {
          transform: completeChunks(model),
          rewriteAnswer: completeAnswer(model),
          route: c.req.path,
          model,
        });
      },
    }),
    modelRoute({
      path: "/embeddings",
      schema: embeddingsRequest,
      endpoint: "/embeddings",
      async native({ c, text, send, observe }) {
        const observer = observe(chatUsage);
        return relay(await send({ method: "POST", path: "/embeddings", body: text }, observer), observer, { route: c.req.path });
      },
    }),
  ],
  extraRoutes(routes) {
    // Answered from the model catalog (Anthropic's shape with an anthropic-version header).
    routes.get("/models", (c) => listModels(c, c.get("upstream")));
    routes.get("/models/:id", (c) => getModel(c, c.get("upstream"), c.req.param("id")));
  },
};
