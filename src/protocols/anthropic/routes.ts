import { type Context, Hono } from "hono";
import type { AppEnv } from "~/app-env";
import { observeFor } from "~/features/events";
import { apiError } from "~/lib/api-error";
import { clip } from "~/lib/clip";
import type { ForwardOptions } from "~/upstream/copilot-client";
import type { Forwarder } from "~/upstream/forwarder";
import { type CatalogEntry, hasReasoning, type ModelCatalog, premiumMultiplier, supports } from "~/upstream/model-catalog";
import { type AnswerObserver, isEventStream, relay, relayedHeaders, sendToCopilot } from "~/upstream/relay";
import { requireJsonBody } from "../json-body";
import { readyCatalog } from "../models";
import { openAIUsage } from "../openai";
import { acceptModelRequest, type JsonObject, jsonBodyLimit } from "../request-checks";
import { copilotBetas } from "./beta";
import type { ChatCompletionResponse } from "./chat-types";
import { countInputTokens } from "./count-tokens";
import { anthropicErrorFromUpstream } from "./errors";
import { chatToAnthropic } from "./from-chat";
import { anthropicHasImages, anthropicInitiator } from "./initiator";
import { type CountTokensRequest, countTokensRequestSchema, type MessagesRequest, messagesRequestSchema } from "./request-schema";
import { translateChatStream } from "./stream-from-chat";
import { anthropicToChat } from "./to-chat";
import { anthropicUsage } from "./usage";

export interface AnthropicDeps {
  bodyLimitBytes: number;
}

/** The paths this protocol serves (mounted at / and /v1), as events record them; count_tokens never calls upstream. */
export const ANTHROPIC_ROUTES = { usage: ["/messages"], other: ["/messages/count_tokens"] } as const;

/** What Anthropic's API sends on a quiet stream, so clients and proxies keep it open. */
export const ANTHROPIC_PING = 'event: ping\ndata: {"type": "ping"}\n\n';

/**
 * The `anthropic-version` sent to Copilot's native endpoint, whatever the client sent: the one
 * Copilot's own clients (and the forks that use this endpoint) send. Newer SDKs send later
 * dates (@anthropic-ai/sdk 1.x: 2026-10-21) that Copilot is not known to accept.
 */
const COPILOT_ANTHROPIC_VERSION = "2023-06-01";

type Traits = Pick<ForwardOptions, "vision" | "initiator" | "affinity">;

/** Anthropic Messages (Claude Code, the Anthropic SDKs), mounted at / and /v1 by server.ts. */
export function anthropicRoutes(deps: AnthropicDeps) {
  const routes = new Hono<AppEnv>();
  const limit = jsonBodyLimit(deps.bodyLimitBytes);

  routes.post("/messages", requireJsonBody, limit, async (c) => {
    // A request right after boot waits for the catalog's first load (or tries it once more).
    if (c.var.upstream.catalog && c.var.upstream.catalog.lastLoadedAt === undefined) await c.var.upstream.catalog.refreshOnce();
    const body = await acceptModelRequest(c, messagesRequestSchema, allowedBy(c, c.var.upstream.catalog));
    if (body instanceof Response) return body;
    const catalog = await readyCatalog(c, c.var.upstream);
    if (catalog instanceof Response) return catalog;
    const request = body.json as MessagesRequest;
    const entry = await catalog.resolveOrRefresh(request.model);
    if (!entry) return modelNotFound(c, request.model, catalog);

    const draft = c.var.event;
    draft.upstreamModel = entry.id; // until Copilot's answer names the model that answered
    draft.premiumMultiplier = premiumMultiplier(entry);
    // A pool keeps one Claude Code session on one seat by its metadata.user_id.
    const affinity = typeof request.metadata?.user_id === "string" ? request.metadata.user_id : undefined;
    const traits: Traits = { vision: anthropicHasImages(request.messages), initiator: anthropicInitiator(request.messages), affinity };
    if (supports(entry, "/v1/messages")) return native(c, c.var.upstream.copilot, body, entry, traits);
    return translated(c, c.var.upstream.copilot, request, entry, traits);
  });

  // Answered here, never by Copilot: Claude Code calls it constantly.
  routes.post("/messages/count_tokens", requireJsonBody, limit, async (c) => {
    const body = await acceptModelRequest(c, countTokensRequestSchema, allowedBy(c, c.var.upstream.catalog));
    if (body instanceof Response) return body;
    return c.json({ input_tokens: await countInputTokens(body.json as CountTokensRequest) });
  });
  return routes;
}

/** A key's allowed models are checked against the requested name and the catalog id it means. */
function allowedBy(c: Context<AppEnv>, catalog: ModelCatalog | undefined): (model: string) => boolean {
  const key = c.var.apiKey;
  return (model) => {
    if (key.allows(model)) return true;
    const entry = catalog?.resolve(model);
    return entry !== undefined && key.allows(entry.id);
  };
}

function modelNotFound(c: Context, requested: string, catalog: ModelCatalog): Response {
  const claude = catalog.claudeModelIds();
  const offer = claude.length > 0 ? `its Claude models are ${claude.join(", ")}` : "it has no Claude model";
  return apiError(c, 404, {
    message: `model ${JSON.stringify(clip(requested))} is not in this Copilot plan's model list (${offer}); set ANTHROPIC_MODEL (or the request's model) to one of them, or see GET /v1/models`,
    type: "invalid_request_error",
    code: "model_not_found",
    param: "model",
  });
}

/** Copilot's error answer in Anthropic's shape, its status, message and retry headers kept. */
async function upstreamError(upstream: Response): Promise<Response> {
  const text = await upstream.text();
  const headers = relayedHeaders(upstream);
  headers.set("content-type", "application/json");
  return new Response(JSON.stringify(anthropicErrorFromUpstream(upstream.status, text)), { status: upstream.status, headers });
}

/**
 * Copilot's own /v1/messages: the client's body with the catalog id as the model (the
 * client's bytes when it already names it), and the answer relayed byte for byte.
 */
async function native(c: Context<AppEnv>, copilot: Forwarder | undefined, body: { text: string; json: JsonObject }, entry: CatalogEntry, traits: Traits) {
  const text = body.json.model === entry.id ? body.text : JSON.stringify({ ...body.json, model: entry.id });
  const headers: Record<string, string> = { "anthropic-version": COPILOT_ANTHROPIC_VERSION };
  const beta = copilotBetas(c.req.header("anthropic-beta"));
  if (beta) headers["anthropic-beta"] = beta;
  const observer = observeFor(c.var.event, anthropicUsage);
  const sent = await sendToCopilot(c, copilot, { method: "POST", path: "/v1/messages", body: text, headers, ...traits }, observer);
  if ("refusal" in sent) return sent.refusal;
  if (!sent.upstream.ok) return upstreamError(sent.upstream);
  return relay(sent.upstream, observer, { keepAliveText: ANTHROPIC_PING });
}

/** Models Copilot takes on /chat/completions only: the request translated there, the answer back. */
async function translated(c: Context<AppEnv>, copilot: Forwarder | undefined, request: MessagesRequest, entry: CatalogEntry, traits: Traits) {
  const chat = anthropicToChat(request, { model: entry.id, supportsReasoning: hasReasoning(entry) });
  // Usage is Copilot's chat usage, read from its answer or its stream's tail as on the chat route.
  const observer: AnswerObserver = observeFor(c.var.event, openAIUsage);
  const sent = await sendToCopilot(c, copilot, { method: "POST", path: "/chat/completions", body: JSON.stringify(chat), ...traits }, observer);
  if ("refusal" in sent) return sent.refusal;
  const upstream = sent.upstream;
  if (!upstream.ok) return upstreamError(upstream);
  if (isEventStream(upstream) && upstream.body) {
    const transform = (stream: ReadableStream<Uint8Array>) => translateChatStream(stream, { model: request.model }).stream;
    return relay(upstream, observer, { transform, keepAliveText: ANTHROPIC_PING });
  }
  let completion: ChatCompletionResponse;
  try {
    completion = (await upstream.json()) as ChatCompletionResponse;
  } catch {
    return apiError(c, 502, {
      message: "Copilot answered with something that is not JSON; retry the request",
      type: "upstream_error",
      code: "bad_upstream_answer",
    });
  }
  observer.answer(completion);
  return c.json(chatToAnthropic(completion, { model: request.model }));
}
