import type { Context, Hono } from "hono";
import type { AppEnv } from "~/app-env";
import { noteCost } from "~/features/events";
import { type ChainSource, expandChain, isStoredStatus, type StoredResponse, type StoredResponses } from "~/features/responses";
import { ApiFailure } from "~/lib/api-error";
import { clip } from "~/lib/clip";
import { readChatAnswer } from "~/protocols/chat";
import { DROPPED_TOOLS_HEADER, fulfilSearch, type SearchSettings, searchModelFor, warnDropped } from "~/protocols/chat/web-search";
import { type ModelCall, modelRoute, type Traits } from "~/protocols/pipeline";
import { hasReasoning } from "~/upstream/model-catalog";
import { isEventStream, relay } from "~/upstream/relay";
import { chatToResponse, mapUsage, newContext } from "./from-chat";
import { inputItems, responsesHasImages, responsesInitiator } from "./input";
import { DEFAULT_LIMIT, MAX_LIMIT, pageOf } from "./input-items";
import { TerminalEventTap } from "./passthrough";
import { RESPONSE_ID_MAX, responsesRequest, withoutWebSearch } from "./request-schema";
import { type ResponsesStreamTranslator, translateChatStream } from "./stream-from-chat";
import { responsesToChat } from "./to-chat";
import type { InputItem, ResponsesRequest } from "./types";
import { noteResponseUsage, responsesUsage } from "./usage";
import { responseEvents, searchResponse, settingsOf } from "./web-search";

export interface ResponsesStore {
  /** The stored responses (previous_response_id, GET, DELETE). */
  stored: StoredResponses;
  /** False with --no-store-responses: nothing new is stored and previous_response_id is refused. */
  storing: boolean;
  /** --body-limit-mb: an expanded chain is held to it, like a request sent whole. */
  bodyLimitBytes: number;
}

/** Said for every id a key cannot see, whatever the reason: whether another key's exists is never told. */
const notFound = (id: string) =>
  `no stored response ${JSON.stringify(clip(id, RESPONSE_ID_MAX))} for this key: it does not exist, was created with store: false, was deleted, ` +
  "is older than --responses-retention-days, or belongs to another API key";

/** How to go on when a chain cannot be expanded. */
const CONTINUE =
  "start a new conversation without previous_response_id, or send the turns you want kept yourself in input (with store: false if you keep them)";

/** How a request's answer is kept, when it is. */
type Save = (response: object) => void;

/** A request's whole conversation (the stored chain it continues, then its own input), and how its answer is kept. */
interface Conversation {
  previous: string | null;
  items: InputItem[];
  storing: boolean;
  save: Save | undefined;
  traits: Traits;
}

/**
 * The conversation, once the chain it continues can be walked: at once on SQLite; on a shared
 * PostgreSQL store after one round trip reading the chain (so the SQLite path stays synchronous).
 */
function conversationOf(c: Context<AppEnv>, request: ResponsesRequest, text: string, store: ResponsesStore): Conversation | Promise<Conversation> {
  const previous = request.previous_response_id ?? null;
  if (previous === null || !store.storing) return conversation(c, request, text, store, store.stored);
  // The expanded request is held to --body-limit-mb like one a client sends whole.
  const source = store.stored.lookup(previous, store.bodyLimitBytes - text.length);
  return source instanceof Promise ? source.then((read) => conversation(c, request, text, store, read)) : conversation(c, request, text, store, source);
}

function conversation(c: Context<AppEnv>, request: ResponsesRequest, text: string, store: ResponsesStore, chain: ChainSource): Conversation {
  const keyId = c.get("apiKey").id;
  const previous = request.previous_response_id ?? null;
  const newInput = inputItems(request.input);
  // The expanded request is held to --body-limit-mb like one a client sends whole.
  const earlier = previous === null ? undefined : history(store, chain, keyId, previous, store.bodyLimitBytes - text.length);
  const items = earlier ? [...earlier.items, ...newInput] : newInput;
  const storing = store.storing && request.store !== false;
  const save: Save | undefined = storing
    ? (response) => {
        const stored = toStored(response as Record<string, unknown>, keyId, request.model, previous, newInput);
        // The seat that answered (a pool's choice, after any failover), so a continuation goes back to it.
        if (stored) store.stored.save({ ...stored, credentialId: c.get("event").credentialId ?? null });
      }
    : undefined;
  return {
    previous,
    items,
    storing,
    save,
    traits: {
      vision: responsesHasImages(items),
      initiator: responsesInitiator(items),
      // A pool continues a conversation on the seat that answered its last turn.
      affinity: earlier?.credentialId ?? undefined,
    },
  };
}

/** The stored input and output items a previous_response_id stands for; 400/404 when they cannot be had. */
function history(
  store: ResponsesStore,
  chain: ChainSource,
  keyId: string,
  previous: string,
  budgetBytes: number,
): { items: InputItem[]; credentialId: string | null } {
  if (!store.storing) {
    throw new ApiFailure(400, {
      message:
        "previous_response_id needs stored responses, and copilot-api was started with --no-store-responses: send the whole conversation in input, or restart copilot-api without --no-store-responses",
      type: "invalid_request_error",
      code: "previous_response_not_stored",
      param: "previous_response_id",
    });
  }
  const expansion = expandChain(chain, keyId, previous, budgetBytes);
  if ("items" in expansion) return { items: expansion.items as InputItem[], credentialId: expansion.credentialId };
  if ("notStored" in expansion) {
    const { id, bytes } = expansion.notStored;
    const which = id === previous ? "it" : `the response it continues, ${JSON.stringify(id)},`;
    throw new ApiFailure(400, {
      message: `previous_response_id: ${which} was not stored: its body was ${bytes} bytes, above the ${store.stored.maxResponseBytes}-byte limit per stored response; ${CONTINUE}`,
      type: "invalid_request_error",
      code: "previous_response_not_stored",
      param: "previous_response_id",
    });
  }
  if ("tooLarge" in expansion) {
    throw new ApiFailure(400, {
      message:
        `previous_response_id: the conversation it continues takes more than ${expansion.tooLarge.bytes} bytes in its last ${expansion.tooLarge.turns} turns, ` +
        `and with this request it would pass the ${store.bodyLimitBytes}-byte limit on a request (--body-limit-mb); ${CONTINUE}`,
      type: "invalid_request_error",
      code: "previous_response_chain_too_large",
      param: "previous_response_id",
    });
  }
  const why =
    expansion.missing === previous
      ? notFound(previous)
      : `the conversation ${JSON.stringify(previous)} continues refers to ${JSON.stringify(expansion.missing)}, which is gone (deleted, or older than --responses-retention-days)`;
  throw new ApiFailure(404, {
    message: `previous_response_id: ${why}; start a new conversation without previous_response_id`,
    type: "invalid_request_error",
    code: "previous_response_not_found",
    param: "previous_response_id",
  });
}

/**
 * A model Copilot answers on /responses: the client's bytes go as they came (hosted tools included:
 * Copilot runs web_search, and answers for the others), unless the chain was expanded.
 */
async function native({ c, request, text, send, observe }: ModelCall<ResponsesRequest>, store: ResponsesStore): Promise<Response> {
  const talk = conversationOf(c, request, text, store);
  const { previous, items, save, traits } = talk instanceof Promise ? await talk : talk;
  const body = previous === null ? text : JSON.stringify({ ...request, input: items, previous_response_id: undefined });
  const tap = new TerminalEventTap(save);
  const observer = observe(responsesUsage(() => tap.event));
  const answer = observer.answer;
  observer.answer = (json) => {
    answer(json);
    if (save && typeof json === "object" && json !== null) save(json);
  };
  const upstream = await send({ method: "POST", path: "/responses", body, ...traits }, observer);
  return relay(upstream, observer, { transform: (s) => tap.watch(s), route: c.req.path });
}

/**
 * A model Copilot serves only on /chat/completions: the request translated there, the answer (or stream)
 * translated back. Web search cannot run on Copilot's chat: it is left out, and named in the answer's header.
 */
async function viaChat(call: ModelCall<ResponsesRequest>, store: ResponsesStore): Promise<Response> {
  const { kept, dropped } = withoutWebSearch(call.request.tools);
  if (dropped.length === 0) return translated(call, store);
  const searchModel = searchModelFor(call);
  if (searchModel) {
    const tool = call.request.tools?.find((t) => dropped.includes(String(t.type)));
    return searched({ ...call, request: { ...call.request, tools: kept } }, store, settingsOf(tool, searchModel), call.request);
  }
  warnDropped(call.upstreamModel, dropped);
  const answer = await translated({ ...call, request: { ...call.request, tools: kept } }, store);
  // Set on the answer itself: a relayed stream is a Response of its own, which c.header would not reach.
  answer.headers.set(DROPPED_TOOLS_HEADER, dropped.join(", "));
  return answer;
}

async function translated({ c, request, text, entry, upstreamModel, send, observe }: ModelCall<ResponsesRequest>, store: ResponsesStore): Promise<Response> {
  const talk = conversationOf(c, request, text, store);
  const { items, storing, save, traits } = talk instanceof Promise ? await talk : talk;
  const chat = responsesToChat(request, items, { model: upstreamModel, supportsReasoning: entry !== undefined && hasReasoning(entry) });
  const context = newContext(request, storing);
  let translator: ResponsesStreamTranslator | undefined;
  const observer = observe({
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
  const upstream = await send({ method: "POST", path: "/chat/completions", body: JSON.stringify(chat), ...traits }, observer);
  if (isEventStream(upstream)) {
    return relay(upstream, observer, {
      transform: (stream) => {
        const translation = translateChatStream(stream, context, { onResponse: save });
        translator = translation.translator;
        return translation.stream;
      },
    });
  }
  const completion = await readChatAnswer(upstream);
  const response = chatToResponse(completion, context);
  observer.answer(response);
  noteCost(c.get("event"), completion); // the translated Response has no copilot_usage: Copilot's chat answer does
  if (typeof completion.model === "string" && completion.model !== "") c.get("event").upstreamModel = completion.model;
  save?.(response);
  return c.json(response);
}

/** The web search run by the gateway (the model has no /responses): the loop on chat, the answer as OpenAI's Response. */
async function searched(call: ModelCall<ResponsesRequest>, store: ResponsesStore, settings: SearchSettings, asSent: ResponsesRequest): Promise<Response> {
  const { c, request, text, entry, upstreamModel } = call;
  const talk = conversationOf(c, request, text, store);
  const { items, storing, save, traits } = talk instanceof Promise ? await talk : talk;
  const chat = responsesToChat(request, items, { model: upstreamModel, supportsReasoning: entry !== undefined && hasReasoning(entry) });
  const result = await fulfilSearch(call, chat, settings, traits);
  // The Response names the tools as the client sent them, web search included.
  const response = searchResponse(result, newContext(asSent, storing));
  save?.(response);
  if (!request.stream) return c.json(response);
  return new Response(responseEvents(response), { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
}

/** POST /responses on every model of the plan. */
export const responsesRoute = (store: ResponsesStore) =>
  modelRoute<ResponsesRequest>({
    path: "/responses",
    schema: responsesRequest,
    endpoint: "/responses",
    native: (call) => native(call, store),
    viaChat: (call) => viaChat(call, store),
  });

/** The stored responses of the calling key: GET, GET …/input_items, DELETE. */
export function storedResponseRoutes(routes: Hono<AppEnv>, store: ResponsesStore): void {
  routes.get("/responses/:id", async (c) => c.json((await lookup(c, store)).response));

  routes.get("/responses/:id/input_items", async (c) => {
    const found = await lookup(c, store);
    const order = c.req.query("order") ?? "desc";
    if (order !== "asc" && order !== "desc") {
      throw new ApiFailure(400, { message: 'order: expected "asc" or "desc"', type: "invalid_request_error", code: "invalid_value", param: "order" });
    }
    const limitText = c.req.query("limit");
    const pageSize = limitText === undefined ? DEFAULT_LIMIT : Number(limitText);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_LIMIT) {
      throw new ApiFailure(400, {
        message: `limit: expected a whole number from 1 to ${MAX_LIMIT}`,
        type: "invalid_request_error",
        code: "invalid_value",
        param: "limit",
      });
    }
    const after = c.req.query("after");
    return c.json(pageOf(found.input, found.id, { order, after: after === undefined ? undefined : after.slice(0, RESPONSE_ID_MAX * 2), limit: pageSize }));
  });

  routes.delete("/responses/:id", async (c) => {
    const id = c.req.param("id");
    if (id.length > RESPONSE_ID_MAX || !(await store.stored.delete(id, c.get("apiKey").id))) throw responseNotFound(id);
    return c.json({ id, object: "response", deleted: true });
  });
}

const responseNotFound = (id: string) =>
  new ApiFailure(404, { message: notFound(id), type: "invalid_request_error", code: "response_not_found", param: "response_id" });

/** The stored response the path names, if the calling key owns it; else the 404 that says so. */
async function lookup(c: Context<AppEnv>, store: ResponsesStore): Promise<StoredResponse> {
  const id = c.req.param("id") ?? "";
  // The response alone (a budget of 0 bytes reads no earlier link).
  const found = id.length <= RESPONSE_ID_MAX ? (await store.stored.lookup(id, 0)).find(id, c.get("apiKey").id) : undefined;
  if (found?.omittedBytes !== undefined) {
    throw new ApiFailure(404, {
      message: `response ${JSON.stringify(id)} was not stored: its body was ${found.omittedBytes} bytes, above the ${store.stored.maxResponseBytes}-byte limit per stored response`,
      type: "invalid_request_error",
      code: "response_not_stored",
      param: "response_id",
    });
  }
  if (!found) throw responseNotFound(id);
  return found;
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
