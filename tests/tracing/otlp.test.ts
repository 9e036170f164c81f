import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type FakeUpstream, startFakeUpstream } from "../fake-upstream";
import { type CreatedKey, cleanUpAfterFile, createKey, isolatedEnv, type RunningServer, startServer, tempDir } from "../helpers";

cleanUpAfterFile();

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: { stringValue?: string; intValue?: string | number; boolValue?: boolean } }[];
}

/** A real OTLP/HTTP receiver on loopback: keeps every JSON body POSTed to /v1/traces. */
function startReceiver() {
  const bodies: string[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      if (new URL(request.url).pathname !== "/v1/traces" || request.method !== "POST") return new Response("not here", { status: 404 });
      bodies.push(await request.text());
      return Response.json({});
    },
  });
  const spans = () =>
    bodies.flatMap((body) =>
      (JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] }).resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)),
    );
  return { url: `http://127.0.0.1:${server.port}`, bodies, spans, stop: () => server.stop(true) };
}

const attrs = (span: OtlpSpan) =>
  Object.fromEntries(
    span.attributes.map((a) => [a.key, a.value.stringValue ?? (a.value.intValue === undefined ? a.value.boolValue : Number(a.value.intValue))]),
  );

let fake: FakeUpstream;
let receiver: ReturnType<typeof startReceiver>;
let server: RunningServer;
let key: CreatedKey;

beforeAll(async () => {
  fake = startFakeUpstream();
  receiver = startReceiver();
  const env = isolatedEnv(tempDir(), { ...fake.env(), GH_TOKEN: fake.githubToken, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
  key = await createKey(env, "--label", "traced");
  server = await startServer([], env);
});
afterAll(async () => {
  await server?.stop();
  receiver.stop();
  fake.stop();
});

const CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN = "00f067aa0ba902b7";
const PROMPT = "a prompt that must never reach a span 8812";

async function waitForSpans(count: (spans: OtlpSpan[]) => boolean): Promise<OtlpSpan[]> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (count(receiver.spans())) return receiver.spans();
    await Bun.sleep(100);
  }
  throw new Error(`spans never arrived; got ${JSON.stringify(receiver.spans().map((s) => s.name))}`);
}

describe("OpenTelemetry traces over OTLP/HTTP", () => {
  test("one server span per request with the GenAI attributes, child spans for Copilot and the store, the client's traceparent honoured and passed on", async () => {
    const chat = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key.secret}`, traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` },
      body: JSON.stringify({ model: "gpt-4.1", messages: [{ role: "user", content: PROMPT }] }),
    });
    expect(chat.status).toBe(200);
    const answer = await chat.text();
    const streamed = await fetch(`${server.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": key.secret, "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "gpt-4.1", max_tokens: 50, stream: true, messages: [{ role: "user", content: PROMPT }] }),
    });
    expect(streamed.status).toBe(200);
    await streamed.text();

    const spans = await waitForSpans(
      (all) => all.filter((s) => attrs(s)["gen_ai.operation.name"] === "chat").length >= 2 && all.filter((s) => s.name === "store write").length >= 2,
    );
    const servers = spans.filter((s) => attrs(s)["gen_ai.operation.name"] === "chat");
    expect(servers).toHaveLength(2);
    const chatSpan = servers.find((s) => attrs(s)["http.route"] === "/chat/completions")!;
    expect(chatSpan.traceId).toBe(CLIENT_TRACE);
    expect(chatSpan.parentSpanId).toBe(CLIENT_SPAN);
    expect(chatSpan.name).toBe("chat gpt-4.1");
    expect(attrs(chatSpan)).toMatchObject({
      "gen_ai.request.model": "gpt-4.1",
      "gen_ai.response.model": expect.any(String),
      // What Copilot's answer said it used.
      "gen_ai.usage.input_tokens": JSON.parse(answer).usage.prompt_tokens,
      "gen_ai.usage.output_tokens": JSON.parse(answer).usage.completion_tokens,
      "gen_ai.provider.name": "github_copilot",
      "copilot_api.key.id": key.id,
      "copilot_api.initiator": "user",
      "copilot_api.path": "native",
      "http.response.status_code": 200,
    });
    // The Anthropic request for a GPT model went through Copilot's chat: translated.
    const messagesSpan = servers.find((s) => attrs(s)["http.route"] === "/messages")!;
    expect(attrs(messagesSpan)["copilot_api.path"]).toBe("translated");
    expect(messagesSpan.traceId).not.toBe(CLIENT_TRACE);

    for (const parent of [chatSpan, messagesSpan]) {
      const children = spans.filter((s) => s.parentSpanId === parent.spanId);
      expect(children.map((s) => s.name).sort()).toEqual(["POST /chat/completions", "store write"]);
      for (const child of children) expect(child.traceId).toBe(parent.traceId);
    }
    // Copilot got the upstream span as its parent, in the client's trace.
    const upstreamSpan = spans.find((s) => s.parentSpanId === chatSpan.spanId && s.name.startsWith("POST"))!;
    const sent = fake.requests.filter((r) => r.path === "/chat/completions").map((r) => r.headers.traceparent);
    expect(sent).toContain(`00-${CLIENT_TRACE}-${upstreamSpan.spanId}-01`);
    // No prompt and no answer text anywhere in what was exported.
    const exported = receiver.bodies.join("\n");
    expect(exported).not.toContain(PROMPT);
    expect(exported).not.toContain(JSON.parse(answer).choices[0].message.content);
  });
});
