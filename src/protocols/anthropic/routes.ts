import type { Context, Hono } from "hono";
import type { AppEnv } from "~/app-env";
import { ApiFailure } from "~/lib/api-error";
import { clip } from "~/lib/clip";
import { chatUsage, readChatAnswer } from "~/protocols/chat";
import { DROPPED_TOOLS_HEADER, fulfilSearch, searchModelFor, WEB_SEARCH_FUNCTION, warnDropped } from "~/protocols/chat/web-search";
import { checkModelRequest, jsonBodyChecks, type ModelCall, modelRoute, type ProtocolDeps } from "~/protocols/pipeline";
import { hasReasoning } from "~/upstream/model-catalog";
import { isEventStream, relay, relayedHeaders } from "~/upstream/relay";
import { readyCatalog } from "../models";
import { copilotBetas } from "./beta";
import { anthropicErrorFromUpstream } from "./errors";
import { chatToAnthropic } from "./from-chat";
import { anthropicHasImages, anthropicInitiator } from "./initiator";
import { type CountTokensRequest, countTokensRequestSchema, type MessagesRequest, messagesRequestSchema } from "./request-schema";
import { translateChatStream } from "./stream-from-chat";
import { anthropicToChat } from "./to-chat";
import type { CountOutcome, TokenCounter } from "./token-worker";
import { anthropicUsage } from "./usage";
import { messageEvents, searchMessage, serverSearchTool, settingsOf, withoutServerSearch } from "./web-search";

/** What Anthropic's API sends on a quiet stream, so clients and proxies keep it open. */
const ANTHROPIC_PING = 'event: ping\ndata: {"type": "ping"}\n\n';

/**
 * The `anthropic-version` sent to Copilot's native endpoint, whatever the client sent: the one
 * Copilot's own clients (and the forks that use this endpoint) send. Newer SDKs send later
 * dates (@anthropic-ai/sdk 1.x: 2026-10-21) that Copilot is not known to accept.
 */
const COPILOT_ANTHROPIC_VERSION = "2023-06-01";

/** Claude Code sends Anthropic's names; a name the catalog cannot place is refused, naming the plan's Claude models. */
async function unknownModel(requested: string, c: Context<AppEnv>): Promise<never> {
  // Without a GitHub token, or without a catalog loaded, that is the problem to tell.
  const catalog = await readyCatalog(c, c.get("upstream"));
  const claude = catalog.claudeModelIds();
  const offer = claude.length > 0 ? `its Claude models are ${claude.join(", ")}` : "it has no Claude model";
  throw new ApiFailure(404, {
    message: `model ${JSON.stringify(clip(requested))} is not in this Copilot plan's model list (${offer}); set ANTHROPIC_MODEL (or the request's model) to one of them, or see GET /v1/models`,
    type: "invalid_request_error",
    code: "model_not_found",
    param: "model",
  });
}

/** What Copilot is told besides the body; a pool keeps one Claude Code session on one seat by its metadata.user_id. */
const traitsOf = (request: MessagesRequest) => ({
  vision: anthropicHasImages(request.messages),
  initiator: anthropicInitiator(request.messages),
  affinity: typeof request.metadata?.user_id === "string" ? request.metadata.user_id : undefined,
});

/**
 * Copilot's own /v1/messages: the client's body with the catalog id as the model (the
 * client's bytes when it already names it), and the answer relayed byte for byte.
 */
async function native({ c, request, text, upstreamModel, send, observe }: ModelCall<MessagesRequest>): Promise<Response> {
  const body = request.model === upstreamModel ? text : JSON.stringify({ ...request, model: upstreamModel });
  const headers: Record<string, string> = { "anthropic-version": COPILOT_ANTHROPIC_VERSION };
  const beta = copilotBetas(c.req.header("anthropic-beta"));
  if (beta) headers["anthropic-beta"] = beta;
  const observer = observe(anthropicUsage);
  const upstream = await send({ method: "POST", path: "/v1/messages", body, headers, ...traitsOf(request) }, observer);
  return relay(upstream, observer, { keepAliveText: ANTHROPIC_PING });
}

/** Models Copilot takes on /chat/completions only: the request translated there, the answer back. */
async function viaChat({ c, request, entry, upstreamModel, send, observe }: ModelCall<MessagesRequest>): Promise<Response> {
  const chat = anthropicToChat(request, { model: upstreamModel, supportsReasoning: entry !== undefined && hasReasoning(entry) });
  // Usage is Copilot's chat usage, read from its answer or its stream's tail as on the chat route.
  const observer = observe(chatUsage);
  const upstream = await send({ method: "POST", path: "/chat/completions", body: JSON.stringify(chat), ...traitsOf(request) }, observer);
  if (isEventStream(upstream) && upstream.body) {
    const transform = (stream: ReadableStream<Uint8Array>) => translateChatStream(stream, { model: request.model }).stream;
    return relay(upstream, observer, { transform, keepAliveText: ANTHROPIC_PING });
  }
  const completion = await readChatAnswer(upstream);
  observer.answer(completion);
  return c.json(chatToAnthropic(completion, { model: request.model }));
}

/**
 * A request with Anthropic's web-search server tool, on either path: the gateway runs the search
 * (Copilot refuses the tool on /v1/messages, and its chat has none). Without a model that can search,
 * the tool is left out and named in the answer's header: never a 400 for what Claude Code sends.
 */
async function withWebSearch(call: ModelCall<MessagesRequest>, otherwise: (call: ModelCall<MessagesRequest>) => Promise<Response>): Promise<Response> {
  const tool = serverSearchTool(call.request);
  if (!tool) return otherwise(call);
  const request = withoutServerSearch(call.request, tool);
  const searchModel = searchModelFor(call);
  if (!searchModel) {
    warnDropped(call.upstreamModel, [String(tool.type)]);
    const answer = await otherwise({ ...call, request, text: JSON.stringify(request) });
    answer.headers.set(DROPPED_TOOLS_HEADER, WEB_SEARCH_FUNCTION);
    return answer;
  }
  const { entry, upstreamModel } = call;
  const chat = anthropicToChat(request, { model: upstreamModel, supportsReasoning: entry !== undefined && hasReasoning(entry) });
  const result = await fulfilSearch(call, chat, settingsOf(tool, searchModel), traitsOf(call.request));
  const message = searchMessage(result, call.request.model);
  if (!call.request.stream) return call.c.json(message);
  return new Response(messageEvents(message), { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
}

/** POST /messages: Claude Code and the Anthropic SDKs. */
export const messagesRoute = modelRoute<MessagesRequest>({
  path: "/messages",
  schema: messagesRequestSchema,
  endpoint: "/v1/messages",
  unknownModel,
  native: (call) => withWebSearch(call, native),
  viaChat: (call) => withWebSearch(call, viaChat),
});

/** Copilot's error answer in Anthropic's shape, its status, message and retry headers kept. */
export async function upstreamError(upstream: Response): Promise<Response> {
  const text = await upstream.text();
  const headers = relayedHeaders(upstream);
  headers.set("content-type", "application/json");
  return new Response(JSON.stringify(anthropicErrorFromUpstream(upstream.status, text)), { status: upstream.status, headers });
}

/**
 * count_tokens' own body limit: counting takes time linear in the text (about a second for
 * this much on this machine kind), and Claude's largest context is under 1 MB of text.
 */
export const COUNT_TOKENS_MAX_BYTES = 16 * 1024 * 1024;

/** POST /messages/count_tokens, answered here, never by Copilot: Claude Code calls it constantly. Counted on `tokens`' thread. */
export function countTokensRoute(routes: Hono<AppEnv>, deps: ProtocolDeps, tokens: TokenCounter): void {
  const countLimit = Math.min(deps.bodyLimitBytes, COUNT_TOKENS_MAX_BYTES);
  const checks = jsonBodyChecks(deps, {
    maxBytes: countLimit,
    remedy: `count_tokens takes at most ${countLimit} bytes (the smaller of --body-limit-mb and 16 MiB); count a shorter request`,
  });
  routes.post("/messages/count_tokens", ...checks, async (c) => {
    const { text } = await checkModelRequest<CountTokensRequest>(c, { schema: countTokensRequestSchema });
    return countAnswer(c, await tokens.count(text));
  });
}

/** The count, or why there is none, in Anthropic's error shape. */
function countAnswer(c: Context<AppEnv>, outcome: CountOutcome): Response {
  if ("tokens" in outcome) return c.json({ input_tokens: outcome.tokens });
  if ("busy" in outcome) {
    throw new ApiFailure(
      429,
      {
        message: `count_tokens is busy: ${outcome.busy.waitingBytes} bytes of requests are waiting to be counted; retry in a moment`,
        type: "rate_limit_error",
        code: "count_tokens_busy",
      },
      { "retry-after": "1" },
    );
  }
  if ("timedOut" in outcome) {
    throw new ApiFailure(503, {
      message: `counting tokens took longer than ${outcome.timedOut.ms / 1000} s and was stopped (the machine is overloaded); retry, or count a shorter request`,
      type: "server_error",
      code: "count_tokens_timeout",
    });
  }
  throw new ApiFailure(500, { message: `count_tokens failed: ${clip(outcome.failed)}; retry the request`, type: "server_error", code: "count_tokens_failed" });
}
