/**
 * Web search fulfilled by the gateway. Copilot runs web search only on /responses, only for its GPT
 * models; a request whose path cannot run it upstream (Anthropic's server tool on a Claude model,
 * Responses' `web_search` on a model translated to chat) gets it here, on Copilot's chat:
 *   the hosted tool becomes a function tool (`web_search`, one `query`) the model may call;
 *   each call is answered by a search model's /responses run with the `web_search` tool;
 *   the loop goes on until the model answers without calling it (bounded by max_uses).
 * Each protocol then tells the searches in its own shape (server_tool_use blocks, web_search_call items).
 */
import type { Context } from "hono";
import type { AppEnv } from "~/app-env";
import type { ChildEvent } from "~/features/events";
import { clip } from "~/lib/clip";
import { log } from "~/lib/log";
import { type CatalogEntry, defaultSearchModel, type ModelCatalog, supports } from "~/upstream/model-catalog";
import { sendToCopilot } from "~/upstream/relay";
import type { ModelCall, ModelRequest, Send } from "../pipeline";
import { readChatAnswer } from "./answer";
import type { ChatCompletionRequest, ChatCompletionResponse, ChatMessage, ChatTool, ChatToolCall, ChatUsage } from "./types";
import { chatUsage } from "./usage";

/** The function tool the model is offered in place of the hosted one. */
export const WEB_SEARCH_FUNCTION = "web_search";

/** Searches per request when the client sets no max_uses (Anthropic's default is unbounded; a gateway bounds it). */
export const DEFAULT_MAX_USES = 5;

/** Chat turns per request at most, whatever the model does: a loop that never ends costs a plan's quota. */
const MAX_TURNS = 12;

/** Longest query sent to the search model, and sources kept per search. */
const QUERY_MAX = 500;
const SOURCES_MAX = 20;

/** What a client asked of the search: where to look, from where, how often. */
export interface SearchSettings {
  allowedDomains?: string[];
  blockedDomains?: string[];
  userLocation?: { city?: string; region?: string; country?: string; timezone?: string };
  maxUses: number;
  /** OpenAI's `external_web_access` as the client sent it (Codex: false, cached results only); absent from Anthropic's tool. */
  externalWebAccess?: boolean;
  /** The catalog id of the model that runs the searches (one that offers /responses). */
  model: string;
}

export interface SearchSource {
  url: string;
  title: string;
  pageAge?: string;
}

/** One search the model asked for, and what it found (or why not). */
export interface SearchDone {
  /** The model's call id. */
  callId: string;
  query: string;
  sources: SearchSource[];
  /** The search model's answer, the text the model is given with the sources. */
  text: string;
  /** Set when the search could not be run: `max_uses_exceeded`, `unavailable`, `invalid_input`. */
  error?: "max_uses_exceeded" | "unavailable" | "invalid_input";
}

/** One turn of the loop: the model's answer, and the searches it asked for. */
export interface SearchTurn {
  completion: ChatCompletionResponse;
  searches: SearchDone[];
}

export interface SearchLoopResult {
  turns: SearchTurn[];
  /** The chat usage of every turn, summed. */
  usage: ChatUsage;
  /** Searches run (not those refused): Anthropic's usage.server_tool_use.web_search_requests. */
  searchCount: number;
}

/**
 * The model that runs searches: --web-search-model when it offers /responses, else the cheapest chat model
 * that does (not premium first, then a "mini" one, then by id). Undefined when the plan has none.
 */
export function searchModelOf(catalog: ModelCatalog | undefined, wanted?: string): CatalogEntry | undefined {
  if (!catalog) return undefined;
  if (!wanted) return defaultSearchModel(catalog.all());
  const entry = catalog.resolve(wanted);
  return entry && supports(entry, "/responses") ? entry : undefined;
}

/** A tool's list of domains: its strings, each bounded (a domain has at most 253 characters). */
export const domainList = (value: unknown): string[] | undefined =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === "string" && v !== "").map((v) => v.slice(0, 253)) : undefined;

/** A tool's `user_location` (Anthropic's and OpenAI's have the same fields), each bounded. */
export function locationOf(value: unknown): SearchSettings["userLocation"] {
  if (typeof value !== "object" || value === null) return undefined;
  const location = value as Record<string, unknown>;
  const field = (name: string) => (typeof location[name] === "string" ? (location[name] as string).slice(0, 100) : undefined);
  return { city: field("city"), region: field("region"), country: field("country"), timezone: field("timezone") };
}

/** The function tool offered in place of the hosted search. */
export function searchFunctionTool(settings: Pick<SearchSettings, "allowedDomains" | "blockedDomains">): ChatTool {
  const scope = settings.allowedDomains?.length ? ` Only ${settings.allowedDomains.join(", ")} are searched.` : "";
  return {
    type: "function",
    function: {
      name: WEB_SEARCH_FUNCTION,
      description: `Search the web for current information. Returns sources (title, URL) and a summary; cite the URLs you use.${scope}`,
      parameters: { type: "object", properties: { query: { type: "string", description: "The search query" } }, required: ["query"] },
    },
  };
}

/** Where the loop sends: Copilot's chat for the model (the first turn as the client started it, the rest as the agent's). */
export type ChatSend = (chat: ChatCompletionRequest, turn: number) => Promise<ChatCompletionResponse>;

/**
 * Runs the model with the search function until it answers without calling it, or calls a tool of the client's
 * (that answer goes back to the client, its searches run). `chat` already carries the search function.
 */
export async function runSearchLoop(c: Context<AppEnv>, chat: ChatCompletionRequest, settings: SearchSettings, send: ChatSend): Promise<SearchLoopResult> {
  const messages: ChatMessage[] = [...chat.messages];
  const turns: SearchTurn[] = [];
  const usage: ChatUsage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
  let searchCount = 0;
  for (let turn = 0; turn < MAX_TURNS; turn++) {
    // Past max_uses the function is no longer offered: the model must answer with what it has.
    const offer = searchCount < settings.maxUses && turn < MAX_TURNS - 1;
    const request = { ...withoutSearch(chat, offer), messages, stream: false, stream_options: undefined };
    // A choice that forces a tool holds for the first turn only: forced again, the model could never answer.
    if (turn > 0 && request.tool_choice !== undefined && request.tool_choice !== "none") request.tool_choice = "auto";
    const completion = await send(request, turn);
    addUsage(usage, completion.usage);
    const calls = toolCallsOf(completion);
    const searchCalls = calls.filter((call) => call.function.name === WEB_SEARCH_FUNCTION);
    const searches: SearchDone[] = [];
    for (const call of searchCalls) {
      const query = queryOf(call.function.arguments);
      if (query === undefined) searches.push({ callId: call.id, query: "", sources: [], text: "web_search needs a query", error: "invalid_input" });
      else if (searchCount >= settings.maxUses)
        searches.push({ callId: call.id, query, sources: [], text: "no more searches allowed", error: "max_uses_exceeded" });
      else {
        searchCount += 1;
        searches.push(await searchOnce(c, call.id, query, settings));
      }
    }
    turns.push({ completion, searches });
    // Done: the model answered, or called a tool of the client's (the client runs it and comes back).
    if (searchCalls.length === 0 || searchCalls.length < calls.length) break;
    messages.push(assistantOf(completion, calls));
    for (const search of searches) messages.push({ role: "tool", tool_call_id: search.callId, content: resultText(search) });
  }
  return { turns, usage, searchCount };
}

/** The chat request with the search function offered or not (and no tool_choice naming it when not). */
function withoutSearch(chat: ChatCompletionRequest, offer: boolean): ChatCompletionRequest {
  if (offer) return chat;
  const tools = (chat.tools ?? []).filter((tool) => tool.function.name !== WEB_SEARCH_FUNCTION);
  const { tools: _, tool_choice: choice, ...rest } = chat;
  if (tools.length === 0) return rest;
  const named = typeof choice === "object" && choice.function.name === WEB_SEARCH_FUNCTION;
  return { ...rest, tools, ...(choice === undefined || named ? {} : { tool_choice: choice }) };
}

const toolCallsOf = (completion: ChatCompletionResponse): ChatToolCall[] => (completion.choices ?? []).flatMap((choice) => choice.message?.tool_calls ?? []);

/** The model's turn as it goes back into the conversation: its text and its calls. */
function assistantOf(completion: ChatCompletionResponse, calls: ChatToolCall[]): ChatMessage {
  const message = completion.choices?.find((choice) => choice.message)?.message;
  const text = (completion.choices ?? []).map((choice) => choice.message?.content ?? "").join("");
  const out: Extract<ChatMessage, { role: "assistant" }> = { role: "assistant", content: text === "" ? null : text, tool_calls: calls };
  if (message?.reasoning_text) out.reasoning_text = message.reasoning_text;
  if (message?.reasoning_opaque) out.reasoning_opaque = message.reasoning_opaque;
  return out;
}

function queryOf(args: string | undefined): string | undefined {
  try {
    const parsed = JSON.parse(args ?? "") as { query?: unknown };
    if (typeof parsed.query === "string" && parsed.query.trim() !== "") return parsed.query.trim().slice(0, QUERY_MAX);
  } catch {
    // not JSON: no query
  }
  return undefined;
}

/** What the model reads back for one search: the sources first, then the search model's summary. */
export function resultText(search: SearchDone): string {
  if (search.error) return `web search failed (${search.error}): ${search.text}`;
  const sources = search.sources.map((source, index) => `${index + 1}. ${source.title} — ${source.url}`).join("\n");
  return `Web search results for ${JSON.stringify(search.query)}:\n${sources}\n\n${search.text}`;
}

function addUsage(sum: ChatUsage, usage: ChatUsage | null | undefined): void {
  sum.prompt_tokens = (sum.prompt_tokens ?? 0) + (usage?.prompt_tokens ?? 0);
  sum.completion_tokens = (sum.completion_tokens ?? 0) + (usage?.completion_tokens ?? 0);
  sum.total_tokens = (sum.total_tokens ?? 0) + (usage?.total_tokens ?? 0);
  const cached = (sum.prompt_tokens_details?.cached_tokens ?? 0) + (usage?.prompt_tokens_details?.cached_tokens ?? 0);
  if (cached > 0) sum.prompt_tokens_details = { cached_tokens: cached };
}

/** The search model's /responses request: the query, the web_search tool with the domains and location OpenAI accepts. */
export function searchRequest(model: string, query: string, settings: SearchSettings): Record<string, unknown> {
  const tool: Record<string, unknown> = { type: "web_search" };
  if (settings.allowedDomains?.length) tool.filters = { allowed_domains: settings.allowedDomains.slice(0, 100) };
  if (settings.userLocation) tool.user_location = { type: "approximate", ...settings.userLocation };
  if (settings.externalWebAccess !== undefined) tool.external_web_access = settings.externalWebAccess;
  // OpenAI's tool has no blocked list: the model is told, and the sources are filtered here.
  const avoid = settings.blockedDomains?.length ? `\n\nDo not use results from ${settings.blockedDomains.join(", ")}.` : "";
  return { model, input: [{ role: "user", content: `${query}${avoid}` }], tools: [tool], tool_choice: "required", store: false, stream: false };
}

/**
 * One search on the search model's /responses, recorded as an event of its own (initiator agent, linked to
 * this request's). A failed search is a tool result that says so, never the request's failure.
 */
async function searchOnce(c: Context<AppEnv>, callId: string, query: string, settings: SearchSettings): Promise<SearchDone> {
  const model = settings.model;
  const started = performance.now();
  const event: ChildEvent = { ts: Date.now(), route: "/responses", model, upstreamModel: model, initiator: "agent", status: 0, latencyMs: 0 };
  c.get("event").children.push(event);
  const done = (found: Omit<SearchDone, "callId" | "query">, status: number) => {
    event.status = status;
    event.latencyMs = Math.round(performance.now() - started);
    return { callId, query, ...found };
  };
  const options = { method: "POST" as const, path: "/responses", body: JSON.stringify(searchRequest(model, query, settings)), initiator: "agent" as const };
  let upstream: Response;
  try {
    upstream = await sendToCopilot(c, c.get("upstream").copilot, options, { reached: () => {}, aborted: () => {} });
  } catch (error) {
    event.error = "upstream_error";
    log.warn(`web search on ${model} could not be sent: ${error instanceof Error ? clip(error.message) : "unknown error"}`);
    return done({ sources: [], text: "the search service could not be reached", error: "unavailable" }, 502);
  }
  if (!upstream.ok) {
    event.error = upstream.status === 429 ? "upstream_rate_limited" : "upstream_error";
    log.warn(`web search on ${model}: Copilot answered HTTP ${upstream.status}: ${clip(await upstream.text())}`);
    return done({ sources: [], text: `the search service answered HTTP ${upstream.status}`, error: "unavailable" }, upstream.status);
  }
  const answer = (await readChatAnswer(upstream)) as unknown as SearchAnswer;
  event.promptTokens = answer.usage?.input_tokens ?? null;
  event.completionTokens = answer.usage?.output_tokens ?? null;
  event.cacheReadTokens = answer.usage?.input_tokens_details?.cached_tokens ?? null;
  event.usageSeen = answer.usage !== undefined;
  if (typeof answer.model === "string") event.upstreamModel = answer.model;
  return done(readSearch(answer, settings), upstream.status);
}

interface SearchAnswer {
  model?: string;
  usage?: { input_tokens?: number; output_tokens?: number; input_tokens_details?: { cached_tokens?: number } };
  output?: { type?: string; content?: { type?: string; text?: string; annotations?: { type?: string; url?: string; title?: string }[] }[] }[];
}

/** The search model's text and the sources it cited, deduplicated, without blocked (or not allowed) domains. */
export function readSearch(answer: SearchAnswer, settings: Pick<SearchSettings, "allowedDomains" | "blockedDomains">): Omit<SearchDone, "callId" | "query"> {
  const texts: string[] = [];
  const sources = new Map<string, SearchSource>();
  for (const item of answer.output ?? []) {
    if (item.type !== "message") continue;
    for (const part of item.content ?? []) {
      if (typeof part.text === "string") texts.push(part.text);
      for (const note of part.annotations ?? []) {
        if (note.type !== "url_citation" || typeof note.url !== "string" || sources.has(note.url) || !domainAllowed(note.url, settings)) continue;
        if (sources.size < SOURCES_MAX) sources.set(note.url, { url: note.url, title: typeof note.title === "string" ? note.title : note.url });
      }
    }
  }
  return { sources: [...sources.values()], text: texts.join("\n") };
}

/** A URL's host is on (or under) an allowed domain, and on no blocked one. */
export function domainAllowed(url: string, settings: Pick<SearchSettings, "allowedDomains" | "blockedDomains">): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  const under = (domain: string) => {
    const d = domain.toLowerCase().replace(/^\*?\./, "");
    return host === d || host.endsWith(`.${d}`);
  };
  if (settings.blockedDomains?.some(under)) return false;
  return !settings.allowedDomains?.length || settings.allowedDomains.some(under);
}

/** Names the tools the gateway left out of the upstream request (it could not run them), so the client can tell. */
export const DROPPED_TOOLS_HEADER = "x-copilot-api-dropped-tools";

/** The models whose dropped web search was already logged: one line each, not one per request. */
const warnedDrops = new Set<string>();

/** One log line per model whose requests lose their web search (the plan has no model that searches), not one per request. */
export function warnDropped(model: string, dropped: string[]): void {
  const key = model.slice(0, 64);
  if (warnedDrops.has(key) || warnedDrops.size >= 100) return;
  warnedDrops.add(key);
  log.warn(
    `${key}: ${dropped.join(", ")} left out of its requests (said once): Copilot runs web search only on /responses, and this plan has no model that offers it` +
      " (or --web-search-model names none); see `copilot-api doctor`",
  );
}

/** The searching model for this call: --web-search-model, or the cheapest that offers /responses; undefined when the plan has none. */
export const searchModelFor = (call: Pick<ModelCall<ModelRequest>, "c" | "deps">) =>
  searchModelOf(call.c.get("upstream").catalog, call.deps.webSearchModel)?.id;

/**
 * Runs the search loop on Copilot's chat for a call: the first turn sent as the client started it (its
 * initiator), the others as the agent's (Copilot bills a premium request once); the summed usage is the event's.
 */
export async function fulfilSearch<R extends ModelRequest>(
  call: ModelCall<R>,
  // A protocol's own chat request (Responses' allows function tools without parameters): sent as it is.
  chat: Omit<ChatCompletionRequest, "tools"> & { tools?: readonly object[] },
  settings: SearchSettings,
  traits: Pick<Send, "vision" | "initiator" | "affinity">,
): Promise<SearchLoopResult> {
  const observer = call.observe(chatUsage);
  // The event is the first turn's (what Copilot bills: its initiator); later turns only add their usage.
  const later = { ...observer, sending: undefined, reached: () => {} };
  const tools = [searchFunctionTool(settings), ...((chat.tools ?? []) as ChatTool[])];
  const result = await runSearchLoop(call.c, { ...chat, tools }, settings, async (body, turn) => {
    const initiator = turn === 0 ? traits.initiator : "agent";
    const upstream = await call.send(
      { method: "POST", path: "/chat/completions", body: JSON.stringify(body), ...traits, initiator },
      turn === 0 ? observer : later,
    );
    return readChatAnswer(upstream);
  });
  const last = result.turns.at(-1)?.completion;
  observer.answer({ model: last?.model, usage: result.usage });
  return result;
}
