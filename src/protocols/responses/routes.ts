import { type Context, Hono } from "hono";
import type { AppEnv } from "~/app-env";
import { observeFor } from "~/features/events";
import { expandChain, isStoredStatus, type StoredResponse, type StoredResponses } from "~/features/responses";
import { apiError } from "~/lib/api-error";
import { clip } from "~/lib/clip";
import { log } from "~/lib/log";
import type { ChatCompletionResponse } from "~/protocols/anthropic";
import type { OpenAIDeps } from "~/protocols/openai";
import type { CatalogEntry } from "~/upstream/model-catalog";
import { hasReasoning, supports } from "~/upstream/model-catalog";
import { type AnswerObserver, forwardAndRelay, isEventStream, relay, sendToCopilot } from "~/upstream/relay";
import { requireJsonBody } from "../json-body";
import { acceptModelRequest, jsonBodyLimit } from "../request-checks";
import { chatToResponse, mapUsage, newContext } from "./from-chat";
import { inputItems, responsesHasImages, responsesInitiator } from "./input";
import { DEFAULT_LIMIT, MAX_LIMIT, pageOf } from "./input-items";
import { TerminalEventTap } from "./passthrough";
import { RESPONSE_ID_MAX, responsesRequest, withoutWebSearch } from "./request-schema";
import { type ResponsesStreamTranslator, translateChatStream } from "./stream-from-chat";
import { responsesToChat } from "./to-chat";
import type { InputItem, ResponsesRequest } from "./types";
import { noteResponseUsage, responsesUsage } from "./usage";

export interface ResponsesDeps extends OpenAIDeps {
  /** The stored responses (previous_response_id, GET, DELETE). */
  stored: StoredResponses;
  /** False with --no-store-responses: nothing new is stored and previous_response_id is refused. */
  storing: boolean;
}

/** The paths this protocol serves (mounted at / and /v1), as events record them. */
export const RESPONSES_ROUTES = { usage: ["/responses"], other: [] } as const;

/** Said for every id a key cannot see, whatever the reason: whether another key's exists is never told. */
const notFound = (id: string) =>
  `no stored response ${JSON.stringify(clip(id, RESPONSE_ID_MAX))} for this key: it does not exist, was created with store: false, was deleted, ` +
  "is older than --responses-retention-days, or belongs to another API key";

/** Names the tools the gateway left out of the upstream request (it could not run them), so the client can tell. */
export const DROPPED_TOOLS_HEADER = "x-copilot-api-dropped-tools";

/** The models whose dropped web search was already logged: one line each, not one per request. */
const warnedDrops = new Set<string>();

/** One log line per model whose requests lose their web search, not one per request. */
function warnDropped(model: string, dropped: string[]): void {
  if (warnedDrops.has(model) || warnedDrops.size >= 100) return;
  warnedDrops.add(model);
  log.warn(
    `${model}: ${dropped.join(", ")} left out of its requests (said once): Copilot runs web search only for models whose catalog entry lists /responses`,
  );
}

/** How a request's answer is kept, when it is. */
type Save = (response: object) => void;

/**
 * OpenAI's Responses API, mounted at / and /v1 by server.ts: POST /responses on every model of
 * the plan (passed through to Copilot's /responses for models whose catalog entry lists it,
 * translated to /chat/completions for the others), and the stored responses of the calling key.
 */
export function responsesRoutes(deps: ResponsesDeps) {
  const routes = new Hono<AppEnv>();
  const limit = jsonBodyLimit(deps.bodyLimitBytes);

  routes.post("/responses", requireJsonBody, limit, async (c) => {
    const body = await acceptModelRequest(c, responsesRequest);
    if (body instanceof Response) return body;
    const request = body.json as unknown as ResponsesRequest;

    const keyId = c.var.apiKey.id;
    const previous = request.previous_response_id ?? null;
    const newInput = inputItems(request.input);
    let history: unknown[] = [];
    if (previous !== null) {
      if (!deps.storing) {
        return apiError(c, 400, {
          message:
            "previous_response_id needs stored responses, and copilot-api was started with --no-store-responses: send the whole conversation in input, or restart copilot-api without --no-store-responses",
          type: "invalid_request_error",
          code: "previous_response_not_stored",
          param: "previous_response_id",
        });
      }
      const expansion = expandChain(deps.stored, keyId, previous);
      if ("missing" in expansion) {
        const why =
          expansion.missing === previous
            ? notFound(previous)
            : `the conversation ${JSON.stringify(previous)} continues refers to ${JSON.stringify(expansion.missing)}, which is gone (deleted, or older than --responses-retention-days)`;
        return apiError(c, 404, {
          message: `previous_response_id: ${why}; start a new conversation without previous_response_id`,
          type: "invalid_request_error",
          code: "previous_response_not_found",
          param: "previous_response_id",
        });
      }
      history = expansion.items;
    }
    const items = [...(history as InputItem[]), ...newInput];

    const entry = c.var.upstream.catalog ? await c.var.upstream.catalog.resolveOrRefresh(request.model) : undefined;
    if (entry?.billing?.is_premium && typeof entry.billing.multiplier === "number") c.var.event.premiumMultiplier = entry.billing.multiplier;
    const storing = deps.storing && request.store !== false;
    const save: Save | undefined = storing
      ? (response) => {
          const stored = toStored(response as Record<string, unknown>, keyId, request.model, previous, newInput);
          if (stored) deps.stored.save(stored);
        }
      : undefined;
    const traits = { vision: responsesHasImages(items), initiator: responsesInitiator(items) };

    if (entry && supports(entry, "/responses")) {
      // Copilot answers this model on /responses: the client's bytes go as they came (hosted tools
      // included: Copilot runs web_search, and answers for the others), unless the chain was expanded.
      const text = previous === null ? body.text : JSON.stringify({ ...body.json, input: items, previous_response_id: undefined });
      const tap = new TerminalEventTap(save);
      const observer = observeFor(
        c.var.event,
        responsesUsage(() => tap.response),
      );
      const answer = observer.answer;
      observer.answer = (json) => {
        answer(json);
        if (save && typeof json === "object" && json !== null) save(json);
      };
      return forwardAndRelay(c, c.var.upstream.copilot, { method: "POST", path: "/responses", body: text, ...traits }, observer, {
        transform: (s) => tap.watch(s),
      });
    }
    // Web search cannot run on Copilot's chat: left out, and named in the answer's header.
    const { kept, dropped } = withoutWebSearch(request.tools);
    if (dropped.length === 0) return translated(c, request, items, entry, storing, save, traits);
    warnDropped(entry?.id ?? clip(request.model, 64), dropped);
    const answer = await translated(c, { ...request, tools: kept }, items, entry, storing, save, traits);
    // Set on the answer itself: a relayed stream is a Response of its own, which c.header would not reach.
    answer.headers.set(DROPPED_TOOLS_HEADER, dropped.join(", "));
    return answer;
  });

  routes.get("/responses/:id", (c) => {
    const found = lookup(c, deps);
    return found instanceof Response ? found : c.json(found.response);
  });

  routes.get("/responses/:id/input_items", (c) => {
    const found = lookup(c, deps);
    if (found instanceof Response) return found;
    const order = c.req.query("order") ?? "desc";
    if (order !== "asc" && order !== "desc") {
      return apiError(c, 400, { message: 'order: expected "asc" or "desc"', type: "invalid_request_error", code: "invalid_value", param: "order" });
    }
    const limitText = c.req.query("limit");
    const pageSize = limitText === undefined ? DEFAULT_LIMIT : Number(limitText);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_LIMIT) {
      return apiError(c, 400, {
        message: `limit: expected a whole number from 1 to ${MAX_LIMIT}`,
        type: "invalid_request_error",
        code: "invalid_value",
        param: "limit",
      });
    }
    const after = c.req.query("after");
    return c.json(pageOf(found.input, found.id, { order, after: after === undefined ? undefined : after.slice(0, RESPONSE_ID_MAX * 2), limit: pageSize }));
  });

  routes.delete("/responses/:id", (c) => {
    const id = c.req.param("id");
    if (id.length > RESPONSE_ID_MAX || !deps.stored.delete(id, c.var.apiKey.id)) {
      return apiError(c, 404, { message: notFound(id), type: "invalid_request_error", code: "response_not_found", param: "response_id" });
    }
    return c.json({ id, object: "response", deleted: true });
  });
  return routes;
}

/** The stored response the path names, if the calling key owns it; else the 404 that says so. */
function lookup(c: Context<AppEnv>, deps: ResponsesDeps): StoredResponse | Response {
  const id = c.req.param("id") ?? "";
  const found = id.length <= RESPONSE_ID_MAX ? deps.stored.find(id, c.var.apiKey.id) : undefined;
  return found ?? apiError(c, 404, { message: notFound(id), type: "invalid_request_error", code: "response_not_found", param: "response_id" });
}

/** What is kept of an answer: the Response as answered (with the chain link it was given), and this request's own input. */
function toStored(response: Record<string, unknown>, keyId: string, model: string, previous: string | null, input: InputItem[]): StoredResponse | undefined {
  const { id, status } = response;
  if (typeof id !== "string" || id === "" || id.length > RESPONSE_ID_MAX || !isStoredStatus(status)) return undefined;
  return {
    id,
    keyId,
    model,
    createdAt: Date.now(),
    status,
    previousResponseId: previous,
    input,
    response: previous === null ? response : { ...response, previous_response_id: previous },
  };
}

/** A model Copilot serves only on /chat/completions: the request translated there, the answer (or stream) translated back. */
async function translated(
  c: Context<AppEnv>,
  request: ResponsesRequest,
  items: InputItem[],
  entry: CatalogEntry | undefined,
  storing: boolean,
  save: Save | undefined,
  traits: Pick<Parameters<typeof sendToCopilot>[2], "vision" | "initiator">,
): Promise<Response> {
  const translation = responsesToChat(request, items, {
    model: entry?.id ?? request.model,
    supportsReasoning: entry ? hasReasoning(entry) : false,
  });
  if ("problem" in translation) {
    return apiError(c, 400, {
      message: translation.problem.message,
      type: "invalid_request_error",
      code: "unsupported_value",
      param: translation.problem.param,
    });
  }
  const context = newContext(request, storing);
  let translator: ResponsesStreamTranslator | undefined;
  const observer: AnswerObserver = observeFor(c.var.event, {
    fromAnswer: noteResponseUsage,
    fromStream: (draft) => {
      const outcome = translator?.outcome();
      if (!outcome) return;
      const usage = outcome.response?.usage ?? (outcome.chatUsage ? mapUsage(outcome.chatUsage) : undefined);
      noteResponseUsage(draft, { usage });
      if (outcome.upstreamModel) draft.upstreamModel = outcome.upstreamModel;
      if (outcome.response?.status === "failed") draft.error = "upstream_error";
    },
  });
  const sent = await sendToCopilot(
    c,
    c.var.upstream.copilot,
    { method: "POST", path: "/chat/completions", body: JSON.stringify(translation.chat), ...traits },
    observer,
  );
  if ("refusal" in sent) return sent.refusal;
  const upstream = sent.upstream;
  // Copilot's refusal goes back as Copilot said it: its chat errors are already in OpenAI's shape.
  if (!upstream.ok) return relay(upstream, observer);
  if (isEventStream(upstream)) {
    return relay(upstream, observer, {
      transform: (stream) => {
        const translation = translateChatStream(stream, context, { onResponse: save });
        translator = translation.translator;
        return translation.stream;
      },
    });
  }
  let completion: ChatCompletionResponse;
  try {
    completion = (await upstream.json()) as ChatCompletionResponse;
  } catch {
    return apiError(c, 502, {
      message: "Copilot answered something that is not a chat completion; retry, and run `copilot-api doctor` if it persists",
      type: "upstream_error",
      code: "upstream_invalid_answer",
    });
  }
  const response = chatToResponse(completion, context);
  observer.answer(response);
  if (typeof completion.model === "string" && completion.model !== "") c.var.event.upstreamModel = completion.model;
  save?.(response);
  return c.json(response);
}
