// Web search on every path (issue 26, point 2): Anthropic's server tool on native and translated Claude
// models, Responses' web_search on a model without /responses, each fulfilled by the gateway with a
// search model's /responses; the official SDKs as clients of the app in this process (a real SQLite
// file, the fake Copilot on loopback).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { desc, eq } from "drizzle-orm";
import OpenAI from "openai";
import { openStore, type Store } from "~/db";
import { events, usageHourly } from "~/db/schema";
import { createKey } from "~/features/keys";
import { SEARCH_AGAIN } from "../fake-answers";
import { FAKE_SEARCH_SOURCES, type FakeUpstream, startFakeUpstream } from "../fake-upstream";
import { cleanUpAfterFile, composedApp, tempDir } from "../helpers";

cleanUpAfterFile();

let fake: FakeUpstream;
let store: Store;
let composed: Awaited<ReturnType<typeof composedApp>>;
let secret: string;

/** The app over the fake Copilot, as start.ts composes it; `webSearchModel` as --web-search-model. */
const appWith = async (over: Store, webSearchModel?: string) =>
  composedApp(over, { ...fake.env(), GH_TOKEN: fake.githubToken }, "--body-limit-mb", "1", ...(webSearchModel ? ["--web-search-model", webSearchModel] : []));
type App = typeof composed.app;
let app: App;

beforeAll(async () => {
  fake = startFakeUpstream();
  store = openStore({ path: join(tempDir(), "copilot-api.db") });
  secret = createKey(store.db, { tier: "client", label: "web search test", allowedModels: ["*"], rateLimit: null }).secret;
  composed = await appWith(store);
  app = composed.app;
});

afterAll(() => fake.stop());

/** The SDKs talk to the app in this process: their fetch is the app's. */
const inProcess = (target: () => App) => (input: string | URL | Request, init?: RequestInit) => Promise.resolve(target().fetch(new Request(input, init)));
const anthropic = (target = () => app) => new Anthropic({ baseURL: "http://gateway.test", apiKey: secret, maxRetries: 0, fetch: inProcess(target) });
const openai = (target = () => app) => new OpenAI({ baseURL: "http://gateway.test/v1", apiKey: secret, maxRetries: 0, fetch: inProcess(target) });

const SEARCH_TOOL = { type: "web_search_20250305", name: "web_search", max_uses: 3 } as const;
const PROMPT = "Perform a web search for the query: bun runtime docs";
const URLS = FAKE_SEARCH_SOURCES.map((source) => source.url);

/** What reached the fake since `from`: the searches (POST /responses) and the model turns (everything else). */
function reached(from: number) {
  const sent = fake.requests.slice(from).filter((r) => r.method === "POST");
  const searches = sent.filter((r) => r.path === "/responses").map((r) => JSON.parse(r.body) as Record<string, unknown>);
  return { sent, searches, paths: sent.map((r) => r.path) };
}

/** The newest events: the request's, and the searches it caused (linked by parent_event_id). */
async function eventsOfLastRequest() {
  await composed.recorder.committed();
  const parent = store.db.select().from(events).where(eq(events.route, "/messages")).orderBy(desc(events.id)).limit(1).get();
  return parent;
}

const childrenOf = (id: number) => store.db.select().from(events).where(eq(events.parentEventId, id)).all();

describe("Anthropic's web search server tool", () => {
  for (const [label, model, path] of [
    ["native (claude-sonnet-4.5, /v1/messages)", "claude-sonnet-4-5", "/chat/completions"],
    ["translated (claude-sonnet-4)", "claude-sonnet-4", "/chat/completions"],
  ] as const) {
    test(`${label}: server_tool_use and web_search_tool_result blocks, text citing the sources, one linked search event`, async () => {
      const from = fake.requests.length;
      const message = await anthropic().messages.create({
        model,
        max_tokens: 512,
        messages: [{ role: "user", content: PROMPT }],
        tools: [SEARCH_TOOL],
      });
      const types = message.content.map((block) => block.type);
      expect(types).toEqual(["text", "server_tool_use", "web_search_tool_result", "text"]);
      const use = message.content[1] as Anthropic.ServerToolUseBlock;
      const result = message.content[2] as Anthropic.WebSearchToolResultBlock;
      expect(use).toMatchObject({ name: "web_search", input: { query: PROMPT } });
      expect(result.tool_use_id).toBe(use.id);
      expect((result.content as Anthropic.WebSearchResultBlock[]).map((r) => r.url)).toEqual(URLS);
      const answer = message.content[3] as Anthropic.TextBlock;
      for (const url of URLS) expect(answer.text).toContain(url);
      expect(answer.citations?.map((c) => (c as Anthropic.CitationsWebSearchResultLocation).url)).toEqual(URLS);
      expect(message.stop_reason).toBe("end_turn");
      expect(message.usage.server_tool_use?.web_search_requests).toBe(1);

      // Copilot never saw the server tool: two chat turns with the function, one search on gpt-5-mini's /responses.
      const { sent, searches, paths } = reached(from);
      expect(paths).toEqual([path, "/responses", path]);
      expect(sent.some((r) => r.body.includes("web_search_20250305"))).toBe(false);
      expect(searches).toEqual([expect.objectContaining({ model: "gpt-5-mini", tools: [{ type: "web_search" }], input: [{ role: "user", content: PROMPT }] })]);
      expect(sent[0]!.headers["x-initiator"]).toBe("user");
      expect(sent[1]!.headers["x-initiator"]).toBe("agent");
      expect(sent[2]!.headers["x-initiator"]).toBe("agent");

      const parent = (await eventsOfLastRequest())!;
      expect(parent).toMatchObject({ status: 200, model, initiator: "user", parentEventId: null });
      // Billed once, as the user's request: the loop's later turns and the search are the agent's.
      expect(parent.premiumRequests).toBe(parent.premiumMultiplier!);
      expect(childrenOf(parent.id)).toEqual([
        expect.objectContaining({ route: "/responses", model: "gpt-5-mini", initiator: "agent", status: 200, premiumRequests: 0, keyId: parent.keyId }),
      ]);
    });
  }

  test("streamed: Anthropic's event sequence for the search blocks, and the SDK's final message", async () => {
    const stream = anthropic().messages.stream({
      model: "claude-sonnet-4",
      max_tokens: 512,
      messages: [{ role: "user", content: PROMPT }],
      tools: [SEARCH_TOOL],
    });
    const seen: string[] = [];
    stream.on("streamEvent", (event) => {
      if (event.type === "content_block_start") seen.push(`start:${event.content_block.type}`);
      else if (event.type === "content_block_delta") seen.push(`delta:${event.delta.type}`);
      else seen.push(event.type);
    });
    const message = await stream.finalMessage();
    expect(seen).toEqual([
      "message_start",
      "start:text",
      "delta:text_delta",
      "content_block_stop",
      "start:server_tool_use",
      "delta:input_json_delta",
      "content_block_stop",
      "start:web_search_tool_result",
      "content_block_stop",
      "start:text",
      "delta:citations_delta",
      "delta:citations_delta",
      "delta:text_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    expect((message.content[1] as Anthropic.ServerToolUseBlock).input).toEqual({ query: PROMPT });
    expect(message.usage.server_tool_use?.web_search_requests).toBe(1);
    expect((message.content[3] as Anthropic.TextBlock).citations).toHaveLength(2);
  });

  test("allowed_domains go to the search as filters; blocked_domains drop sources and are told to the search", async () => {
    const from = fake.requests.length;
    const message = await anthropic().messages.create({
      model: "claude-sonnet-4",
      max_tokens: 512,
      messages: [{ role: "user", content: PROMPT }],
      tools: [
        {
          ...SEARCH_TOOL,
          allowed_domains: ["bun.com", "example.com"],
          user_location: { type: "approximate" as const, city: "Paris", country: "FR" },
        },
      ],
    });
    expect(reached(from).searches[0]!.tools).toEqual([
      { type: "web_search", filters: { allowed_domains: ["bun.com", "example.com"] }, user_location: { type: "approximate", city: "Paris", country: "FR" } },
    ]);
    expect((message.content[2] as Anthropic.WebSearchToolResultBlock).content).toHaveLength(2);

    const blockedFrom = fake.requests.length;
    const blocked = await anthropic().messages.create({
      model: "claude-sonnet-4",
      max_tokens: 512,
      messages: [{ role: "user", content: PROMPT }],
      tools: [{ ...SEARCH_TOOL, blocked_domains: ["bun.com"] }],
    });
    const results = (blocked.content[2] as Anthropic.WebSearchToolResultBlock).content as Anthropic.WebSearchResultBlock[];
    expect(results.map((r) => r.url)).toEqual(["https://example.com/copilot-api"]);
    expect(JSON.stringify(reached(blockedFrom).searches[0]!.input)).toContain("Do not use results from bun.com");
  });

  test("max_uses bounds the searches: past it the function is no longer offered and the model answers", async () => {
    const from = fake.requests.length;
    const message = await anthropic().messages.create({
      model: "claude-sonnet-4",
      max_tokens: 512,
      messages: [{ role: "user", content: `${PROMPT} ${SEARCH_AGAIN}` }],
      tools: [{ ...SEARCH_TOOL, max_uses: 2 }],
    });
    const { sent, paths } = reached(from);
    expect(paths).toEqual(["/chat/completions", "/responses", "/chat/completions", "/responses", "/chat/completions"]);
    expect(JSON.parse(sent[4]!.body).tools).toBeUndefined();
    expect(message.usage.server_tool_use?.web_search_requests).toBe(2);
    expect(message.content.filter((block) => block.type === "server_tool_use").map((block) => (block as Anthropic.ServerToolUseBlock).input)).toEqual([
      { query: `${PROMPT} ${SEARCH_AGAIN}` },
      { query: "search number 2" },
    ]);
    const parent = (await eventsOfLastRequest())!;
    expect(childrenOf(parent.id)).toHaveLength(2);
  });

  test("a later turn replaying the search blocks (and document / search_result blocks) is accepted and read as text", async () => {
    const first = await anthropic().messages.create({
      model: "claude-sonnet-4",
      max_tokens: 512,
      messages: [{ role: "user", content: PROMPT }],
      tools: [SEARCH_TOOL],
    });
    const from = fake.requests.length;
    const next = await anthropic().messages.create({
      model: "claude-sonnet-4",
      max_tokens: 512,
      messages: [
        { role: "user", content: PROMPT },
        { role: "assistant", content: first.content as Anthropic.ContentBlockParam[] },
        {
          role: "user",
          content: [
            { type: "document", source: { type: "text", media_type: "text/plain", data: "a note on bun" }, title: "Notes" },
            { type: "search_result", source: "https://example.com/r", title: "A result", content: [{ type: "text", text: "result text" }] },
            { type: "text", text: "__text_only__ thanks" },
          ],
        },
      ],
    });
    expect(next.content.map((block) => block.type)).toEqual(["text"]);
    const chat = JSON.parse(reached(from).sent[0]!.body) as { messages: { role: string; content: string }[] };
    expect(chat.messages[1]!.content).toContain(`Web search results:\n1. ${FAKE_SEARCH_SOURCES[0].title} — ${URLS[0]}`);
    expect(chat.messages[2]!.content).toContain("Document: Notes\na note on bun");
    expect(chat.messages[2]!.content).toContain("Search result: A result (https://example.com/r)\nresult text");
  });

  test("without a model that can search (--web-search-model names one without /responses), the tool is left out and named in a header", async () => {
    const from = fake.requests.length;
    // Its own connection to the same file: closing that app closes its store, not this file's.
    const other = await appWith(openStore({ path: store.path }), "claude-sonnet-4");
    const { data, response } = await anthropic(() => other.app)
      .messages.create({ model: "claude-sonnet-4-5", max_tokens: 100, messages: [{ role: "user", content: "hello" }], tools: [SEARCH_TOOL] })
      .withResponse();
    await other.close();
    expect(response.status).toBe(200);
    expect(response.headers.get("x-copilot-api-dropped-tools")).toBe("web_search");
    expect(data.content.map((block) => block.type)).toEqual(["text"]);
    const { sent } = reached(from);
    expect(sent.map((r) => r.path)).toEqual(["/v1/messages"]);
    expect(sent[0]!.body).not.toContain("web_search");
  });
});

describe("Responses' web_search on a model without /responses (gpt-4.1)", () => {
  const body = { model: "gpt-4.1", input: "web search for bun runtime docs", tools: [{ type: "web_search" as const }], store: false };

  test("not streamed: a web_search_call item, the message with url_citation annotations, a linked search event", async () => {
    const from = fake.requests.length;
    const response = await openai().responses.create(body);
    expect(response.output.map((item) => item.type)).toEqual(["message", "web_search_call", "message"]);
    const call = response.output[1] as OpenAI.Responses.ResponseFunctionWebSearch;
    expect(call).toMatchObject({ status: "completed", action: { type: "search", query: body.input } });
    const text = (response.output[2] as OpenAI.Responses.ResponseOutputMessage).content[0] as OpenAI.Responses.ResponseOutputText;
    expect(text.annotations.map((a) => (a as OpenAI.Responses.ResponseOutputText.URLCitation).url)).toEqual(URLS);
    for (const note of text.annotations as OpenAI.Responses.ResponseOutputText.URLCitation[]) {
      expect(text.text.slice(note.start_index, note.end_index)).toBe(note.url);
    }
    expect(response.tools).toEqual([expect.objectContaining({ type: "web_search" })]);
    expect(reached(from).paths).toEqual(["/chat/completions", "/responses", "/chat/completions"]);
    expect(reached(from).searches[0]!.tools).toEqual([{ type: "web_search" }]);

    await composed.recorder.committed();
    const parent = store.db.select().from(events).where(eq(events.route, "/responses")).orderBy(desc(events.id)).limit(1).all();
    const parentRow = store.db.select().from(events).where(eq(events.model, "gpt-4.1")).orderBy(desc(events.id)).limit(1).get()!;
    expect(parent[0]).toMatchObject({ parentEventId: parentRow.id, model: "gpt-5-mini", initiator: "agent" });
  });

  test("streamed: output items added and done, the search's events, the annotations, then response.completed", async () => {
    const from = fake.requests.length;
    // As Codex 0.171 sends it by default: its external_web_access goes to the search as it came.
    const stream = await openai().responses.create({
      ...body,
      tools: [{ type: "web_search", external_web_access: false } as OpenAI.Responses.WebSearchTool],
      stream: true,
    });
    const types: string[] = [];
    let completed: OpenAI.Responses.Response | undefined;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "response.completed") completed = event.response;
    }
    expect(types.filter((t) => t.startsWith("response.web_search_call."))).toEqual([
      "response.web_search_call.in_progress",
      "response.web_search_call.searching",
      "response.web_search_call.completed",
    ]);
    expect(types.filter((t) => t === "response.output_text.annotation.added")).toHaveLength(2);
    expect(types[0]).toBe("response.created");
    expect(types.at(-1)).toBe("response.completed");
    expect(completed?.output.map((item) => item.type)).toEqual(["message", "web_search_call", "message"]);
    expect(reached(from).searches[0]!.tools).toEqual([{ type: "web_search", external_web_access: false }]);
  });

  test("the usage report counts each search under the search model", async () => {
    await composed.recorder.committed();
    const rows = store.db.select().from(usageHourly).where(eq(usageHourly.model, "gpt-5-mini")).all();
    const searches = store.db.select().from(events).where(eq(events.model, "gpt-5-mini")).all();
    expect(searches.length).toBeGreaterThan(0);
    expect(rows.reduce((sum, row) => sum + row.requests, 0)).toBe(searches.length);
  });
});
