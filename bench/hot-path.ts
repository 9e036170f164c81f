// `bun run bench:hot [baseline-checkout]`: the request hot path of copilot-api, this
// checkout beside another one (a baseline commit, e.g. `git worktree add /tmp/base main`
// or a `git archive` copy with node_modules linked) on one fake Copilot, interleaved reps,
// medians. Fewer rows and shorter than bench:peers, for measuring one change at a time.
// COPILOT_API_BENCH_PROFILE=<folder> runs this checkout's server under `bun --cpu-prof`.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { type FakeUpstream, startFakeUpstream } from "../tests/fake-upstream";
import { type BenchGateway, checkoutAt, cpuMicros, startGateway, throughput } from "./gateway";

const ROOT = join(import.meta.dir, "..");
const REPS = Number(process.env.COPILOT_API_BENCH_REPS ?? 3);
const STREAM_DELTAS = 40;

interface Row {
  name: string;
  stream: boolean;
  messages: boolean;
  concurrency: number;
  requests: number;
}
const ROWS: Row[] = [
  { name: "chat JSON", stream: false, messages: false, concurrency: 1, requests: 600 },
  { name: "chat JSON", stream: false, messages: false, concurrency: 16, requests: 1200 },
  { name: "chat streams", stream: true, messages: false, concurrency: 1, requests: 300 },
  { name: "chat streams", stream: true, messages: false, concurrency: 16, requests: 600 },
  { name: "Messages JSON", stream: false, messages: true, concurrency: 1, requests: 600 },
  { name: "Messages streams", stream: true, messages: true, concurrency: 16, requests: 600 },
];

/** The row's request to a gateway: OpenAI chat, or Anthropic Messages on a model Copilot serves on chat only (translated). */
function request(gateway: BenchGateway, row: Row): () => Promise<Response> {
  const model = row.messages ? "claude-sonnet-4" : "gpt-4.1";
  const body = JSON.stringify({ model, messages: [{ role: "user", content: "hello" }], stream: row.stream, max_tokens: 256 });
  const path = row.messages ? "/v1/messages" : "/v1/chat/completions";
  const headers: Record<string, string> = { "content-type": "application/json", authorization: `Bearer ${gateway.secret}` };
  if (row.messages) headers["anthropic-version"] = "2023-06-01";
  return () => fetch(`${gateway.url}${path}`, { method: "POST", body, headers });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number) => n.toFixed(0);

async function measure(gateway: BenchGateway, name: string, fake: FakeUpstream, note: (key: string, value: number) => void): Promise<void> {
  for (const row of ROWS) {
    fake.textDeltas = row.stream ? STREAM_DELTAS : 3;
    const send = request(gateway, row);
    await throughput(send, 8, 80); // warm-up
    const key = `${name}|${row.name}|${row.concurrency}`;
    const cpuBefore = cpuMicros(gateway.pid);
    note(key, await throughput(send, row.concurrency, row.requests));
    note(`${key}|cpu`, (cpuMicros(gateway.pid) - cpuBefore) / row.requests);
    fake.requests.length = 0;
  }
}

export async function benchHotPath(baseline?: string): Promise<string> {
  const fake = startFakeUpstream();
  const profile = process.env.COPILOT_API_BENCH_PROFILE;
  const targets = [{ name: "this checkout", root: ROOT, bunFlags: profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : [] }];
  // A folder is a checkout as it stands; anything else a git ref, checked out into a temp worktree.
  const checkout = baseline && !existsSync(baseline) ? checkoutAt(baseline) : undefined;
  if (baseline) targets.push({ name: "baseline", root: checkout?.dir ?? resolve(baseline), bunFlags: [] });
  const samples = new Map<string, number[]>();
  const note = (key: string, value: number) => samples.set(key, [...(samples.get(key) ?? []), value]);
  try {
    for (let rep = 0; rep < REPS; rep++) {
      for (const target of rep % 2 === 0 ? targets : [...targets].reverse()) {
        const gateway = await startGateway(fake, [], target);
        try {
          await measure(gateway, target.name, fake, note);
        } finally {
          await gateway.stop();
        }
      }
    }
  } finally {
    fake.stop();
    checkout?.remove();
  }
  const lines = [
    `\n### Hot path (requests/s and the server's CPU µs per request, median of ${REPS} interleaved reps${baseline ? "; ratio = this ÷ baseline" : ""})\n`,
    `| row | c | this checkout: req/s | CPU µs/req |${baseline ? " baseline: req/s | CPU µs/req | req/s ratio | CPU ratio |" : ""}`,
    `| --- | ---: | ---: | ---: |${baseline ? " ---: | ---: | ---: | ---: |" : ""}`,
  ];
  for (const row of ROWS) {
    const key = `${row.name}|${row.concurrency}`;
    const [ours, oursCpu] = [samples.get(`this checkout|${key}`)!, samples.get(`this checkout|${key}|cpu`)!];
    const [base, baseCpu] = [samples.get(`baseline|${key}`), samples.get(`baseline|${key}|cpu`)];
    const cells =
      base && baseCpu
        ? ` ${fmt(median(base))} | ${fmt(median(baseCpu))} | ${(median(ours) / median(base)).toFixed(2)} | ${(median(oursCpu) / median(baseCpu)).toFixed(2)} |`
        : "";
    lines.push(`| ${row.name} | ${row.concurrency} | ${fmt(median(ours))} | ${fmt(median(oursCpu))} |${cells}`);
  }
  return lines.join("\n");
}

if (import.meta.main) console.log(await benchHotPath(process.argv[2]));
