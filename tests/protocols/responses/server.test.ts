import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, streamText } from "ai";
import OpenAI from "openai";
import { openStore } from "~/db";
import { StoredResponses } from "~/features/responses";
import { DETAILED_USAGE, FAKE_CALL_ARGUMENTS, type FakeUpstream, RESPONSES_USAGE, sampleFor, startFakeUpstream } from "../../fake-upstream";
import { cleanUpAfterFile, cli, createKey, dbFileOf, isolatedEnv, type RunningServer, startServer, tempDir } from "../../helpers";

cleanUpAfterFile();

let fake: FakeUpstream;
let server: RunningServer;
let home: string;
let env: Record<string, string>;
let owner: OpenAI;
let other: OpenAI;
let ownerSecret: string;

beforeAll(async () => {
  fake = startFakeUpstream();
  fake.richChat = true; // tool calls, json_schema and tool results answered the way these tests expect
  home = tempDir();
  env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
  ownerSecret = (await createKey(env)).secret;
  const otherSecret = (await createKey(env)).secret;
  server = await startServer([], env);
  // The SDKs retry 5xx twice: a failure here should show at once.
  owner = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: ownerSecret, maxRetries: 0 });
  other = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: otherSecret, maxRetries: 0 });
});
afterAll(async () => {
  await server.stop();
  fake.stop();
});

const upstreamBodies = (path: string) => fake.requests.filter((r) => r.method === "POST" && r.path === path).map((r) => JSON.parse(r.body));
const lastUpstream = (path: string) => fake.requests.filter((r) => r.path === path).at(-1)!;

const weatherTool = {
  type: "function" as const,
  name: "get_weather",
  description: "The weather in a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false },
  strict: true,
};

const answerSchema = {
  type: "object",
  properties: { answer: { type: "string" }, confidence: { type: "number" } },
  required: ["answer", "confidence"],
  additionalProperties: false,
};

// gpt-5.1-codex lists only /responses in the catalog: passed through. gpt-4.1 lists nothing (chat only): translated.
// The fake streams its plain chat answer as "hel" + "lo".
const PATHS = [
  { name: "pass-through", model: "gpt-5.1-codex", upstream: "/responses", streamed: "hello from fake copilot" },
  { name: "translated", model: "gpt-4.1", upstream: "/chat/completions", streamed: "hello" },
] as const;

describe.each(PATHS)("POST /v1/responses, $name ($model → Copilot $upstream)", ({ model, upstream, streamed }) => {
  test("responses.create: text, with usage", async () => {
    const before = upstreamBodies(upstream).length;
    const response = await owner.responses.create({ model, input: "hi" });
    expect(response.status).toBe("completed");
    expect(response.output_text).toBe("hello from fake copilot");
    expect(response.id).toStartWith("resp_");
    expect(response.usage?.input_tokens).toBeGreaterThan(0);
    expect(upstreamBodies(upstream)).toHaveLength(before + 1);
  });

  test("responses.stream: text, exactly one response.completed, the final response assembled by the SDK", async () => {
    const stream = owner.responses.stream({ model, input: "hi" });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    const final = await stream.finalResponse();
    expect(final.output_text).toBe(streamed);
    expect(types[0]).toBe("response.created");
    expect(types.filter((t) => t === "response.completed")).toHaveLength(1);
    expect(types.at(-1)).toBe("response.completed");
    expect(types).toContain("response.output_text.delta");
    expect(types).toContain("response.content_part.added");
    expect(types).toContain("response.output_item.done");
  });

  test("a function-call loop with function_call_output, non-streamed and streamed", async () => {
    const first = await owner.responses.create({ model, input: "weather in Paris?", tools: [weatherTool] });
    const call = first.output.find((item) => item.type === "function_call");
    expect(call).toMatchObject({ type: "function_call", name: "get_weather", arguments: FAKE_CALL_ARGUMENTS });
    if (call?.type !== "function_call") throw new Error("no function call");
    expect(lastUpstream(upstream).headers["x-initiator"]).toBe("user");

    const input: OpenAI.Responses.ResponseInput = [
      { role: "user", content: "weather in Paris?" },
      { type: "function_call", call_id: call.call_id, name: call.name, arguments: call.arguments },
      { type: "function_call_output", call_id: call.call_id, output: "sunny" },
    ];
    const second = await owner.responses.create({ model, input, tools: [weatherTool] });
    expect(second.output_text).toBe("the tool said: sunny");
    // A tool result continues the agent's own work.
    expect(lastUpstream(upstream).headers["x-initiator"]).toBe("agent");

    const streamed = owner.responses.stream({ model, input: "weather in Paris?", tools: [weatherTool] });
    const argumentDeltas: string[] = [];
    streamed.on("response.function_call_arguments.delta", (event) => argumentDeltas.push(event.delta));
    const final = await streamed.finalResponse();
    expect(argumentDeltas.join("")).toBe(FAKE_CALL_ARGUMENTS);
    expect(final.output.find((item) => item.type === "function_call")).toMatchObject({ name: "get_weather", arguments: FAKE_CALL_ARGUMENTS });
  });

  test("json_schema output, parsed by the SDK", async () => {
    const response = await owner.responses.create({
      model,
      input: "answer in JSON",
      text: { format: { type: "json_schema", name: "answer", schema: answerSchema, strict: true } },
    });
    expect(JSON.parse(response.output_text)).toEqual(sampleFor(answerSchema));
    if (upstream === "/chat/completions") {
      expect(upstreamBodies(upstream).at(-1).response_format).toEqual({
        type: "json_schema",
        json_schema: { name: "answer", schema: answerSchema, strict: true },
      });
    }
  });

  test("a three-turn conversation carried only by previous_response_id; instructions are not inherited", async () => {
    const one = await owner.responses.create({ model, input: "one", instructions: "be brief" });
    const two = await owner.responses.create({ model, input: "two", previous_response_id: one.id });
    const threeStream = owner.responses.stream({ model, input: "three", previous_response_id: two.id });
    const three = await threeStream.finalResponse();
    expect(three.output_text).toBe(streamed);
    // The stored response names its link (a passed-through answer's own echo is Copilot's).
    expect((await owner.responses.retrieve(three.id)).previous_response_id).toBe(two.id);
    if (upstream === "/chat/completions") expect(three.previous_response_id).toBe(two.id);

    const sent = upstreamBodies(upstream).at(-1);
    expect(sent.previous_response_id).toBeUndefined();
    if (upstream === "/responses") {
      const roles = sent.input.map((item: { role?: string; type?: string }) => item.role ?? item.type);
      expect(roles).toEqual(["user", "assistant", "user", "assistant", "user"]);
      expect(sent.input.map((item: { content: unknown }) => item.content).filter((c: unknown) => typeof c === "string")).toEqual(["one", "two", "three"]);
      expect(sent.instructions).toBeUndefined();
    } else {
      expect(sent.messages).toEqual([
        { role: "user", content: "one" },
        { role: "assistant", content: "hello from fake copilot" },
        { role: "user", content: "two" },
        { role: "assistant", content: "hello from fake copilot" },
        { role: "user", content: "three" },
      ]);
    }
  });

  test("another key's response id is refused: 404 previous_response_not_found, and GET/DELETE see nothing", async () => {
    const mine = await owner.responses.create({ model, input: "secret plans" });
    const refused = await other.responses.create({ model, input: "continue", previous_response_id: mine.id }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.NotFoundError);
    expect((refused as InstanceType<typeof OpenAI.NotFoundError>).code).toBe("previous_response_not_found");
    expect((refused as Error).message).not.toContain("secret plans");
    expect(await other.responses.retrieve(mine.id).catch((error: unknown) => error)).toBeInstanceOf(OpenAI.NotFoundError);
    expect(await other.responses.inputItems.list(mine.id).catch((error: unknown) => error)).toBeInstanceOf(OpenAI.NotFoundError);
    expect(await other.responses.delete(mine.id).catch((error: unknown) => error)).toBeInstanceOf(OpenAI.NotFoundError);
    // Still the owner's.
    expect((await owner.responses.retrieve(mine.id)).id).toBe(mine.id);
  });

  test("retrieve, input_items (order, after, limit) and delete", async () => {
    const first = await owner.responses.create({ model, input: "first" });
    const input: OpenAI.Responses.ResponseInput = [
      { role: "user", content: "a" },
      { role: "user", content: [{ type: "input_text", text: "b" }] },
      { role: "user", content: "c" },
    ];
    const second = await owner.responses.create({ model, input, previous_response_id: first.id });

    const retrieved = await owner.responses.retrieve(second.id);
    expect(retrieved.id).toBe(second.id);
    expect(retrieved.output_text).toBe("hello from fake copilot");
    expect(retrieved.previous_response_id).toBe(first.id);

    const texts = (page: { data: unknown[] }) => page.data.map((item) => (item as { content: { text: string }[] }).content[0]!.text);
    // Only this response's own input, newest first by default.
    const all = await owner.responses.inputItems.list(second.id);
    expect(texts(all)).toEqual(["c", "b", "a"]);
    expect(all.data.every((item) => item.type === "message" && typeof item.id === "string")).toBe(true);
    const asc = await owner.responses.inputItems.list(second.id, { order: "asc", limit: 2 });
    expect(texts(asc)).toEqual(["a", "b"]);
    expect(asc.has_more).toBe(true);
    const rest = await owner.responses.inputItems.list(second.id, { order: "asc", after: asc.data.at(-1)!.id, limit: 2 });
    expect(texts(rest)).toEqual(["c"]);
    expect(rest.has_more).toBe(false);

    expect(await owner.responses.delete(second.id)).toMatchObject({ id: second.id, object: "response", deleted: true });
    expect(await owner.responses.retrieve(second.id).catch((error: unknown) => error)).toBeInstanceOf(OpenAI.NotFoundError);
    const continued = await owner.responses.create({ model, input: "more", previous_response_id: second.id }).catch((error: unknown) => error);
    expect((continued as InstanceType<typeof OpenAI.NotFoundError>).code).toBe("previous_response_not_found");
  });

  test("a conversation whose middle was deleted cannot be continued: 404 naming the missing link", async () => {
    const a = await owner.responses.create({ model, input: "a" });
    const b = await owner.responses.create({ model, input: "b", previous_response_id: a.id });
    const c = await owner.responses.create({ model, input: "c", previous_response_id: b.id });
    await owner.responses.delete(b.id);
    const refused = await owner.responses.create({ model, input: "d", previous_response_id: c.id }).catch((error: unknown) => error);
    expect((refused as InstanceType<typeof OpenAI.NotFoundError>).code).toBe("previous_response_not_found");
    expect((refused as Error).message).toContain(`refers to "${b.id}", which is gone`);
  });

  test("store: false keeps nothing: retrieve and previous_response_id answer 404", async () => {
    const response = await owner.responses.create({ model, input: "ephemeral", store: false });
    expect(response.output_text).toBe("hello from fake copilot");
    expect(await owner.responses.retrieve(response.id).catch((error: unknown) => error)).toBeInstanceOf(OpenAI.NotFoundError);
    const continued = await owner.responses.create({ model, input: "more", previous_response_id: response.id }).catch((error: unknown) => error);
    expect((continued as InstanceType<typeof OpenAI.NotFoundError>).code).toBe("previous_response_not_found");
  });
});

describe("pass-through to Copilot's /responses", () => {
  const codexRequest = {
    model: "gpt-5.1-codex",
    instructions: "You are Codex, a coding agent.",
    input: [
      { type: "message", role: "developer", content: [{ type: "input_text", text: "<environment_context>cwd=/repo</environment_context>" }] },
      { type: "message", role: "user", content: [{ type: "input_text", text: "list the files" }] },
    ],
    tools: [
      {
        type: "function",
        name: "shell",
        description: "Runs a shell command",
        strict: false,
        parameters: { type: "object", properties: { command: { type: "array", items: { type: "string" } } } },
      },
    ],
    tool_choice: "auto",
    parallel_tool_calls: false,
    reasoning: { effort: "medium", summary: "auto" },
    store: false,
    stream: true,
    include: ["reasoning.encrypted_content"],
    prompt_cache_key: "0199c0de-5eed-7000-8000-000000000000",
  };

  test("a Codex-shaped request goes upstream unchanged, and its stream comes back byte for byte", async () => {
    const text = `${JSON.stringify(codexRequest, null, 1)}\n`;
    const response = await fetch(`${server.url}/v1/responses`, {
      method: "POST",
      headers: { authorization: `Bearer ${ownerSecret}`, "content-type": "application/json" },
      body: text,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toStartWith("text/event-stream");
    const received = await response.text();
    expect(lastUpstream("/responses").body).toBe(text);
    expect(received).toBe(fake.responsesAnswered.at(-1)!);
    expect(received).toContain('"encrypted_content":"gAAAA-fake-encrypted"');
    expect(lastUpstream("/responses").headers["x-initiator"]).toBe("user");
  });

  test("the routes answer without /v1 too", async () => {
    const root = new OpenAI({ baseURL: server.url, apiKey: ownerSecret, maxRetries: 0 });
    const response = await root.responses.create({ model: "gpt-5.1-codex", input: "hi" });
    expect(response.output_text).toBe("hello from fake copilot");
    expect((await root.responses.retrieve(response.id)).id).toBe(response.id);
    expect((await root.responses.inputItems.list(response.id)).data).toHaveLength(1);
  });

  test("an input_image marks the request as vision", async () => {
    await owner.responses.create({
      model: "gpt-5.1-codex",
      input: [{ role: "user", content: [{ type: "input_image", image_url: "data:image/png;base64,iVBORw0KGgo=", detail: "auto" }] }],
    });
    expect(lastUpstream("/responses").headers["copilot-vision-request"]).toBe("true");
  });

  test("a model whose catalog entry does not list /responses is translated, never sent there", async () => {
    // claude-sonnet-4.5 lists /chat/completions and /v1/messages.
    const response = await owner.responses.create({ model: "claude-sonnet-4.5", input: "hi" });
    expect(response.output_text).toBe("hello from fake copilot");
    expect(upstreamBodies("/chat/completions").at(-1).model).toBe("claude-sonnet-4.5");
  });
});

describe("the Vercel AI SDK's default provider", () => {
  test('openai("gpt-4o") calls /responses, translated to chat for a model without it', async () => {
    const openai = createOpenAI({ baseURL: `${server.url}/v1`, apiKey: ownerSecret });
    const before = fake.requests.length;
    const { text, usage } = await generateText({ model: openai("gpt-4o"), prompt: "hi", maxRetries: 0 });
    expect(text).toBe("hello from fake copilot");
    expect(usage.inputTokens).toBe(11);
    expect(fake.requests.slice(before).map((r) => r.path)).toContain("/chat/completions");

    const streamed = streamText({ model: openai("gpt-4o"), prompt: "hi", maxRetries: 0 });
    expect(await streamed.text).toBe("hello"); // the fake streams "hel" + "lo"
    expect((await streamed.usage).inputTokens).toBe(11);
  });
});

describe("events and the store", () => {
  interface Row {
    route: string;
    model: string;
    prompt_tokens: number | null;
    completion_tokens: number | null;
    cache_read_tokens: number | null;
    reasoning_tokens: number | null;
    premium_multiplier: number | null;
    usage_unknown: number;
  }
  const lastEvent = async () => {
    const db = new Database(dbFileOf(home), { readonly: true });
    try {
      await Bun.sleep(50);
      return db.query<Row, []>("SELECT * FROM events WHERE route = '/responses' ORDER BY id DESC LIMIT 1").get()!;
    } finally {
      db.close();
    }
  };

  test("usage (input, output, cached and reasoning tokens) is recorded on both paths, streamed or not", async () => {
    await owner.responses.create({ model: "gpt-5.1-codex", input: "hi" });
    expect(await lastEvent()).toMatchObject({
      model: "gpt-5.1-codex",
      prompt_tokens: RESPONSES_USAGE.input_tokens,
      completion_tokens: RESPONSES_USAGE.output_tokens,
      cache_read_tokens: RESPONSES_USAGE.input_tokens_details.cached_tokens,
      reasoning_tokens: RESPONSES_USAGE.output_tokens_details.reasoning_tokens,
      premium_multiplier: 1,
      usage_unknown: 0,
    });
    await owner.responses.stream({ model: "gpt-5.1-codex", input: "hi" }).finalResponse();
    expect(await lastEvent()).toMatchObject({
      prompt_tokens: RESPONSES_USAGE.input_tokens,
      reasoning_tokens: RESPONSES_USAGE.output_tokens_details.reasoning_tokens,
    });

    const expected = {
      model: "gpt-4.1",
      prompt_tokens: DETAILED_USAGE.prompt_tokens,
      completion_tokens: DETAILED_USAGE.completion_tokens,
      cache_read_tokens: DETAILED_USAGE.prompt_tokens_details.cached_tokens,
      reasoning_tokens: DETAILED_USAGE.completion_tokens_details.reasoning_tokens,
      usage_unknown: 0,
    };
    await owner.responses.create({ model: "gpt-4.1", input: "weather?", tools: [weatherTool] });
    expect(await lastEvent()).toMatchObject(expected);
    await owner.responses.stream({ model: "gpt-4.1", input: "weather?", tools: [weatherTool] }).finalResponse();
    expect(await lastEvent()).toMatchObject(expected);
  });

  test("db status shows the space stored responses take", async () => {
    const result = await cli(["db", "status", "--json"], env);
    expect(result.code).toBe(0);
    const status = JSON.parse(result.stdout) as { storedResponses: { count: number; bytes: number }; space: { table: string; bytes: number }[] };
    expect(status.storedResponses.count).toBeGreaterThan(10);
    expect(status.storedResponses.bytes).toBeGreaterThan(0);
    expect(status.space.map((s) => s.table)).toContain("responses");
    const text = await cli(["db", "status"], env);
    expect(text.stdout).toMatch(/stored responses {2}\d+, \d+\.\d\d MiB on disk/);
  });

  test("a completed response is on disk after a clean shutdown, and found after a restart", async () => {
    const kept = await owner.responses.create({ model: "gpt-4.1", input: "remember me" });
    expect(await server.stop()).toBe(0);
    server = await startServer([], env);
    owner = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: ownerSecret, maxRetries: 0 });
    expect((await owner.responses.retrieve(kept.id)).output_text).toBe("hello from fake copilot");
    const next = await owner.responses.create({ model: "gpt-4.1", input: "and now?", previous_response_id: kept.id });
    expect(upstreamBodies("/chat/completions").at(-1).messages[0]).toEqual({ role: "user", content: "remember me" });
    expect(next.previous_response_id).toBe(kept.id);
  });
});

describe("--no-store-responses", () => {
  test("nothing is stored, and previous_response_id is a 400 saying why", async () => {
    const noStoreHome = tempDir();
    const noStoreEnv = isolatedEnv(noStoreHome, { ...fake.env(), GH_TOKEN: fake.githubToken });
    const secret = (await createKey(noStoreEnv)).secret;
    const noStore = await startServer(["--no-store-responses"], noStoreEnv);
    try {
      const client = new OpenAI({ baseURL: `${noStore.url}/v1`, apiKey: secret, maxRetries: 0 });
      const response = await client.responses.create({ model: "gpt-4.1", input: "hi" });
      expect(await client.responses.retrieve(response.id).catch((error: unknown) => error)).toBeInstanceOf(OpenAI.NotFoundError);
      const refused = await client.responses.create({ model: "gpt-4.1", input: "more", previous_response_id: response.id }).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
      expect((refused as Error).message).toContain("--no-store-responses");
      expect((refused as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("previous_response_id");
    } finally {
      await noStore.stop();
    }
  });
});

describe("--responses-retention-days", () => {
  test("the retention job deletes stored responses past the window once the server runs; a bad value is refused naming the flag", async () => {
    const retentionHome = tempDir();
    const retentionEnv = isolatedEnv(retentionHome, { ...fake.env(), GH_TOKEN: fake.githubToken });
    const store = openStore({ path: dbFileOf(retentionHome) });
    const stored = new StoredResponses(store);
    const old = { keyId: "key_x", model: "gpt-4.1", status: "completed" as const, previousResponseId: null, input: [], response: {} };
    stored.save({ ...old, id: "resp_old", createdAt: Date.now() - 3 * 86_400_000 });
    stored.save({ ...old, id: "resp_new", createdAt: Date.now() });
    stored.stop();
    store.close();

    const bad = await cli(["start", "--responses-retention-days", "-1"], retentionEnv);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("--responses-retention-days -1 is not a whole number of days");

    const running = await startServer(["--responses-retention-days", "2"], retentionEnv);
    try {
      const deadline = Date.now() + 10_000;
      while (!running.log().includes("deleted 1 stored responses") && Date.now() < deadline) await Bun.sleep(50);
      expect(running.log()).toContain("retention: deleted 1 stored responses older than 2 days");
    } finally {
      await running.stop();
    }
    const db = new Database(dbFileOf(retentionHome), { readonly: true });
    expect(db.query("SELECT id FROM responses").all()).toEqual([{ id: "resp_new" }]);
    db.close();
  });
});
