/**
 * What the real coding agents send (captured from Codex CLI 0.171 and Claude Code 2.1 by
 * `bun run e2e:agents --capture`, long strings trimmed: tests/fixtures/agents/), replayed through
 * the gateway on both paths: passed through to Copilot's own endpoint, and translated to chat.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { FAKE_SHELL_OUTPUT } from "../fake-answers";
import { FAKE_SEARCH_SOURCES, type FakeUpstream, startFakeUpstream } from "../fake-upstream";
import CLAUDE_TURN1 from "../fixtures/agents/claude-code-turn1.json";
import CLAUDE_TURN2 from "../fixtures/agents/claude-code-turn2.json";
import CODEX_TURN1 from "../fixtures/agents/codex-turn1.json";
import CODEX_TURN2 from "../fixtures/agents/codex-turn2.json";
import { cleanUpAfterFile, createKey, isolatedEnv, type RunningServer, startServer, tempDir } from "../helpers";

cleanUpAfterFile();

let fake: FakeUpstream;
let server: RunningServer;
let secret: string;

beforeAll(async () => {
  fake = startFakeUpstream();
  const env = isolatedEnv(tempDir(), { ...fake.env(), GH_TOKEN: fake.githubToken });
  secret = (await createKey(env)).secret;
  server = await startServer([], env);
});
afterAll(async () => {
  await server.stop();
  fake.stop();
});

type Json = Record<string, unknown>;

/** A captured request sent again as the agent sent it (its own headers, our key), with `body` changed as given. */
async function replay(fixture: { path: string; headers: Record<string, string>; body: Json }, body: Json = fixture.body) {
  const before = fake.requests.length;
  const headers = { ...fixture.headers, authorization: `Bearer ${secret}` };
  delete (headers as Record<string, string>)["accept-encoding"];
  const response = await fetch(`${server.url}${fixture.path}`, { method: "POST", headers, body: JSON.stringify(body) });
  const text = await response.text();
  const upstream = fake.requests.slice(before).filter((r) => r.method === "POST");
  return { response, text, upstream };
}

const posted = (upstream: { path: string; body: string }[], path: string) => upstream.filter((r) => r.path === path).map((r) => JSON.parse(r.body) as Json);

describe("Codex CLI 0.171 (default config) on /v1/responses", () => {
  test("pass-through: turn 1 reaches Copilot's /responses as sent, web_search and namespace tools included", async () => {
    const { response, text, upstream } = await replay(CODEX_TURN1);
    expect(response.status).toBe(200);
    expect(text).toContain("response.completed");
    const [sent] = posted(upstream, "/responses");
    expect(sent).toEqual(CODEX_TURN1.body);
    expect((sent!.tools as Json[]).map((t) => t.type)).toEqual(expect.arrayContaining(["function", "namespace", "web_search"]));
  });

  test("pass-through: turn 2 replays its reasoning item with content null, untouched", async () => {
    const { response, text, upstream } = await replay(CODEX_TURN2);
    expect(response.status).toBe(200);
    expect(text).toContain("the tool said:");
    const [sent] = posted(upstream, "/responses");
    expect(sent).toEqual(CODEX_TURN2.body);
    expect((sent!.input as Json[]).find((item) => item.type === "reasoning")).toMatchObject({ content: null });
  });

  for (const [turn, fixture] of [
    ["turn 1", CODEX_TURN1],
    ["turn 2", CODEX_TURN2],
  ] as const) {
    test(`translated (gpt-4.1): ${turn} is answered; namespace functions go flat, web search is offered as the gateway's function`, async () => {
      const { response, text, upstream } = await replay(fixture, { ...fixture.body, model: "gpt-4.1" });
      expect(response.status).toBe(200);
      expect(text).toContain("response.completed");
      expect(response.headers.get("x-copilot-api-dropped-tools")).toBeNull();
      const [chat] = posted(upstream, "/chat/completions");
      const names = (chat!.tools as { type: string; function: { name: string } }[]).map((t) => t.function.name);
      expect(names[0]).toBe("web_search");
      expect(names).toContain("multi_agent_v1__spawn_agent");
      expect(names).toContain("exec_command");
      expect((chat!.tools as { type: string }[]).every((t) => t.type === "function")).toBe(true);
    });
  }
});

describe("namespace tools on the translated path", () => {
  const namespace = (CODEX_TURN1.body.tools as Json[]).find((t) => t.type === "namespace")!;
  const inner = (namespace.tools as { name: string }[])[0]!.name;

  for (const stream of [false, true]) {
    test(`a call to a namespace's function comes back with name and namespace apart (${stream ? "streamed" : "not streamed"})`, async () => {
      const { response, text } = await replay(CODEX_TURN1, { model: "gpt-4.1", input: "hi", tools: [namespace], stream });
      expect(response.status).toBe(200);
      const call = { type: "function_call", name: inner, namespace: namespace.name };
      if (stream) expect(text).toContain(`"name":"${inner}","namespace":"${namespace.name}"`);
      else expect((JSON.parse(text) as { output: Json[] }).output).toContainEqual(expect.objectContaining(call));
    });
  }

  test("a replayed call with a namespace reaches chat under the flat name", async () => {
    const input = [
      { type: "message", role: "user", content: "hi" },
      { type: "function_call", call_id: "call_1", name: inner, namespace: namespace.name, arguments: "{}" },
      { type: "function_call_output", call_id: "call_1", output: "done" },
    ];
    const { response, upstream } = await replay(CODEX_TURN1, { model: "gpt-4.1", input, tools: [namespace], stream: false });
    expect(response.status).toBe(200);
    const [chat] = posted(upstream, "/chat/completions");
    const assistant = (chat!.messages as { role: string; tool_calls?: { function: { name: string } }[] }[]).find((m) => m.role === "assistant");
    expect(assistant?.tool_calls?.[0]?.function.name).toBe(`${namespace.name}__${inner}`);
  });
});

describe("hosted tools", () => {
  for (const stream of [false, true]) {
    test(`pass-through: web_search runs at Copilot, its web_search_call and url_citation annotations relayed (${stream ? "streamed" : "not streamed"})`, async () => {
      const body = { model: "gpt-5.1-codex", input: "search the web for Bun's runtime docs", tools: [{ type: "web_search" }], stream };
      const { response, text } = await replay(CODEX_TURN1, body);
      expect(response.status).toBe(200);
      expect(text).toContain('"type":"web_search_call"');
      expect(text).toContain('"action":{"type":"search","query":"search the web for Bun\'s runtime docs"}');
      expect(text).toContain(`"type":"url_citation","url":"${FAKE_SEARCH_SOURCES[0].url}"`);
      if (stream) expect(text).toContain("response.output_text.annotation.added");
    });
  }

  test("translated: a hosted tool Chat cannot carry is a 400 naming it", async () => {
    const body = { model: "gpt-4.1", input: "hi", tools: [{ type: "web_search" }, { type: "code_interpreter", container: { type: "auto" } }] };
    const { response, text } = await replay(CODEX_TURN1, body);
    expect(response.status).toBe(400);
    expect(JSON.parse(text)).toMatchObject({ error: { param: "tools[0].type", code: "unsupported_value" } });
    expect(text).toContain("code_interpreter");
  });
});

describe("Claude Code 2.1 on /v1/messages", () => {
  for (const [path, model] of [
    ["native", "claude-sonnet-4-5"],
    ["translated", "claude-sonnet-4"],
  ] as const) {
    test(`${path} (${model}): both turns of a tool loop are answered`, async () => {
      const first = await replay(CLAUDE_TURN1, { ...CLAUDE_TURN1.body, model });
      expect(first.response.status).toBe(200);
      expect(first.text).toContain('"name":"Bash"');
      expect(first.text).toContain('"stop_reason":"tool_use"');
      const second = await replay(CLAUDE_TURN2, { ...CLAUDE_TURN2.body, model });
      expect(second.response.status).toBe(200);
      expect(second.text).toContain('"stop_reason":"end_turn"');
      expect(second.text).toContain('"text":"The tool ');
    });

    test(`${path} (${model}): a client tool with type null, as the SDK allows, is accepted`, async () => {
      const tools = [
        { type: null, name: "Bash", description: "Runs a command", input_schema: { type: "object", properties: { command: { type: "string" } } } },
      ];
      const { response, text } = await replay(CLAUDE_TURN1, { model, max_tokens: 64, messages: [{ role: "user", content: "hi" }], tools });
      expect(response.status).toBe(200);
      expect(text).toContain(FAKE_SHELL_OUTPUT);
    });
  }
});
