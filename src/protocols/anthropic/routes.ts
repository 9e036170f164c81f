import { type Context, Hono } from "hono";
import type { AppEnv } from "~/app-env";
import { observeFor } from "~/features/events";
import { apiError } from "~/lib/api-error";
import { clip } from "~/lib/clip";
import type { CopilotClient, ForwardOptions } from "~/upstream/copilot-client";
import { type CatalogEntry, hasReasoning, type ModelCatalog, premiumMultiplier, supports } from "~/upstream/model-catalog";
import { type AnswerObserver, isEventStream, relay, relayedHeaders, sendToCopilot } from "~/upstream/relay";
import { type BodyDeps, readBodyWithin } from "../body-read";
import { requireJsonBody } from "../json-body";
import { readyCatalog } from "../models";
import { openAIUsage } from "../openai";
import { acceptModelRequest, type JsonObject } from "../request-checks";
import { copilotBetas } from "./beta";
import type { ChatCompletionResponse } from "./chat-types";
import { anthropicErrorFromUpstream } from "./errors";
import { chatToAnthropic } from "./from-chat";
import { anthropicHasImages, anthropicInitiator } from "./initiator";
import { countTokensRequestSchema, type MessagesRequest, messagesRequestSchema } from "./request-schema";
import { translateChatStream } from "./stream-from-chat";
import { anthropicToChat } from "./to-chat";
import { type CountOutcome, TokenCounter } from "./token-worker";
import { anthropicUsage } from "./usage";

export interface AnthropicDeps extends BodyDeps {
  /** Absent when no GitHub token is configured: the routes then answer 503. */
  copilot?: CopilotClient;
  /** Copilot's models: which id a name means, and whether Copilot takes it on /v1/messages. */
  catalog?: ModelCatalog;
  bodyLimitBytes: number;
  /** count_tokens' thread; one of the routes' own when absent (it starts on the first count). */
  tokens?: TokenCounter;
}

/**
 * count_tokens' own body limit: counting takes time linear in the text (about a second for
 * this much on this machine kind), and Claude's largest context is under 1 MB of text.
 */
export const COUNT_TOKENS_MAX_BYTES = 16 * 1024 * 1024;

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

type Traits = Pick<ForwardOptions, "vision" | "initiator">;

/** Anthropic Messages (Claude Code, the Anthropic SDKs), mounted at / and /v1 by server.ts. */
export function anthropicRoutes(deps: AnthropicDeps) {
  const routes = new Hono<AppEnv>();
  const limit = readBodyWithin(deps);
  const countLimit = Math.min(deps.bodyLimitBytes, COUNT_TOKENS_MAX_BYTES);
  const tokens = deps.tokens ?? new TokenCounter();

  routes.post("/messages", requireJsonBody, limit, async (c) => {
    // A request right after boot waits for the catalog's first load (or tries it once more).
    if (deps.catalog && deps.catalog.lastLoadedAt === undefined) await deps.catalog.refreshOnce();
    const body = await acceptModelRequest(c, messagesRequestSchema, allowedBy(c, deps.catalog));
    if (body instanceof Response) return body;
    const catalog = await readyCatalog(c, deps);
    if (catalog instanceof Response) return catalog;
    const request = body.json as MessagesRequest;
    const entry = await catalog.resolveOrRefresh(request.model);
    if (!entry) return modelNotFound(c, request.model, catalog);

    const draft = c.var.event;
    draft.upstreamModel = entry.id; // until Copilot's answer names the model that answered
    draft.premiumMultiplier = premiumMultiplier(entry);
    const traits: Traits = { vision: anthropicHasImages(request.messages), initiator: anthropicInitiator(request.messages) };
    if (supports(entry, "/v1/messages")) return native(c, deps.copilot, body, entry, traits);
    return translated(c, deps.copilot, request, entry, traits);
  });

  // Answered here, never by Copilot: Claude Code calls it constantly.
  const countBodyLimit = readBodyWithin(deps, {
    maxBytes: countLimit,
    remedy: `count_tokens takes at most ${countLimit} bytes (the smaller of --body-limit-mb and 16 MiB); count a shorter request`,
  });
  routes.post("/messages/count_tokens", requireJsonBody, countBodyLimit, async (c) => {
    const body = await acceptModelRequest(c, countTokensRequestSchema, allowedBy(c, deps.catalog));
    if (body instanceof Response) return body;
    return countAnswer(c, await tokens.count(body.text));
  });
  return routes;
}

/** The count, or why there is none, in Anthropic's error shape. */
function countAnswer(c: Context<AppEnv>, outcome: CountOutcome): Response {
  if ("tokens" in outcome) return c.json({ input_tokens: outcome.tokens });
  if ("busy" in outcome) {
    c.header("retry-after", "1");
    return apiError(c, 429, {
      message: `count_tokens is busy: ${outcome.busy.waitingBytes} bytes of requests are waiting to be counted; retry in a moment`,
      type: "rate_limit_error",
      code: "count_tokens_busy",
    });
  }
  if ("timedOut" in outcome) {
    return apiError(c, 503, {
      message: `counting tokens took longer than ${outcome.timedOut.ms / 1000} s and was stopped (the machine is overloaded); retry, or count a shorter request`,
      type: "server_error",
      code: "count_tokens_timeout",
    });
  }
  return apiError(c, 500, { message: `count_tokens failed: ${clip(outcome.failed)}; retry the request`, type: "server_error", code: "count_tokens_failed" });
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
async function native(c: Context<AppEnv>, copilot: CopilotClient | undefined, body: { text: string; json: JsonObject }, entry: CatalogEntry, traits: Traits) {
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
async function translated(c: Context<AppEnv>, copilot: CopilotClient | undefined, request: MessagesRequest, entry: CatalogEntry, traits: Traits) {
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
