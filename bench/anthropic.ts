// Anthropic Messages (issue 10): what /v1/messages adds over calling the fake Copilot
// directly, on the native path (Copilot's /v1/messages, relayed byte for byte) and the
// translated one (Anthropic → chat → Anthropic), for a one-message answer and a 500-delta
// stream; and what count_tokens costs on a 50,000-token conversation. copilot-api runs as a
// real child process with key checks and event recording on.
import { countInputTokens, loadTokenizer } from "~/protocols/anthropic/count-tokens";
import type { CountTokensRequest } from "~/protocols/anthropic/request-schema";
import { startFakeUpstream } from "../tests/fake-upstream";
import { startGateway, timeRequests } from "./gateway";
import { printTable, summarize } from "./lib";

/** A Claude Code–like conversation of about `tokens` input tokens: tool calls reading source files, and their results. */
async function conversation(tokens: number): Promise<CountTokensRequest> {
  const file = (i: number) =>
    `// src/module${i}.ts\nexport function handler${i}(request: Request): Promise<Response> {\n  const url = new URL(request.url);\n  if (url.pathname !== "/v${i}") return Promise.resolve(new Response("not found", { status: 404 }));\n  return fetch(\`https://upstream.example/\${url.search}\`, { headers: { "x-request": "${i}" } });\n}\n`.repeat(
      6,
    );
  const request: CountTokensRequest = {
    model: "claude-sonnet-4-5-20250929",
    system: "You are Claude Code, Anthropic's official CLI for Claude. Be concise.",
    tools: [{ name: "Read", description: "Reads a file", input_schema: { type: "object", properties: { file_path: { type: "string" } } } }],
    messages: [{ role: "user", content: "Read every module and tell me which ones call upstream without a timeout." }],
  };
  for (let i = 0; (await countInputTokens(request)) < tokens; i++) {
    request.messages.push(
      { role: "assistant", content: [{ type: "tool_use", id: `toolu_${i}`, name: "Read", input: { file_path: `/repo/src/module${i}.ts` } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: `toolu_${i}`, content: file(i) }] },
    );
  }
  return request;
}

export async function benchAnthropic(): Promise<void> {
  const fake = startFakeUpstream();
  const started = await startGateway(fake);
  try {
    const { url, secret } = started;
    const upstream = (path: string, body: unknown) => () =>
      fetch(`${fake.url}${path}`, {
        method: "POST",
        body: JSON.stringify(body),
        headers: { authorization: `Bearer ${started.copilotToken}`, "content-type": "application/json" },
      });
    const gateway = (body: unknown) => () =>
      fetch(`${url}/v1/messages`, {
        method: "POST",
        body: JSON.stringify(body),
        headers: { "x-api-key": secret, "anthropic-version": "2023-06-01", "content-type": "application/json" },
      });
    const messages = [{ role: "user", content: "hello" }];

    const cases = [
      { title: "native (claude-sonnet-4.5)", copilotId: "claude-sonnet-4.5", asked: "claude-sonnet-4-5-20250929", native: true },
      { title: "translated (claude-sonnet-4)", copilotId: "claude-sonnet-4", asked: "claude-sonnet-4-20250514", native: false },
    ];
    const added: string[] = [];
    for (const { title, copilotId, asked, native } of cases) {
      for (const stream of [false, true]) {
        fake.textDeltas = stream ? 500 : 3;
        const count = stream ? 500 : 1000;
        // The baseline is the same answer from the fake, in the form the gateway asks it for.
        const direct = native
          ? upstream("/v1/messages", { model: copilotId, max_tokens: 256, messages, stream })
          : upstream("/chat/completions", {
              model: copilotId,
              max_tokens: 256,
              messages,
              ...(stream ? { stream, stream_options: { include_usage: true } } : {}),
            });
        const baseline = summarize("fake Copilot called directly", await timeRequests(direct, count));
        const through = summarize(
          "POST /v1/messages through copilot-api",
          await timeRequests(gateway({ model: asked, max_tokens: 256, messages, stream }), count),
        );
        const what = stream ? "a 500-delta stream" : "non-streaming";
        printTable(`/v1/messages, ${title}, ${what}, ${count} sequential requests`, "ms", baseline, [through]);
        added.push(`${title}, ${what}: ${((through.median - baseline.median) * 1000).toFixed(0)} µs`);
      }
    }
    console.log(`\nadded by copilot-api at the median:\n${added.map((line) => `- ${line}`).join("\n")}`);

    // count_tokens: the tokenizer in process, and the whole route (body checks, key, event).
    await loadTokenizer();
    const request = await conversation(50_000);
    const tokens = await countInputTokens(request);
    const body = JSON.stringify(request);
    const inProcess: number[] = [];
    for (let i = 0; i < 30; i++) {
      const start = Bun.nanoseconds();
      await countInputTokens(request);
      inProcess.push((Bun.nanoseconds() - start) / 1e6);
    }
    const parse: number[] = [];
    for (let i = 0; i < 30; i++) {
      const start = Bun.nanoseconds();
      JSON.parse(body);
      parse.push((Bun.nanoseconds() - start) / 1e6);
    }
    const route = await timeRequests(
      () =>
        fetch(`${url}/v1/messages/count_tokens`, {
          method: "POST",
          body,
          headers: { "x-api-key": secret, "anthropic-version": "2023-06-01", "content-type": "application/json" },
        }),
      30,
    );
    printTable(
      `count_tokens on a ${tokens}-token conversation (${request.messages.length} messages, ${(body.length / 1024).toFixed(0)} KiB)`,
      "ms",
      summarize("JSON.parse of the body", parse),
      [summarize("countInputTokens (o200k_base), in process", inProcess), summarize("POST /v1/messages/count_tokens through copilot-api", route)],
    );
  } finally {
    await started.stop();
    fake.stop();
  }
}
