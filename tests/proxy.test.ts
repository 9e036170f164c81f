import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { type FakeUpstream, startFakeUpstream, streamChunks, strictChunk, USAGE } from "./fake-upstream";
import { COPILOT_MODELS } from "./fixtures/copilot-models";
import { appDirOf, cleanUpAfterFile, cli, isolatedEnv, type RunningServer, startServer, tempDir } from "./helpers";

cleanUpAfterFile();

let fake: FakeUpstream;
let server: RunningServer;

beforeAll(async () => {
  fake = startFakeUpstream();
  const home = tempDir();
  server = await startServer(["--body-limit-mb", "0.01"], isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken }));
});
afterAll(async () => {
  await server.stop();
  fake.stop();
});

const post = (path: string, body: unknown, init: RequestInit = {}) =>
  fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...init,
  });

const lastUpstream = (path: string) => fake.requests.filter((r) => r.path === path).at(-1)!;

describe("proxy to Copilot", () => {
  test.each(["", "/v1"])("POST %s/chat/completions forwards the body unchanged with the headers Copilot expects", async (prefix) => {
    const body = { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] };
    const response = await post(`${prefix}/chat/completions`, body);
    expect(response.status).toBe(200);
    const answer = (await response.json()) as { choices: { message: { content: string } }[]; usage: unknown };
    expect(answer.choices[0]!.message.content).toBe("hello from fake copilot");
    expect(answer.usage).toEqual(USAGE);
    const sent = lastUpstream("/chat/completions");
    expect(JSON.parse(sent.body)).toEqual(body);
    expect(sent.headers.authorization).toMatch(/^Bearer tid=fake-copilot-\d+$/);
    expect(sent.headers["copilot-integration-id"]).toBe("vscode-chat");
    expect(sent.headers["editor-version"]).toMatch(/^vscode\//);
    expect(sent.headers["x-github-api-version"]).toBe("2026-06-01");
    expect(sent.headers["x-initiator"]).toBe("user");
  });

  test("marks vision and agent requests the way Copilot expects: the last message decides the initiator", async () => {
    const messages = [
      { role: "user", content: [{ type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }] },
      { role: "assistant", content: "ok" },
      { role: "user", content: "and?" },
    ];
    expect((await post("/v1/chat/completions", { model: "gpt-4o", messages })).status).toBe(200);
    let sent = lastUpstream("/chat/completions");
    expect(sent.headers["copilot-vision-request"]).toBe("true");
    // The person typed the last message: a user turn, even deep in a conversation.
    expect(sent.headers["x-initiator"]).toBe("user");

    const toolTurn = [
      { role: "user", content: "weather?" },
      { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "weather", arguments: "{}" } }] },
      { role: "tool", tool_call_id: "c1", content: "sunny" },
    ];
    expect((await post("/v1/chat/completions", { model: "gpt-4o", messages: toolTurn })).status).toBe(200);
    sent = lastUpstream("/chat/completions");
    expect(sent.headers["copilot-vision-request"]).toBeUndefined();
    // A tool result continues the agent's own work.
    expect(sent.headers["x-initiator"]).toBe("agent");
  });

  test("streams server-sent events through as they come", async () => {
    const response = await post("/v1/chat/completions", { model: "gpt-4o", stream: true, messages: [{ role: "user", content: "hi" }] });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toStartWith("text/event-stream");
    const text = await response.text();
    const events = text
      .split("\n\n")
      .filter(Boolean)
      .map((e) => e.replace(/^data: /, ""));
    expect(events.at(-1)).toBe("[DONE]");
    // As Copilot sent them, with the `object` (and `model`) strict clients need (tests/protocols/openai/strict-clients.test.ts).
    expect(events.slice(0, -1).map((e) => JSON.parse(e))).toEqual(streamChunks("gpt-4o").map((c) => strictChunk(c, "gpt-4o")));
  });

  test.each(["/models", "/v1/models"])("GET %s answers Copilot's catalog", async (path) => {
    const response = await fetch(`${server.url}${path}`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { data: { id: string }[] }).data.map((m) => m.id)).toEqual(COPILOT_MODELS.map((m) => m.id));
  });

  test.each(["/embeddings", "/v1/embeddings"])("POST %s", async (path) => {
    const response = await post(path, { model: "text-embedding-3-small", input: "hi" });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { data: { embedding: number[] }[] }).data[0]!.embedding).toEqual([0.1, 0.2, 0.3]);
  });

  test("upstream errors keep their status and body", async () => {
    const limited = await post("/chat/completions", { model: "error-429", messages: [] });
    expect(limited.status).toBe(429);
    expect(await limited.json()).toEqual({ error: { message: "rate limited upstream", type: "rate_limit" } });
    const broken = await post("/chat/completions", { model: "error-500", messages: [] });
    expect(broken.status).toBe(500);
    expect(await broken.text()).toBe("upstream exploded");
  });

  test("a slow upstream is waited for", async () => {
    const response = await post("/chat/completions", { model: "slow", messages: [] });
    expect(response.status).toBe(200);
  });

  test("a client that disconnects mid-stream cancels the upstream request", async () => {
    const abort = new AbortController();
    const response = await post("/chat/completions", { model: "endless", stream: true, messages: [] }, { signal: abort.signal });
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toStartWith("data: ");
    abort.abort();
    const outcome = await Promise.race([fake.streamCancelled.then(() => "cancelled"), Bun.sleep(5000).then(() => "still streaming")]);
    expect(outcome).toBe("cancelled");
  });

  test("when Copilot rejects the token, it is exchanged again and the request retried once", async () => {
    const before = fake.exchanges;
    fake.validTokens.clear(); // Copilot now answers 401 to the token the proxy holds
    const response = await post("/chat/completions", { model: "gpt-4o", messages: [] });
    expect(response.status).toBe(200);
    expect(fake.exchanges).toBe(before + 1);
    const attempts = fake.requests.filter((r) => r.path === "/chat/completions").slice(-2);
    expect(attempts[0]!.headers.authorization).not.toBe(attempts[1]!.headers.authorization);
  });

  test("bad input gets a JSON error in the OpenAI shape and the server keeps serving", async () => {
    const invalid = await post("/chat/completions", "{not json");
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: "invalid_json" });
    const array = await post("/embeddings", "[1,2]");
    expect(array.status).toBe(400);
    const huge = await post("/chat/completions", { model: "gpt-4o", messages: [{ role: "user", content: "x".repeat(20_000) }] });
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
    const unknown = await fetch(`${server.url}/v1/nothing-here`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toContain("/v1/nothing-here");
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  test("neither the GitHub token nor a Copilot token ever reaches the log", () => {
    expect(server.log()).not.toContain(fake.githubToken);
    expect(server.log()).not.toContain("tid=fake-copilot");
  });
});

describe("Copilot token lifecycle", () => {
  test("with no GitHub token the server starts, serves /healthz, and proxy routes answer 503 saying how to sign in", async () => {
    const running = await startServer([], isolatedEnv(tempDir()));
    try {
      expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
      const response = await fetch(`${running.url}/v1/models`);
      expect(response.status).toBe(503);
      expect(((await response.json()) as { error: { message: string } }).error.message).toContain("run `bun run cli auth`");
    } finally {
      await running.stop();
    }
  });
});

describe("copilot-api auth", () => {
  test("runs GitHub's device flow, saves the token 0600, and start uses it", async () => {
    const upstream = startFakeUpstream();
    upstream.pendingPolls = 2;
    const home = tempDir();
    const env = isolatedEnv(home, upstream.env());
    try {
      const result = await cli(["auth"], env);
      expect(result.code).toBe(0);
      expect(result.stderr).toContain("WDJB-MJHT");
      expect(result.stderr).not.toContain(upstream.githubToken);
      const file = join(appDirOf(home), "github_token");
      expect(readFileSync(file, "utf8").trim()).toBe(upstream.githubToken);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(upstream.requests.filter((r) => r.path === "/login/oauth/access_token")).toHaveLength(3);

      chmodSync(file, 0o644); // someone loosened it: the next start says so and tightens it
      const running = await startServer([], env);
      expect(running.log()).toContain(`SECURITY: ${file} had mode 0644`);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(running.log()).toContain("GitHub token from file");
      expect((await fetch(`${running.url}/v1/models`)).status).toBe(200);
      await running.stop();
    } finally {
      upstream.stop();
    }
  });
});
