// Web search fulfilled by the gateway (issue 26): the latency a translated web-search turn adds
// (Anthropic's server tool on claude-sonnet-4: a chat turn that calls the search function, the
// search on gpt-5-mini's /responses, the chat turn that answers) against the same three upstream
// calls made directly, one after the other, in the same run; and the search alone.
import { startFakeUpstream } from "../tests/fake-upstream";
import { COPILOT_MODELS } from "../tests/fixtures/copilot-models";
import { startGateway, timeRequests } from "./gateway";
import { summarize } from "./lib";

const PROMPT = "Perform a web search for the query: bun runtime docs";

export async function benchWebSearch(): Promise<void> {
  const fake = startFakeUpstream();
  fake.models = COPILOT_MODELS;
  const gateway = await startGateway(fake);
  try {
    const { url, secret } = gateway;
    const headers = { authorization: `Bearer ${gateway.copilotToken}`, "content-type": "application/json" };
    const post = (path: string, body: unknown) => fetch(`${fake.url}${path}`, { method: "POST", body: JSON.stringify(body), headers });
    const tool = {
      type: "function",
      function: { name: "web_search", parameters: { type: "object", properties: { query: { type: "string" } } } },
    };
    const first = { model: "claude-sonnet-4", max_tokens: 512, messages: [{ role: "user", content: PROMPT }], tools: [tool] };
    const search = { model: "gpt-5-mini", input: [{ role: "user", content: PROMPT }], tools: [{ type: "web_search" }], store: false };
    const call = { id: "toolu_fake_01", type: "function", function: { name: "web_search", arguments: JSON.stringify({ query: PROMPT }) } };
    const second = {
      ...first,
      messages: [...first.messages, { role: "assistant", content: null, tool_calls: [call] }, { role: "tool", tool_call_id: call.id, content: "results" }],
    };
    const searchAlone = async () => post("/responses", search);
    const direct = async () => {
      await (await post("/chat/completions", first)).text();
      await (await post("/responses", search)).text();
      return post("/chat/completions", second);
    };
    const body = JSON.stringify({
      model: "claude-sonnet-4",
      max_tokens: 512,
      messages: [{ role: "user", content: PROMPT }],
      tools: [{ type: "web_search_20250305", name: "web_search" }],
    });
    const through = () =>
      fetch(`${url}/v1/messages`, {
        method: "POST",
        body,
        headers: { "x-api-key": secret, "anthropic-version": "2023-06-01", "content-type": "application/json" },
      });

    const alone = summarize("search", await timeRequests(searchAlone, 500));
    const base = summarize("direct", await timeRequests(direct, 500));
    const proxied = summarize("through", await timeRequests(through, 500));
    console.log(
      [
        "\n### A translated web-search turn (Anthropic server tool on claude-sonnet-4: chat → search on gpt-5-mini's /responses → chat), non-streaming, sequential\n",
        "| what | median (ms) | p95 (ms) |",
        "| --- | ---: | ---: |",
        `| the search alone (fake /responses with web_search, direct) | ${alone.median.toFixed(3)} | ${alone.tail.toFixed(3)} |`,
        `| the turn's three upstream calls, direct | ${base.median.toFixed(3)} | ${base.tail.toFixed(3)} |`,
        `| the turn through copilot-api (key check, loop, two events) | ${proxied.median.toFixed(3)} | ${proxied.tail.toFixed(3)} |`,
        `| added by copilot-api at the median (µs) | ${((proxied.median - base.median) * 1000).toFixed(0)} | |`,
      ].join("\n"),
    );
  } finally {
    await gateway.stop();
    fake.stop();
  }
}

if (import.meta.main) await benchWebSearch();
