// The cost of issue 23's observability on the request path, in the same run: the same
// non-streaming chat completion through three gateways (plain, --metrics, tracing to an
// OTLP sink), rounds interleaved so machine noise falls on all three alike; then the
// per-request work itself, measured in-process (metrics per committed event, a traced request's spans).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../src/db";
import { keyLabels } from "../src/features/keys";
import { GatewayMetrics } from "../src/features/metrics/gateway-metrics";
import { OtelRequestTrace, startOtel } from "../src/features/tracing/otel";
import { startFakeUpstream } from "../tests/fake-upstream";
import { startGateway, timeRequests } from "./gateway";
import { perCallNs, printTable, summarize } from "./lib";

const ROUNDS = 6;
const PER_ROUND = 300;
const COUNTED_PER_ROUND = 200_000;

export async function benchObservability(): Promise<void> {
  const fake = startFakeUpstream();
  // An OTLP receiver that reads and drops what arrives.
  const sink = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      await request.arrayBuffer();
      return Response.json({});
    },
  });
  const endpoint = `http://127.0.0.1:${sink.port}`;
  const gateways = [
    { name: "metrics and tracing off (baseline)", gateway: await startGateway(fake) },
    { name: "--metrics", gateway: await startGateway(fake, ["--metrics"]) },
    { name: "--otlp-endpoint (tracing on)", gateway: await startGateway(fake, ["--otlp-endpoint", endpoint]) },
  ];
  try {
    const body = JSON.stringify({ model: "gpt-4.1", messages: [{ role: "user", content: "hello" }] });
    const samples = gateways.map(() => [] as number[]);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, { gateway }] of gateways.entries()) {
        const send = () =>
          fetch(`${gateway.url}/v1/chat/completions`, {
            method: "POST",
            body,
            headers: { authorization: `Bearer ${gateway.secret}`, "content-type": "application/json" },
          });
        samples[i]!.push(...(await timeRequests(send, PER_ROUND)));
      }
    }
    const rows = gateways.map(({ name }, i) => summarize(name, samples[i]!));
    printTable(`Observability on the request path: chat completion, ${ROUNDS}×${PER_ROUND} requests per gateway, interleaved`, "ms", rows[0]!, rows.slice(1));
    for (const row of rows.slice(1)) console.log(`${row.name}: ${((row.median - rows[0]!.median) * 1000).toFixed(0)} µs at the median (noise included)`);
  } finally {
    for (const { gateway } of gateways) await gateway.stop();
  }
  await inProcess(endpoint);
  sink.stop(true);
  fake.stop();
}

async function countingNs(metrics: GatewayMetrics, batch: Parameters<GatewayMetrics["committed"]>[0]): Promise<number[]> {
  const samples: number[] = [];
  for (let round = 0; round < 20; round++) {
    let start = Bun.nanoseconds();
    await metrics.render();
    const empty = Bun.nanoseconds() - start;
    // Enough events that counting them outweighs a scrape's own noise (default metrics, gauges).
    for (let i = 0; i < COUNTED_PER_ROUND; i++) metrics.committed(batch);
    start = Bun.nanoseconds();
    await metrics.render();
    samples.push((Bun.nanoseconds() - start - empty) / COUNTED_PER_ROUND);
  }
  return samples;
}

/** The work itself, without the HTTP noise: per request, in nanoseconds. */
async function inProcess(endpoint: string): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), "copilot-api-bench-"));
  const store = openStore({ path: join(home, "bench.db") });
  try {
    const metrics = new GatewayMetrics({
      keyLabels: () => keyLabels(store.db),
      recorder: { dropped: 0, notStored: 0, lastWriteError: undefined },
      catalog: { resolve: (name) => (name === "gpt-4.1" ? { id: name } : undefined), lastLoadedAt: Date.now() },
      replicating: false,
      protocols: { openai: { usage: ["/chat/completions"], other: [] } },
    });
    const event = {
      ts: Date.now(),
      keyId: "__noauth__",
      route: "/chat/completions",
      model: "gpt-4.1",
      promptTokens: 120,
      completionTokens: 30,
      cacheReadTokens: 10,
      premiumRequests: 1,
      status: 200,
      latencyMs: 180,
    };
    const batch = [event];
    const handed = summarize(
      "metrics: a committed event handed over (what its response waits for)",
      perCallNs(() => metrics.committed(batch)),
    );
    await metrics.render();
    // Counting happens on the next event-loop turn (or at a scrape): timed as a scrape with N events pending less one with none.
    const counted = summarize("metrics: a committed event counted (next event-loop turn)", await countingNs(metrics, batch));
    const otel = startOtel(endpoint, "bench");
    const headers = new Headers({ traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" });
    const traced = summarize(
      "tracing: a request's spans (server, upstream, store write) with attributes",
      perCallNs(
        () => {
          const t = new OtelRequestTrace(otel.tracer, headers, "POST /chat/completions", { "http.request.method": "POST" });
          t.upstream("/chat/completions").end(200);
          t.storeWrite()();
          t.end({ "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4.1", "gen_ai.usage.input_tokens": 120 }, 200);
        },
        { batches: 20, perBatch: 2000 },
      ),
    );
    const nothing = summarize(
      "nothing (loop overhead)",
      perCallNs(() => {}),
    );
    printTable("Observability work per request, in-process", "ns", nothing, [handed, counted, traced]);
    await otel.shutdown();
  } finally {
    store.close();
    rmSync(home, { recursive: true, force: true });
  }
}
