// The Responses API: latency copilot-api adds to /v1/responses on the pass-through and the
// translated path (a real child process against the fake upstream, called directly in the same
// run), expanding a stored 50-turn conversation, storing 10,000 responses (the request path's
// cost and the write rate), and how a body with an image compresses.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, type Store } from "~/db";
import { expandChain, type StoredResponse, StoredResponses } from "~/features/responses";
import { startFakeUpstream } from "../tests/fake-upstream";
import { COPILOT_MODELS } from "../tests/fixtures/copilot-models";
import { startGateway, timeRequests } from "./gateway";
import { perCallNs, printTable, summarize } from "./lib";

async function benchLatency(): Promise<void> {
  const fake = startFakeUpstream();
  fake.models = COPILOT_MODELS;
  const gateway = await startGateway(fake);
  try {
    const { url, secret } = gateway;
    const direct = (path: string, body: string) => () =>
      fetch(`${fake.url}${path}`, { method: "POST", body, headers: { authorization: `Bearer ${gateway.copilotToken}`, "content-type": "application/json" } });
    const through = (body: string) => () =>
      fetch(`${url}/v1/responses`, { method: "POST", body, headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" } });

    const passBody = JSON.stringify({ model: "gpt-5.1-codex", input: "hello" });
    const chatBody = JSON.stringify({ model: "gpt-4.1", messages: [{ role: "user", content: "hello" }] });
    const translatedBody = JSON.stringify({ model: "gpt-4.1", input: "hello" });
    const rows = [
      { name: "pass-through (gpt-5.1-codex → /responses), stored", upstream: direct("/responses", passBody), proxied: through(passBody) },
      {
        name: "pass-through, store: false",
        upstream: direct("/responses", passBody),
        proxied: through(JSON.stringify({ model: "gpt-5.1-codex", input: "hello", store: false })),
      },
      { name: "translated (gpt-4.1 → /chat/completions), stored", upstream: direct("/chat/completions", chatBody), proxied: through(translatedBody) },
      {
        name: "translated, store: false",
        upstream: direct("/chat/completions", chatBody),
        proxied: through(JSON.stringify({ model: "gpt-4.1", input: "hello", store: false })),
      },
    ];
    const lines = ["\n### Latency copilot-api adds to POST /v1/responses (non-streaming, sequential, key check, event and stored response on)\n"];
    lines.push(
      "| path | fake upstream direct, median (ms) | through copilot-api, median (ms) | p95 (ms) | added at the median (µs) |",
      "| --- | ---: | ---: | ---: | ---: |",
    );
    for (const row of rows) {
      const base = summarize("direct", await timeRequests(row.upstream));
      const proxied = summarize("through", await timeRequests(row.proxied));
      lines.push(
        `| ${row.name} | ${base.median.toFixed(3)} | ${proxied.median.toFixed(3)} | ${proxied.tail.toFixed(3)} | ${((proxied.median - base.median) * 1000).toFixed(0)} |`,
      );
    }
    console.log(lines.join("\n"));
  } finally {
    await gateway.stop();
    fake.stop();
  }
}

/** One turn of a coding conversation: a question, a tool call and its output, an answer (about 1.5 KB of JSON). */
function turn(id: string, previous: string | null, i: number): StoredResponse {
  const text = `Turn ${i}: please look at src/module-${i}.ts and explain what the function does, then suggest a fix for the failing test. `.repeat(3);
  return {
    id,
    keyId: "key_bench",
    model: "gpt-4.1",
    createdAt: Date.now(),
    status: "completed",
    previousResponseId: previous,
    input: [
      { role: "user", content: text },
      { type: "function_call_output", call_id: `call_${i}`, output: `export function f${i}(x: number) { return x * ${i}; }\n`.repeat(4) },
    ],
    response: {
      id,
      object: "response",
      status: "completed",
      model: "gpt-4.1",
      output: [
        { id: `fc_${i}`, type: "function_call", status: "completed", call_id: `call_${i}`, name: "read_file", arguments: `{"path":"src/module-${i}.ts"}` },
        {
          id: `msg_${i}`,
          type: "message",
          status: "completed",
          role: "assistant",
          content: [{ type: "output_text", text: `The function multiplies by ${i}. `.repeat(12), annotations: [] }],
        },
      ],
      usage: { input_tokens: 500 + i, output_tokens: 80, total_tokens: 580 + i },
    },
  };
}

function benchChain(store: Store): void {
  const responses = new StoredResponses(store);
  let previous: string | null = null;
  for (let i = 0; i < 50; i++) {
    const id = `resp_chain_${i}`;
    responses.save(turn(id, previous, i));
    previous = id;
  }
  const inMemory = perCallNs(() => expandChain(responses, "key_bench", "resp_chain_49"), { batches: 20, perBatch: 200 });
  responses.flush();
  const onDisk = perCallNs(() => expandChain(responses, "key_bench", "resp_chain_49"), { batches: 20, perBatch: 200 });
  const one = perCallNs(() => responses.find("resp_chain_49", "key_bench"), { batches: 20, perBatch: 2000 });
  const toUs = (samples: number[]) => samples.map((ns) => ns / 1000);
  printTable(
    "Expanding previous_response_id: a stored 50-turn conversation (about 150 input items)",
    "µs",
    summarize("one stored response read from disk", toUs(one)),
    [
      summarize("the whole chain, not yet committed (in memory)", toUs(inMemory)),
      summarize("the whole chain, read from disk (50 reads, JSON, zstd)", toUs(onDisk)),
    ],
  );
  responses.stop();
}

async function benchStoring(store: Store): Promise<void> {
  const total = 10_000;
  const build = (round: number) => Array.from({ length: 1000 }, (_, i) => turn(`resp_${round}_${i}`, null, i));
  // The request path: save() (a map insert and, once per turn, a setImmediate), against building the object.
  const responses = new StoredResponses(store, { batchSize: 1000 });
  const buildNs: number[] = [];
  const saveNs: number[] = [];
  for (let round = 0; round < 10; round++) {
    let start = Bun.nanoseconds();
    const batch = build(round);
    buildNs.push((Bun.nanoseconds() - start) / batch.length);
    start = Bun.nanoseconds();
    for (const r of batch) responses.save(r);
    saveNs.push((Bun.nanoseconds() - start) / batch.length);
    responses.flush();
  }
  printTable("Storing a response, the request path's cost", "ns/response", summarize("build the response object", buildNs), [
    summarize("StoredResponses.save() (the write happens after the answer left)", saveNs),
  ]);

  // The write rate: what the end-of-turn flush sustains.
  const rates: number[] = [];
  const perTurn: number[] = [];
  for (let round = 0; round < 5; round++) {
    const batch = Array.from({ length: total }, (_, i) => turn(`resp_w${round}_${i}`, null, i));
    const start = Bun.nanoseconds();
    for (const r of batch) responses.save(r);
    responses.flush();
    rates.push(total / ((Bun.nanoseconds() - start) / 1e9));
    // One response per write, as a server answering one request at a time writes them.
    const t0 = Bun.nanoseconds();
    for (let i = 0; i < 1000; i++) {
      responses.save(turn(`resp_t${round}_${i}`, null, i));
      await Bun.sleep(0);
      if (responses.waiting > 0) responses.flush();
    }
    perTurn.push(1000 / ((Bun.nanoseconds() - t0) / 1e9));
  }
  const single = store.sqlite.query(
    "INSERT INTO responses (id, key_id, model, created_at, status, encoding, body) VALUES (?, 'k', 'm', 0, 'completed', 'json', ?)",
  );
  const autocommit: number[] = [];
  for (let round = 0; round < 3; round++) {
    const start = Bun.nanoseconds();
    for (let i = 0; i < 1000; i++) single.run(`resp_a${round}_${i}`, JSON.stringify(turn("x", null, i)));
    autocommit.push(1000 / ((Bun.nanoseconds() - start) / 1e9));
  }
  printTable(
    `Writing stored responses (about 1.5 KB each as JSON; ${total.toLocaleString("en")} per round)`,
    "responses/s",
    summarize("single-row autocommit INSERTs of the JSON", autocommit),
    [
      summarize(`${total.toLocaleString("en")} saved in one turn, written in batches of 1,000 (encode + compress + insert)`, rates),
      summarize("one response per transaction (a server answering one request at a time)", perTurn),
    ],
  );
  responses.stop();
}

function benchCompression(): void {
  // A real PNG is already compressed: random bytes stand for it; base64 is what compression wins back.
  const image = Buffer.from(crypto.getRandomValues(new Uint8Array(60_000)).buffer).toString("base64");
  const withImage = new TextEncoder().encode(
    JSON.stringify({ input: [{ role: "user", content: [{ type: "input_image", image_url: `data:image/png;base64,${image}` }] }] }),
  );
  const conversation = new TextEncoder().encode(JSON.stringify(Array.from({ length: 20 }, (_, i) => turn(`r${i}`, null, i))));
  const lines = [
    "\n### Compressing a stored body\n",
    "| body | raw (KB) | zstd level 3 (KB) | zstd µs | gzip level 6 (KB) | gzip µs |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const [name, bytes] of [
    ["a PNG as a data: URL (60 KB of incompressible bytes, base64)", withImage],
    ["20 turns of a coding conversation", conversation],
  ] as const) {
    const zstd = perCallNs(() => Bun.zstdCompressSync(bytes, { level: 3 }), { batches: 10, perBatch: 20 });
    const gzip = perCallNs(() => Bun.gzipSync(bytes, { level: 6 }), { batches: 10, perBatch: 20 });
    const kb = (n: number) => (n / 1024).toFixed(1);
    lines.push(
      `| ${name} | ${kb(bytes.length)} | ${kb(Bun.zstdCompressSync(bytes, { level: 3 }).length)} | ${(summarize("", zstd).median / 1000).toFixed(0)} | ${kb(Bun.gzipSync(bytes, { level: 6 }).length)} | ${(summarize("", gzip).median / 1000).toFixed(0)} |`,
    );
  }
  console.log(lines.join("\n"));
}

export async function benchResponses(): Promise<void> {
  await benchLatency();
  const home = mkdtempSync(join(tmpdir(), "copilot-api-bench-"));
  const store = openStore({ path: join(home, "responses.db") });
  try {
    benchChain(store);
    await benchStoring(store);
    benchCompression();
  } finally {
    store.close();
    rmSync(home, { recursive: true, force: true });
  }
}

if (import.meta.main) await benchResponses();
