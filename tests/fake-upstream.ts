import type { CatalogEntry } from "~/upstream/model-catalog";
import {
  ASKS_TO_SEARCH,
  anthropicEvents,
  anthropicMessage,
  chatChunks,
  chatCompletion,
  copilotUsage,
  FAKE_SEARCH_FUNCTION,
  fakeToolCall,
  scriptedAnswer,
  scriptedFailure,
  viewAnthropic,
  viewChat,
} from "./fake-answers";
import { PROMPT_FILTER_CHUNK } from "./fixtures/copilot-chat-chunks";
import { COPILOT_MODELS } from "./fixtures/copilot-models";

/**
 * A fake GitHub + Copilot on loopback: a real HTTP server on port 0 that plays
 * the device flow, the token exchange and the Copilot API, and records every
 * request it receives so tests can check what copilot-api really sent.
 */
export interface Recorded {
  /** The GitHub login whose Copilot token the request carried (Copilot API requests). */
  login?: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface FakeUpstream {
  url: string;
  requests: Recorded[];
  /** Device flow: how many polls answer authorization_pending before the token is given. */
  pendingPolls: number;
  /** Token exchange: the GitHub token it accepts, and the lifetime of the tokens it issues. */
  githubToken: string;
  tokenTtlSeconds: number;
  refreshInSeconds: number;
  exchanges: number;
  /** endpoints.api in the token exchange's answer (default: the fake itself); null leaves endpoints out. */
  endpointsApi: string | null;
  /** How far the fake's clock (expires_at, Date header) is from the real one: -1800 plays a local clock 30 minutes fast. */
  serverClockOffsetSeconds: number;
  /** The next this-many token exchanges answer 500 (a refresh that fails). */
  exchangeFailures: number;
  /** GitHub refuses the GitHub token (401) on the token exchange and copilot_internal/user. */
  refuseGithubToken: boolean;
  /** More GitHub tokens, each a user with its own plan (a team's seats); githubToken is the login `octocat`. */
  users: Map<string, { login: string; plan: string }>;
  /** GitHub tokens GitHub refuses (401), whoever they belong to. */
  refusedTokens: Set<string>;
  /** Logins whose Copilot requests answer 429 (an exhausted window). */
  rateLimitedLogins: Set<string>;
  /** How long the "pause" and "pause-mid-event" models go silent mid-stream. */
  pauseMs: number;
  /** Copilot answers 466 to every request, as it did to stale clients in February 2026. */
  rejectClientVersion: boolean;
  /** Copilot tokens that Copilot still accepts; clear it to make Copilot answer 401. */
  validTokens: Set<string>;
  /** How many text deltas the scripted answers of catalog models stream (tests/fake-answers.ts). */
  textDeltas: number;
  /** Resolves when a streamed response was cancelled by the reader (the proxy). */
  streamCancelled: Promise<void>;
  /** The exact bodies POST /responses answered, in order (JSON or an event stream). */
  responsesAnswered: string[];
  /** What GET /models answers: the realistic catalog (tests/fixtures/copilot-models.ts) unless a test sets another. */
  models: CatalogEntry[];
  /** Chat answers tool calls, json_schema and tool results the way the Responses tests expect (richChat) instead of the catalog's scripted answers. */
  richChat: boolean;
  /** Every copilot_usage.total_nano_aiu the fake put on its answers, summed: what a gateway's report must show. */
  nanoAiuSent: number;
  /**
   * Copilot's usage windows, said on every model answer (x-usage-ratelimit-session / -weekly,
   * x-quota-snapshot-premium_interactions): percent left, counting down by its step per model
   * request; a window at 0 answers 429 `user_<window>_rate_limited` with Retry-After until its reset.
   */
  windows: Record<"session" | "weekly", { remaining: number; step: number; resetInSeconds: number }>;
  /** Model requests Copilot received (refused by a window or answered). */
  modelRequests: number;
  env(): Record<string, string>;
  stop(): void;
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

const CATALOG_IDS = new Set(COPILOT_MODELS.map((m) => m.id));
/** The Copilot API's model routes: the ones its usage windows count. */
const MODEL_PATHS = new Set(["/chat/completions", "/responses", "/v1/messages", "/embeddings"]);

export const USAGE = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 };

/** A chat answer as Copilot sends it: no `object` field, the prompt filter's results beside the choices. */
function completion(model: string) {
  return {
    choices: [{ finish_reason: "stop", index: 0, message: { content: "hello from fake copilot", role: "assistant" } }],
    created: 1_700_000_000,
    id: "chatcmpl-fake",
    model,
    prompt_filter_results: PROMPT_FILTER_CHUNK.prompt_filter_results,
    usage: USAGE,
    copilot_usage: copilotUsage(USAGE.prompt_tokens, USAGE.completion_tokens),
  };
}

function sse(chunks: unknown[]): string {
  return `${chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join("")}data: [DONE]\n\n`;
}

/**
 * Streamed chunks as Copilot sends them: no `object` field; first a
 * prompt_filter_results chunk with empty `choices` (and no `model`); usage
 * alone in the last chunk before `data: [DONE]`.
 */
export function streamChunks(model: string): unknown[] {
  const base = { created: 1_700_000_000, id: "chatcmpl-fake", model };
  return [
    PROMPT_FILTER_CHUNK,
    { ...base, choices: [{ index: 0, delta: { role: "assistant", content: "hel" } }] },
    { ...base, choices: [{ index: 0, delta: { content: "lo" }, finish_reason: "stop" }] },
    { ...base, choices: [], usage: USAGE, copilot_usage: copilotUsage(USAGE.prompt_tokens, USAGE.completion_tokens) },
  ];
}

/** What a strict client must receive for a streamed chunk: `object` and `model` filled in where Copilot left them out. */
export const strictChunk = (chunk: unknown, model: string) => ({ object: "chat.completion.chunk", model, ...(chunk as object) });

/** Usage with the detail blocks Copilot adds (cached prompt tokens, reasoning tokens): on tool and structured-output answers. */
export const DETAILED_USAGE = {
  prompt_tokens: 40,
  completion_tokens: 12,
  total_tokens: 52,
  prompt_tokens_details: { cached_tokens: 16 },
  completion_tokens_details: { reasoning_tokens: 5 },
};

const DETAILED_COST = copilotUsage(DETAILED_USAGE.prompt_tokens, DETAILED_USAGE.completion_tokens, DETAILED_USAGE.prompt_tokens_details.cached_tokens);

/** Usage as Copilot's /responses reports it. */
export const RESPONSES_USAGE = {
  input_tokens: 21,
  input_tokens_details: { cached_tokens: 5 },
  output_tokens: 9,
  output_tokens_details: { reasoning_tokens: 3 },
  total_tokens: 30,
};

/** The argument the fake's function calls carry. */
export const FAKE_CALL_ARGUMENTS = '{"city":"Paris"}';

const supportsEndpoint = (model: string, endpoint: string) => {
  const entry = COPILOT_MODELS.find((m) => m.id === model);
  return !entry?.supported_endpoints || entry.supported_endpoints.includes(endpoint);
};

const unsupportedApi = (model: string) =>
  json({ error: { message: `model ${model} is not supported via this endpoint.`, code: "unsupported_api_for_model", type: "invalid_request_error" } }, 400);

/** A value that fits a (simple) JSON schema: what the fake answers for structured outputs. */
export function sampleFor(schema: unknown): unknown {
  const s = (schema ?? {}) as { type?: string; properties?: Record<string, unknown>; items?: unknown; enum?: unknown[] };
  if (s.enum) return s.enum[0];
  switch (s.type) {
    case "object":
      return Object.fromEntries(Object.entries(s.properties ?? {}).map(([k, v]) => [k, sampleFor(v)]));
    case "array":
      return [sampleFor(s.items)];
    case "number":
    case "integer":
      return 42;
    case "boolean":
      return true;
    default:
      return "fake";
  }
}

type ChatRequestLike = {
  model: string;
  stream?: boolean;
  messages?: { role: string; content?: unknown }[];
  tools?: { function: { name: string } }[];
  response_format?: { type: string; json_schema?: { schema?: unknown } };
};

/** Chat answers beyond plain text: a tool call when tools are offered to a user turn, JSON for a json_schema, the tool's result echoed after a tool turn. */
function richChat(
  payload: ChatRequestLike,
): { content: string | null; toolCall?: { id: string; name: string; arguments?: string }; finish: string } | undefined {
  const last = payload.messages?.at(-1);
  if (payload.tools?.length && last?.role === "user") {
    // The gateway's stand-in for a hosted search when the user asks to search, else the first other tool.
    const names = payload.tools.map((tool) => tool.function.name);
    const text = String(last.content);
    if (names.includes(FAKE_SEARCH_FUNCTION) && ASKS_TO_SEARCH.test(text)) {
      return {
        content: null,
        toolCall: { id: "call_fake_1", name: FAKE_SEARCH_FUNCTION, arguments: JSON.stringify({ query: text.slice(0, 100) }) },
        finish: "tool_calls",
      };
    }
    const name = names.find((n) => n !== FAKE_SEARCH_FUNCTION);
    if (name) return { content: null, toolCall: { id: "call_fake_1", name }, finish: "tool_calls" };
  }
  if (payload.response_format?.type === "json_schema")
    return { content: JSON.stringify(sampleFor(payload.response_format.json_schema?.schema)), finish: "stop" };
  if (last?.role === "tool") return { content: `the tool said: ${String(last.content)}`, finish: "stop" };
  return undefined;
}

function richChatAnswer(payload: ChatRequestLike, rich: NonNullable<ReturnType<typeof richChat>>): Response {
  const base = { id: "chatcmpl-rich", created: 1_700_000_000, model: payload.model };
  const call = rich.toolCall && {
    id: rich.toolCall.id,
    type: "function",
    function: { name: rich.toolCall.name, arguments: rich.toolCall.arguments ?? FAKE_CALL_ARGUMENTS },
  };
  if (!payload.stream) {
    const message = { role: "assistant", content: rich.content, ...(call ? { tool_calls: [call] } : {}) };
    return json({ ...base, choices: [{ index: 0, message, finish_reason: rich.finish }], usage: DETAILED_USAGE, copilot_usage: DETAILED_COST });
  }
  const chunks: unknown[] = [{ id: "", choices: [], prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }] }];
  if (call) {
    chunks.push({
      ...base,
      choices: [
        {
          index: 0,
          delta: { role: "assistant", tool_calls: [{ index: 0, id: call.id, type: "function", function: { name: call.function.name, arguments: "" } }] },
        },
      ],
    });
    const args = call.function.arguments;
    const half = Math.floor(args.length / 2);
    for (const piece of [args.slice(0, half), args.slice(half)]) {
      chunks.push({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: piece } }] } }] });
    }
  } else {
    const text = rich.content ?? "";
    const half = Math.floor(text.length / 2);
    for (const piece of [text.slice(0, half), text.slice(half)]) chunks.push({ ...base, choices: [{ index: 0, delta: { content: piece } }] });
  }
  chunks.push({ ...base, choices: [{ index: 0, delta: {}, finish_reason: rich.finish }] });
  chunks.push({ ...base, choices: [], usage: DETAILED_USAGE, copilot_usage: DETAILED_COST });
  return new Response(sse(chunks), { headers: { "content-type": "text/event-stream" } });
}

type ResponsesRequestLike = {
  model: string;
  stream?: boolean;
  input?: string | { type?: string; role?: string; output?: unknown; content?: unknown }[];
  tools?: { type: string; name?: string }[];
  text?: { format?: { type: string; schema?: unknown } };
  reasoning?: unknown;
  include?: string[];
};

let responseCount = 0;

/** The sources the fake's web search finds, cited in its answer. */
export const FAKE_SEARCH_SOURCES = [
  { url: "https://bun.com/docs/runtime", title: "Bun Runtime docs" },
  { url: "https://example.com/copilot-api", title: "copilot-api notes" },
] as const;

/** The text of a Responses input item's content (a string, or its text parts). */
function itemText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((p: { text?: unknown }) => (typeof p?.text === "string" ? p.text : "")).join("\n");
}

/** A web search's output as Copilot's /responses gives it: the `web_search_call` item, then a message citing its sources. */
function webSearchOutput(id: string, query: string): Record<string, unknown>[] {
  const lead = "Here is what the web says: ";
  let text = lead;
  const annotations = FAKE_SEARCH_SOURCES.map((source, index) => {
    if (index > 0) text += " and ";
    const start = text.length;
    text += source.title;
    return { type: "url_citation", url: source.url, title: source.title, start_index: start, end_index: text.length };
  });
  text += ".";
  return [
    { id: `ws_${id}`, type: "web_search_call", status: "completed", action: { type: "search", query } },
    { id: `msg_${id}`, type: "message", status: "completed", role: "assistant", content: [{ type: "output_text", text, annotations }] },
  ];
}

/**
 * Copilot's /responses answer for a request: a web search (a `web_search` tool offered and the
 * user asking to search), a function call, JSON for a json_schema, or text (echoing a function's output).
 */
function responsesAnswer(payload: ResponsesRequestLike): Record<string, unknown> {
  const id = `resp_fake${(++responseCount).toString().padStart(4, "0")}`;
  const items = typeof payload.input === "string" ? [{ role: "user", content: payload.input }] : (payload.input ?? []);
  const last = items.at(-1);
  const lastUserText = last?.role === "user" ? itemText(last.content) : "";
  const output: Record<string, unknown>[] = [];
  if (payload.reasoning) {
    const encrypted = payload.include?.includes("reasoning.encrypted_content") ? { encrypted_content: "gAAAA-fake-encrypted" } : {};
    output.push({ id: `rs_${id}`, type: "reasoning", summary: [], ...encrypted });
  }
  const searches = payload.tools?.some((t) => t.type === "web_search" || t.type === "web_search_preview") && /\bsearch\b/i.test(lastUserText);
  const functions = (payload.tools ?? []).filter((t) => t.type === "function").map((t) => String(t.name));
  const call = last?.type === "function_call_output" ? undefined : fakeToolCall(functions, lastUserText);
  if (searches) {
    output.push(...webSearchOutput(id, lastUserText.trim().slice(0, 100)));
  } else if (call) {
    output.push({ id: `fc_${id}`, type: "function_call", status: "completed", call_id: `call_${id}`, name: call.name, arguments: JSON.stringify(call.input) });
  } else {
    const text =
      payload.text?.format?.type === "json_schema"
        ? JSON.stringify(sampleFor(payload.text.format.schema))
        : last?.type === "function_call_output"
          ? `the tool said: ${String(last.output)}`
          : "hello from fake copilot";
    output.push({ id: `msg_${id}`, type: "message", status: "completed", role: "assistant", content: [{ type: "output_text", text, annotations: [] }] });
  }
  return {
    id,
    object: "response",
    created_at: 1_700_000_000,
    status: "completed",
    error: null,
    incomplete_details: null,
    model: payload.model,
    output,
    parallel_tool_calls: true,
    store: false,
    tools: payload.tools ?? [],
    usage: RESPONSES_USAGE,
    copilot_usage: copilotUsage(RESPONSES_USAGE.input_tokens, RESPONSES_USAGE.output_tokens, RESPONSES_USAGE.input_tokens_details.cached_tokens),
  };
}

/** The same answer as Copilot streams it: OpenAI's event sequence, each event named and numbered. */
function responsesEvents(answer: Record<string, unknown>): string {
  let seq = 0;
  const frames: string[] = [];
  const emit = (type: string, data: Record<string, unknown>) =>
    frames.push(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`);
  const { copilot_usage: _meter, ...started } = answer;
  const start = { ...started, status: "in_progress", output: [], usage: null };
  emit("response.created", { response: start });
  emit("response.in_progress", { response: start });
  for (const [index, item] of (answer.output as Record<string, unknown>[]).entries()) {
    if (item.type === "message") {
      const { text, annotations } = (item.content as { text: string; annotations: unknown[] }[])[0]!;
      emit("response.output_item.added", { output_index: index, item: { ...item, status: "in_progress", content: [] } });
      emit("response.content_part.added", {
        item_id: item.id,
        output_index: index,
        content_index: 0,
        part: { type: "output_text", text: "", annotations: [] },
      });
      for (const piece of [text.slice(0, 5), text.slice(5)]) {
        emit("response.output_text.delta", { item_id: item.id, output_index: index, content_index: 0, delta: piece, logprobs: [] });
      }
      for (const [annotationIndex, annotation] of annotations.entries()) {
        emit("response.output_text.annotation.added", {
          item_id: item.id,
          output_index: index,
          content_index: 0,
          annotation_index: annotationIndex,
          annotation,
        });
      }
      emit("response.output_text.done", { item_id: item.id, output_index: index, content_index: 0, text, logprobs: [] });
      emit("response.content_part.done", { item_id: item.id, output_index: index, content_index: 0, part: { type: "output_text", text, annotations } });
    } else if (item.type === "function_call") {
      emit("response.output_item.added", { output_index: index, item: { ...item, status: "in_progress", arguments: "" } });
      emit("response.function_call_arguments.delta", { item_id: item.id, output_index: index, delta: item.arguments });
      emit("response.function_call_arguments.done", { item_id: item.id, output_index: index, arguments: item.arguments });
    } else if (item.type === "web_search_call") {
      emit("response.output_item.added", { output_index: index, item: { id: item.id, type: item.type, status: "in_progress" } });
      for (const phase of ["in_progress", "searching", "completed"]) emit(`response.web_search_call.${phase}`, { item_id: item.id, output_index: index });
    } else {
      emit("response.output_item.added", { output_index: index, item });
    }
    emit("response.output_item.done", { output_index: index, item });
  }
  // Copilot puts its meter at the terminal event's top level, beside the Response.
  const { copilot_usage, ...response } = answer;
  emit("response.completed", { response, copilot_usage });
  return frames.join("");
}

/** GET copilot_internal/user as GitHub answers it for a Pro+ plan part-way through the month. */
export const COPILOT_USER = {
  login: "octocat",
  access_type_sku: "plus_monthly_subscriber_quota",
  analytics_tracking_id: "0123456789abcdef0123456789abcdef",
  assigned_date: "2026-01-30T10:00:46-05:00",
  can_signup_for_limited: false,
  chat_enabled: true,
  codex_agent_enabled: true,
  copilot_plan: "individual_pro",
  organization_login_list: [],
  organization_list: [],
  endpoints: {
    api: "https://api.individual.githubcopilot.com",
    "origin-tracker": "https://origin-tracker.individual.githubcopilot.com",
    proxy: "https://proxy.individual.githubcopilot.com",
    telemetry: "https://telemetry.individual.githubcopilot.com",
  },
  quota_reset_date: "2026-12-01",
  quota_reset_date_utc: "2026-12-01T00:00:00.000Z",
  quota_snapshots: {
    chat: {
      entitlement: 0,
      overage_count: 0,
      overage_permitted: false,
      percent_remaining: 100,
      quota_id: "chat",
      quota_remaining: 0,
      remaining: 0,
      unlimited: true,
      timestamp_utc: "2026-11-20T13:40:44.935Z",
    },
    completions: {
      entitlement: 0,
      overage_count: 0,
      overage_permitted: false,
      percent_remaining: 100,
      quota_id: "completions",
      quota_remaining: 0,
      remaining: 0,
      unlimited: true,
      timestamp_utc: "2026-11-20T13:40:44.935Z",
    },
    premium_interactions: {
      entitlement: 1500,
      overage_count: 0,
      overage_permitted: true,
      percent_remaining: 70.28,
      quota_id: "premium_interactions",
      quota_remaining: 1054.25,
      remaining: 1054,
      unlimited: false,
      timestamp_utc: "2026-11-20T13:40:44.935Z",
    },
  },
};

export function startFakeUpstream(): FakeUpstream {
  let cancelled!: () => void;
  const copilotTokenOwner = new Map<string, string>();
  const fake: FakeUpstream = {
    url: "",
    requests: [],
    pendingPolls: 1,
    githubToken: "gho_fake_github_token",
    tokenTtlSeconds: 1800,
    refreshInSeconds: 1500,
    exchanges: 0,
    endpointsApi: "",
    serverClockOffsetSeconds: 0,
    exchangeFailures: 0,
    refuseGithubToken: false,
    users: new Map(),
    refusedTokens: new Set(),
    rateLimitedLogins: new Set(),
    pauseMs: 1000,
    rejectClientVersion: false,
    validTokens: new Set(),
    textDeltas: 3,
    streamCancelled: new Promise<void>((resolve) => (cancelled = resolve)),
    responsesAnswered: [],
    models: COPILOT_MODELS,
    richChat: false,
    nanoAiuSent: 0,
    windows: { session: { remaining: 100, step: 0.001, resetInSeconds: 5 * 3600 }, weekly: { remaining: 100, step: 0.0001, resetInSeconds: 3 * 86_400 } },
    modelRequests: 0,
    env: () => ({ COPILOT_API_GITHUB_URL: fake.url, COPILOT_API_GITHUB_API_URL: fake.url, COPILOT_API_COPILOT_URL: fake.url }),
    stop: () => server.stop(true),
  };

  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 60,
    fetch: async (req) => {
      if (req.method !== "POST" || !MODEL_PATHS.has(new URL(req.url).pathname)) return answer(req);
      fake.modelRequests += 1;
      const exhausted = (["session", "weekly"] as const).find((name) => fake.windows[name].remaining <= 0);
      const response = exhausted ? windowRefusal(exhausted) : await meter(await answer(req));
      for (const name of ["session", "weekly"] as const) fake.windows[name].remaining = Math.max(0, fake.windows[name].remaining - fake.windows[name].step);
      return withWindowHeaders(response);
    },
  });

  // A window's reset is a fixed time, as Copilot's is: the same `rst` on every answer until it passes.
  const windowsStartedAt = Date.now();
  /** Copilot's window headers as it sends them: `rem` percent left, `rst` the reset time URL-encoded. */
  function withWindowHeaders(response: Response): Response {
    const header = (remaining: number, resetInSeconds: number) =>
      `ent=0&ov=0.0&ovPerm=false&rem=${Math.round(remaining * 10_000) / 10_000}&rst=${encodeURIComponent(new Date(windowsStartedAt + resetInSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z"))}`;
    const { session, weekly } = fake.windows;
    response.headers.set("x-usage-ratelimit-session", header(session.remaining, session.resetInSeconds));
    response.headers.set("x-usage-ratelimit-weekly", header(weekly.remaining, weekly.resetInSeconds));
    response.headers.set("x-quota-snapshot-premium_interactions", header(weekly.remaining, weekly.resetInSeconds));
    return response;
  }
  function windowRefusal(name: "session" | "weekly"): Response {
    const message = name === "weekly" ? "You have exceeded your weekly rate limit." : "You have exceeded your session rate limit.";
    return new Response(JSON.stringify({ error: { message, code: `user_${name}_rate_limited` } }), {
      status: 429,
      headers: { "content-type": "application/json", "retry-after": String(fake.windows[name].resetInSeconds) },
    });
  }

  /** Adds up the meter on an answer as it leaves: a JSON body read from a copy, a stream as it passes. */
  async function meter(response: Response): Promise<Response> {
    const type = response.headers.get("content-type") ?? "";
    if (type.includes("json")) {
      addMeter(await response.clone().text());
      return response;
    }
    if (!type.startsWith("text/event-stream") || !response.body) return response;
    const decoder = new TextDecoder();
    const counted = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          addMeter(decoder.decode(chunk, { stream: true }));
          controller.enqueue(chunk);
        },
      }),
    );
    return new Response(counted, { status: response.status, headers: response.headers });
  }
  function addMeter(text: string): void {
    for (const match of text.matchAll(/"total_nano_aiu":(\d+)/g)) fake.nanoAiuSent += Number(match[1]);
  }

  async function answer(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const body = await req.text();
    const recorded: Recorded = { method: req.method, path: url.pathname, headers: Object.fromEntries(req.headers), body };
    fake.requests.push(recorded);
    const route = `${req.method} ${url.pathname}`;

    if (route === "POST /login/device/code") {
      return json({ device_code: "dev-123", user_code: "WDJB-MJHT", verification_uri: `${fake.url}/login/device`, expires_in: 60, interval: 0 });
    }
    if (route === "POST /login/oauth/access_token") {
      if (fake.pendingPolls > 0) {
        fake.pendingPolls -= 1;
        return json({ error: "authorization_pending" });
      }
      return json({ access_token: fake.githubToken, token_type: "bearer", scope: "read:user" });
    }
    const githubToken = req.headers.get("authorization")?.replace(/^token /, "") ?? "";
    const githubUser = githubToken === fake.githubToken ? { login: COPILOT_USER.login, plan: COPILOT_USER.copilot_plan } : fake.users.get(githubToken);
    const githubAuthorized = !fake.refuseGithubToken && !fake.refusedTokens.has(githubToken) && githubUser !== undefined;
    if (route === "GET /copilot_internal/v2/token") {
      if (!githubAuthorized) return json({ message: "Bad credentials", documentation_url: "https://docs.github.com/rest" }, 401);
      if (fake.exchangeFailures > 0) {
        fake.exchangeFailures -= 1;
        return json({ message: "Service unavailable" }, 500);
      }
      fake.exchanges += 1;
      const token = `tid=fake-copilot-${fake.exchanges}`;
      fake.validTokens.add(token);
      copilotTokenOwner.set(token, githubUser!.login);
      // GitHub's own clock: expires_at and the Date header agree with each other, whatever the local clock says.
      const serverNow = Date.now() + fake.serverClockOffsetSeconds * 1000;
      const answer = {
        token,
        expires_at: Math.floor(serverNow / 1000) + fake.tokenTtlSeconds,
        refresh_in: fake.refreshInSeconds,
        ...(fake.endpointsApi === null ? {} : { endpoints: { api: fake.endpointsApi || fake.url, proxy: fake.url, telemetry: fake.url } }),
        chat_enabled: true,
        sku: "plus_monthly_subscriber_quota",
      };
      return new Response(JSON.stringify(answer), { headers: { "content-type": "application/json", date: new Date(serverNow).toUTCString() } });
    }
    if (route === "GET /copilot_internal/user") {
      if (!githubAuthorized) return json({ message: "Bad credentials", documentation_url: "https://docs.github.com/rest" }, 401);
      return json({ ...COPILOT_USER, login: githubUser!.login, copilot_plan: githubUser!.plan });
    }

    // Everything below is the Copilot API: it wants a token it issued.
    const bearer = req.headers.get("authorization")?.replace(/^Bearer /, "") ?? "";
    if (!fake.validTokens.has(bearer)) return json({ error: { message: "unauthorized: token expired" } }, 401);
    const login = copilotTokenOwner.get(bearer);
    recorded.login = login;
    if (login && fake.rateLimitedLogins.has(login)) {
      return new Response(JSON.stringify({ error: { message: "You have exceeded your weekly rate limit.", code: "user_weekly_rate_limited" } }), {
        status: 429,
        headers: { "content-type": "application/json", "retry-after": "3600" },
      });
    }
    if (fake.rejectClientVersion) {
      const message = "bad request: the specified API version is no longer supported. You may need to update your client to a newer version.\n";
      return json({ error: { message, type: "error" } }, 466);
    }

    if (route === "GET /models") return json({ object: "list", data: fake.models });
    if (route === "POST /v1/messages") {
      // Copilot's native Anthropic endpoint, for the catalog models that list it.
      const payload = JSON.parse(body) as Record<string, unknown> & { model: string; stream?: boolean };
      const entry = COPILOT_MODELS.find((m) => m.id === payload.model);
      if (!entry?.supported_endpoints?.includes("/v1/messages")) {
        return json({ type: "error", error: { type: "invalid_request_error", message: `model ${payload.model} is not supported via /v1/messages` } }, 400);
      }
      // Copilot refuses Anthropic's web-search server tool on this endpoint, whatever the beta header.
      if ((payload.tools as { type?: string }[] | undefined)?.some((t) => /^web_search_\d{8}$/.test(String(t.type)))) {
        return json({ error: { message: "The use of the web search tool is not supported.", code: "unsupported_value" } }, 400);
      }
      const view = viewAnthropic(payload);
      const failure = scriptedFailure(view, true);
      if (failure) return failure;
      const answer = scriptedAnswer(view);
      if (payload.stream) return new Response(anthropicEvents(payload.model, answer, fake.textDeltas), { headers: { "content-type": "text/event-stream" } });
      return json(anthropicMessage(payload.model, answer));
    }
    if (route === "POST /responses") {
      const payload = JSON.parse(body) as ResponsesRequestLike;
      if (!supportsEndpoint(payload.model, "/responses") || !COPILOT_MODELS.some((m) => m.id === payload.model)) return unsupportedApi(payload.model);
      const answer = responsesAnswer(payload);
      const text = payload.stream ? responsesEvents(answer) : JSON.stringify(answer);
      fake.responsesAnswered.push(text);
      return new Response(text, { headers: { "content-type": payload.stream ? "text/event-stream" : "application/json" } });
    }
    if (route === "POST /embeddings") {
      return json({
        object: "list",
        data: [{ object: "embedding", index: 0, embedding: [0.1, 0.2, 0.3] }],
        model: "text-embedding-3-small",
        usage: { prompt_tokens: 3, total_tokens: 3 },
      });
    }
    if (route === "POST /chat/completions") {
      const payload = JSON.parse(body) as ChatRequestLike;
      if (!supportsEndpoint(payload.model, "/chat/completions")) return unsupportedApi(payload.model);
      if (fake.richChat) {
        // Tool calls, json_schema and tool results as the Responses tests expect them.
        const rich = richChat(payload);
        if (rich) return richChatAnswer(payload, rich);
      } else if (CATALOG_IDS.has(payload.model)) {
        // The realistic catalog's models answer as real Copilot does (tests/fake-answers.ts).
        const view = viewChat(payload as unknown as Record<string, unknown>);
        const failure = scriptedFailure(view, false);
        if (failure) return failure;
        const answer = scriptedAnswer(view);
        if (payload.stream) return new Response(chatChunks(payload.model, answer, fake.textDeltas), { headers: { "content-type": "text/event-stream" } });
        return json(chatCompletion(payload.model, answer));
      }
      if (payload.model === "error-429") return json({ error: { message: "rate limited upstream", type: "rate_limit" } }, 429);
      if (payload.model === "error-500") return new Response("upstream exploded", { status: 500, headers: { "content-type": "text/plain" } });
      if (payload.model === "slow") await Bun.sleep(300);
      if ((payload.model === "pause" || payload.model === "pause-mid-event") && payload.stream) {
        // A model that thinks for a long time mid-answer: an event, silence, then the rest.
        const [first, ...rest] = streamChunks(payload.model).map((c) => `data: ${JSON.stringify(c)}\n\n`);
        const tail = `${rest.join("")}data: [DONE]\n\n`;
        const cut = payload.model === "pause-mid-event" ? first!.length - 20 : first!.length;
        const encode = (text: string) => new TextEncoder().encode(text);
        const stream = new ReadableStream<Uint8Array>({
          async start(controller) {
            controller.enqueue(encode(first!.slice(0, cut)));
            await Bun.sleep(fake.pauseMs);
            controller.enqueue(encode(first!.slice(cut) + tail));
            controller.close();
          },
        });
        return new Response(stream, { headers: { "content-type": "text/event-stream" } });
      }
      if (payload.model === "endless" && payload.stream) {
        const chunk = streamChunks(payload.model)[1];
        let timer: ReturnType<typeof setInterval>;
        const stream = new ReadableStream<Uint8Array>({
          start(controller) {
            timer = setInterval(() => controller.enqueue(new TextEncoder().encode(`data: ${JSON.stringify(chunk)}\n\n`)), 20);
          },
          cancel() {
            clearInterval(timer);
            cancelled();
          },
        });
        return new Response(stream, { headers: { "content-type": "text/event-stream" } });
      }
      if (payload.model === "broken-stream" && payload.stream) {
        // Copilot's side breaks after two chunks: the connection ends without the stream's end.
        const [filter, first] = streamChunks(payload.model);
        const stream = new ReadableStream<Uint8Array>({
          async start(controller) {
            controller.enqueue(new TextEncoder().encode(`data: ${JSON.stringify(filter)}\n\ndata: ${JSON.stringify(first)}\n\n`));
            await Bun.sleep(50);
            controller.error(); // no reason: Bun then cuts the connection without printing a stack trace
          },
        });
        return new Response(stream, { headers: { "content-type": "text/event-stream" } });
      }
      if (payload.stream) return new Response(sse(streamChunks(payload.model)), { headers: { "content-type": "text/event-stream" } });
      return json(completion(payload.model));
    }
    return json({ error: { message: `fake upstream has no ${route}` } }, 404);
  }
  fake.url = `http://127.0.0.1:${server.port}`;
  return fake;
}
