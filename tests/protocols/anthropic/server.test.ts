import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Anthropic, { type APIError } from "@anthropic-ai/sdk";
import { SCRIPTED_HELLO, SCRIPTED_THINKING, SCRIPTED_TOOL_ID, SCRIPTED_USAGE } from "../../fake-answers";
import { type FakeUpstream, startFakeUpstream } from "../../fake-upstream";
import { CLAUDE_CODE_REQUEST } from "../../fixtures/copilot-chat-chunks";
import { COPILOT_MODELS } from "../../fixtures/copilot-models";
import { type CreatedKey, cleanUpAfterFile, createKey, dbFileOf, isolatedEnv, type RunningServer, startServer, tempDir } from "../../helpers";

cleanUpAfterFile();

/**
 * The official Anthropic SDK against a real copilot-api (child process) and the fake Copilot,
 * on both paths: a model Copilot takes on its native /v1/messages (claude-sonnet-4.5, asked for
 * by Claude Code's dated name) and one it takes on /chat/completions only (claude-sonnet-4),
 * which the gateway translates both ways.
 */

interface EventRow {
  id: number;
  key_id: string;
  route: string;
  model: string | null;
  upstream_model: string | null;
  stream: number;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  cache_read_tokens: number | null;
  cache_creation_tokens: number | null;
  reasoning_tokens: number | null;
  initiator: string | null;
  premium_multiplier: number | null;
  premium_requests: number;
  usage_unknown: number;
  status: number;
  error: string | null;
}

let fake: FakeUpstream;
let server: RunningServer;
let home: string;
let key: CreatedKey;
let gptOnly: CreatedKey;
let throttled: CreatedKey;
let lastEventId = 0;

// The SDK warns on every request naming a model it calls deprecated (Claude Code's dated names are what we test).
const warn = console.warn;
beforeAll(async () => {
  console.warn = (...args: unknown[]) => {
    if (!/is deprecated/.test(String(args[0]))) warn(...args);
  };
  fake = startFakeUpstream();
  home = tempDir();
  const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
  key = await createKey(env, "--label", "claude code");
  gptOnly = await createKey(env, "--models", "gpt-*");
  throttled = await createKey(env, "--rate-limit", "1");
  server = await startServer([], env);
});
afterAll(async () => {
  console.warn = warn;
  await server.stop();
  fake.stop();
});

const client = (secret = key.secret) => new Anthropic({ baseURL: server.url, apiKey: secret, maxRetries: 0 });

/** The event the last request left (answers are sent only once their event is committed). */
async function nextEvent(): Promise<EventRow> {
  const db = new Database(dbFileOf(home), { readonly: true });
  try {
    const deadline = Date.now() + 5000;
    for (;;) {
      const row = db.query<EventRow, [number]>("SELECT * FROM events WHERE id > ? ORDER BY id DESC LIMIT 1").get(lastEventId);
      if (row || Date.now() > deadline) {
        if (!row) throw new Error("no event was recorded");
        lastEventId = row.id;
        return row;
      }
      await Bun.sleep(20);
    }
  } finally {
    db.close();
  }
}

const upstreamCalls = () => fake.requests.filter((r) => r.path === "/v1/messages" || r.path === "/chat/completions");
const lastUpstream = () => upstreamCalls().at(-1)!;

const weatherTool = {
  name: "get_weather",
  description: "The weather in a city",
  input_schema: { type: "object" as const, properties: { city: { type: "string" } }, required: ["city"] },
};

const PATHS = [
  { path: "native", requested: "claude-sonnet-4-5-20250929", id: "claude-sonnet-4.5", upstreamPath: "/v1/messages" },
  { path: "translated", requested: "claude-sonnet-4-20250514", id: "claude-sonnet-4", upstreamPath: "/chat/completions" },
] as const;

describe.each(PATHS)("the $path path ($requested → $id)", ({ path, requested, id, upstreamPath }) => {
  const native = path === "native";
  // Native: Copilot's own usage (cache writes included). Translated: chat usage mapped back (cached prompt tokens become cache reads).
  const promptTokens = SCRIPTED_USAGE.input + SCRIPTED_USAGE.cacheRead + (native ? SCRIPTED_USAGE.cacheCreation : 0);

  test("messages.create: the answer, Copilot sent the catalog id, the event says who asked what and what it cost", async () => {
    const message = await client().messages.create({ model: requested, max_tokens: 256, messages: [{ role: "user", content: "Hi" }] });
    expect(message.content).toEqual([{ type: "text", text: SCRIPTED_HELLO } as Anthropic.TextBlock]);
    expect(message.stop_reason).toBe("end_turn");
    expect(message.usage).toMatchObject({
      input_tokens: SCRIPTED_USAGE.input,
      output_tokens: SCRIPTED_USAGE.output,
      cache_read_input_tokens: SCRIPTED_USAGE.cacheRead,
      cache_creation_input_tokens: native ? SCRIPTED_USAGE.cacheCreation : 0,
    });

    const sent = lastUpstream();
    expect(sent.path).toBe(upstreamPath);
    const body = JSON.parse(sent.body) as { model: string; messages: unknown[] };
    expect(body.model).toBe(id);
    expect(body.messages).toEqual([{ role: "user", content: "Hi" }]);
    expect(sent.headers["x-initiator"]).toBe("user");
    // The SDK sends its own (later) version; Copilot gets the one its own clients send.
    if (native) expect(sent.headers["anthropic-version"]).toBe("2023-06-01");

    expect(await nextEvent()).toMatchObject({
      key_id: key.id,
      route: "/messages",
      model: requested,
      upstream_model: id,
      stream: 0,
      prompt_tokens: promptTokens,
      completion_tokens: SCRIPTED_USAGE.output,
      cache_read_tokens: SCRIPTED_USAGE.cacheRead,
      cache_creation_tokens: native ? SCRIPTED_USAGE.cacheCreation : null,
      initiator: "user",
      premium_multiplier: 1,
      premium_requests: 1,
      usage_unknown: 0,
      status: 200,
      error: null,
    });
  });

  test("messages.stream: finalMessage reassembles thinking, text and tool_use; the event reads usage from the stream's ends", async () => {
    const stream = client().messages.stream(
      {
        model: requested,
        max_tokens: 2048,
        thinking: { type: "enabled", budget_tokens: 1024 },
        tools: [weatherTool],
        messages: [{ role: "user", content: "Weather in Paris?" }],
      },
      { headers: { "anthropic-beta": "interleaved-thinking-2025-05-14, context-1m-2025-08-07" } },
    );
    const texts: string[] = [];
    stream.on("text", (text) => texts.push(text));
    const message = await stream.finalMessage();
    expect(message.content as unknown[]).toEqual([
      { type: "thinking", thinking: SCRIPTED_THINKING.text, signature: SCRIPTED_THINKING.signature },
      { type: "text", text: "Let me look that up." },
      { type: "tool_use", id: SCRIPTED_TOOL_ID, name: "get_weather", input: { city: "Paris" } },
    ] as Anthropic.ContentBlock[]);
    expect(texts.join("")).toBe("Let me look that up.");
    expect(message.stop_reason).toBe("tool_use");
    expect(message.usage.output_tokens).toBe(SCRIPTED_USAGE.output);

    const sent = lastUpstream();
    if (native) {
      // Copilot refuses betas it has not implemented: only the accepted ones go through.
      expect(sent.headers["anthropic-beta"]).toBe("interleaved-thinking-2025-05-14");
      expect(JSON.parse(sent.body)).toMatchObject({ stream: true, thinking: { type: "enabled", budget_tokens: 1024 } });
    } else {
      expect(JSON.parse(sent.body)).toMatchObject({ stream: true, thinking_budget: 1024, stream_options: { include_usage: true } });
    }
    expect(await nextEvent()).toMatchObject({
      model: requested,
      upstream_model: id,
      stream: 1,
      prompt_tokens: promptTokens,
      completion_tokens: SCRIPTED_USAGE.output,
      cache_read_tokens: SCRIPTED_USAGE.cacheRead,
      reasoning_tokens: native ? null : SCRIPTED_USAGE.reasoning,
      initiator: "user",
      usage_unknown: 0,
      status: 200,
    });
  });

  test("a two-step tool loop: the tool result goes back, the answer uses it, and that turn is the agent's (no premium request)", async () => {
    const messages: Anthropic.MessageParam[] = [{ role: "user", content: "Weather in Paris?" }];
    const first = await client().messages.create({ model: requested, max_tokens: 512, tools: [weatherTool], messages });
    expect(first.stop_reason).toBe("tool_use");
    const call = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === "tool_use")!;
    expect(call).toMatchObject({ name: "get_weather", input: { city: "Paris" } });
    await nextEvent();

    messages.push({ role: "assistant", content: first.content });
    messages.push({ role: "user", content: [{ type: "tool_result", tool_use_id: call.id, content: "18°C and sunny" }] });
    const second = await client().messages.create({ model: requested, max_tokens: 512, tools: [weatherTool], messages });
    expect(second.content).toEqual([{ type: "text", text: "The tool said: 18°C and sunny" } as Anthropic.TextBlock]);
    expect(second.stop_reason).toBe("end_turn");

    const sent = JSON.parse(lastUpstream().body) as { messages: { role: string; tool_call_id?: string; content?: unknown }[] };
    if (!native) expect(sent.messages.at(-1)).toEqual({ role: "tool", tool_call_id: call.id, content: "18°C and sunny" });
    expect(lastUpstream().headers["x-initiator"]).toBe("agent");
    expect(await nextEvent()).toMatchObject({ initiator: "agent", premium_multiplier: 1, premium_requests: 0, status: 200 });
  });

  test("countTokens is answered locally: no upstream call, an event with no usage", async () => {
    const before = upstreamCalls().length;
    const { input_tokens } = await client().messages.countTokens({
      model: requested,
      system: "You are terse.",
      tools: [weatherTool],
      messages: [{ role: "user", content: "Weather in Paris?" }],
    });
    expect(input_tokens).toBeGreaterThan(346); // the tool-use preamble alone is 346
    expect(upstreamCalls().length).toBe(before);
    expect(await nextEvent()).toMatchObject({
      route: "/messages/count_tokens",
      model: requested,
      upstream_model: null,
      prompt_tokens: null,
      initiator: null,
      usage_unknown: 0,
      status: 200,
    });
  });

  test("typed errors: 401, 403, 404, 429 and 400, the gateway's own and Copilot's, with Copilot's message kept", async () => {
    const params = { model: requested, max_tokens: 64, messages: [{ role: "user" as const, content: "Hi" }] };
    const failure = async (promise: Promise<unknown>) => {
      try {
        await promise;
      } catch (error) {
        return error as APIError;
      }
      throw new Error("expected the request to fail");
    };

    const unauthorized = await failure(client("cpk_not_a_real_key").messages.create(params));
    expect(unauthorized).toBeInstanceOf(Anthropic.AuthenticationError);
    expect(unauthorized.type).toBe("authentication_error");

    const forbidden = await failure(client(gptOnly.secret).messages.create(params));
    expect(forbidden).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect(forbidden.apiMessage).toContain("not allowed");

    const missing = await failure(client().messages.create({ ...params, model: "claude-sonnet-9-20300101" }));
    expect(missing).toBeInstanceOf(Anthropic.NotFoundError);
    expect(missing.apiMessage).toContain("claude-haiku-4.5, claude-opus-4.1, claude-sonnet-4, claude-sonnet-4.5");

    const limited = await failure(client().messages.create({ ...params, messages: [{ role: "user", content: "__error_429__" }] }));
    expect(limited).toBeInstanceOf(Anthropic.RateLimitError);
    expect(limited.apiMessage).toBe("fake: you have exceeded this model's rate limit");
    expect(limited.headers?.get("retry-after")).toBe("7");
    expect(await nextEvent()).toMatchObject({ status: 429, error: "upstream_rate_limited", model: requested });

    const invalid = await failure(client().messages.create({ ...params, temperature: 3 } as Anthropic.MessageCreateParamsNonStreaming));
    expect(invalid).toBeInstanceOf(Anthropic.BadRequestError);
    expect(invalid.apiMessage).toBe("temperature: is above the limit of 1");

    const tooLong = await failure(client().messages.create({ ...params, messages: [{ role: "user", content: "__error_400__" }] }));
    expect(tooLong).toBeInstanceOf(Anthropic.BadRequestError);
    expect(tooLong.apiMessage).toBe("fake: prompt is too long");
    expect(tooLong.type).toBe("invalid_request_error");
  });
});

describe("Anthropic clients, whatever the path", () => {
  test("a key's own --rate-limit answers 429 rate_limit_error with retry-after", async () => {
    const params = { model: "claude-haiku-4-5", max_tokens: 64, messages: [{ role: "user" as const, content: "Hi" }] };
    await client(throttled.secret).messages.create(params);
    const error = (await client(throttled.secret)
      .messages.create(params)
      .then(
        () => undefined,
        (e: unknown) => e,
      )) as APIError;
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expect(Number(error.headers?.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });

  test("a key limited to the catalog id accepts Claude Code's dated name for it", async () => {
    const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
    const only = await createKey(env, "--models", "claude-haiku-4.5");
    const message = await client(only.secret).messages.create({
      model: "claude-haiku-4-5-20251001",
      max_tokens: 16,
      messages: [{ role: "user", content: "Hi" }],
    });
    expect(message.content[0]).toMatchObject({ type: "text", text: SCRIPTED_HELLO });
    const row = await nextEvent();
    expect(row).toMatchObject({ key_id: only.id, model: "claude-haiku-4-5-20251001", upstream_model: "claude-haiku-4.5", premium_multiplier: 0.33 });
  });

  test("Claude Code's own request (system blocks with cache_control, tools, tool results), streamed, on the translated path", async () => {
    const response = await fetch(`${server.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": key.secret, "anthropic-version": "2023-06-01", "content-type": "application/json" },
      body: JSON.stringify(CLAUDE_CODE_REQUEST),
    });
    expect(response.status).toBe(200);
    const events = [...(await response.text()).matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    expect(events[0]).toBe("message_start");
    expect(events.slice(-2)).toEqual(["message_delta", "message_stop"]);
    expect(events).toContain("content_block_delta");
    const sent = JSON.parse(lastUpstream().body) as { model: string; messages: { role: string }[] };
    expect(sent.model).toBe("claude-sonnet-4");
    expect(sent.messages[0]!.role).toBe("system");
    await nextEvent();
  });

  test("the Anthropic error shape covers the gateway's own 400s on these routes", async () => {
    const response = await fetch(`${server.url}/messages`, {
      method: "POST",
      headers: { "x-api-key": key.secret, "content-type": "application/json" },
      body: "{",
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { type: string; error: { type: string } }).error.type).toBe("invalid_request_error");
    await nextEvent();
  });
});

describe("GET /v1/models from the catalog", () => {
  test("OpenAI's shape by default, Copilot's fields kept", async () => {
    const response = await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${key.secret}` } });
    const list = (await response.json()) as { object: string; data: { id: string; object: string; created: number; owned_by: string; billing?: unknown }[] };
    expect(list.object).toBe("list");
    expect(list.data.map((m) => m.id)).toEqual(COPILOT_MODELS.map((m) => m.id));
    expect(list.data[0]).toMatchObject({ id: "gpt-4.1", object: "model", created: 0, owned_by: "Azure OpenAI", billing: { is_premium: false } });
  });

  test("Anthropic's shape for Anthropic clients (chat models only), through the SDK", async () => {
    const page = await client().models.list();
    const ids = page.data.map((m) => m.id);
    expect(ids).toEqual(COPILOT_MODELS.filter((m) => m.capabilities?.type === "chat").map((m) => m.id));
    expect(page.data.find((m) => m.id === "claude-opus-4.1")).toEqual({
      type: "model",
      id: "claude-opus-4.1",
      display_name: "Claude Opus 4.1",
      created_at: "1970-01-01T00:00:00Z",
    } as Anthropic.ModelInfo);
    const raw = (await (await fetch(`${server.url}/v1/models`, { headers: { "x-api-key": key.secret, "anthropic-version": "2023-06-01" } })).json()) as Record<
      string,
      unknown
    >;
    expect(raw).toMatchObject({ has_more: false, first_id: "gpt-4.1", last_id: "gemini-2.5-pro" });
  });

  test("one model, by its id or Claude Code's dated name; 404 in the client's shape otherwise", async () => {
    expect(await client().models.retrieve("claude-sonnet-4-5-20250929")).toMatchObject({ type: "model", id: "claude-sonnet-4.5" });
    const error = await client()
      .models.retrieve("claude-unknown-1")
      .catch((e: unknown) => e as APIError);
    expect(error).toBeInstanceOf(Anthropic.NotFoundError);
    const openai = await fetch(`${server.url}/models/gpt-5-mini`, { headers: { authorization: `Bearer ${key.secret}` } });
    expect(await openai.json()).toMatchObject({ id: "gpt-5-mini", object: "model", owned_by: "Azure OpenAI" });
    const gone = await fetch(`${server.url}/v1/models/nope`, { headers: { authorization: `Bearer ${key.secret}` } });
    expect(gone.status).toBe(404);
    expect(((await gone.json()) as { error: { code: string } }).error.code).toBe("model_not_found");
  });

  test("a key's allowed models filter the list and the lookup, in both shapes", async () => {
    const openai = (await (await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${gptOnly.secret}` } })).json()) as {
      data: { id: string }[];
    };
    expect(openai.data.map((m) => m.id)).toEqual(["gpt-4.1", "gpt-5-mini", "gpt-5.1-codex"]);
    const anthropic = await client(gptOnly.secret).models.list();
    expect(anthropic.data.map((m) => m.id)).toEqual(["gpt-4.1", "gpt-5-mini", "gpt-5.1-codex"]);
    const hidden = await client(gptOnly.secret)
      .models.retrieve("claude-sonnet-4.5")
      .catch((e: unknown) => e as APIError);
    expect(hidden).toBeInstanceOf(Anthropic.NotFoundError);
  });
});

describe("the OpenAI chat route, with the catalog", () => {
  test("records cached prompt tokens, reasoning tokens and the catalog's premium multiplier", async () => {
    const response = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key.secret}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "claude-opus-4.1", thinking_budget: 2048, messages: [{ role: "user", content: "Hi" }], stream: true }),
    });
    expect(response.status).toBe(200);
    await response.text();
    expect(await nextEvent()).toMatchObject({
      route: "/chat/completions",
      model: "claude-opus-4.1",
      upstream_model: "claude-opus-4.1",
      prompt_tokens: SCRIPTED_USAGE.input + SCRIPTED_USAGE.cacheRead,
      cache_read_tokens: SCRIPTED_USAGE.cacheRead,
      reasoning_tokens: SCRIPTED_USAGE.reasoning,
      initiator: "user",
      premium_multiplier: 10,
      premium_requests: 10,
    });
  });
});
