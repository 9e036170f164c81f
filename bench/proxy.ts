// Proxy overhead: one non-streaming chat completion through copilot-api (a real
// child process, with key checks and event recording on) against the same fake upstream called
// directly, in the same run.
import { startFakeUpstream } from "../tests/fake-upstream";
import { startGateway, timeRequests } from "./gateway";
import { printTable, summarize } from "./lib";

const REQUESTS = 2000;

export async function benchProxy(): Promise<void> {
  const fake = startFakeUpstream();
  const gateway = await startGateway(fake);
  try {
    const { url, secret } = gateway;
    const body = JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "hello" }] });

    const direct = await timeRequests(() =>
      fetch(`${fake.url}/chat/completions`, {
        method: "POST",
        body,
        headers: { authorization: `Bearer ${gateway.copilotToken}`, "content-type": "application/json" },
      }),
    );
    const proxied = await timeRequests(() =>
      fetch(`${url}/v1/chat/completions`, { method: "POST", body, headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" } }),
    );
    const baseline = summarize("fake upstream called directly", direct);
    const through = summarize("through copilot-api (key check and event recording on)", proxied);
    printTable(`Non-streaming chat completion, ${REQUESTS} sequential requests`, "ms", baseline, [through]);
    console.log(`\nadded by the proxy at the median: ${((through.median - baseline.median) * 1000).toFixed(0)} µs`);
  } finally {
    await gateway.stop();
    fake.stop();
  }
}
