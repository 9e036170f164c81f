// `bun run bench:hot [baseline-checkout]`: the request hot path of copilot-api, this
// checkout beside another one (a baseline commit, e.g. `git worktree add /tmp/base main`
// or a `git archive` copy with node_modules linked) on one fake Copilot, interleaved reps,
// medians. Fewer rows and shorter than bench:peers, for measuring one change at a time.
// COPILOT_API_BENCH_PROFILE=<folder> runs this checkout's server under `bun --cpu-prof`.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type FakeUpstream, startFakeUpstream } from "../tests/fake-upstream";

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

interface Server {
  name: string;
  pid: number;
  send(row: Row): () => Promise<Response>;
  stop(): Promise<void>;
}

function spawnCli(root: string, args: string[], env: Record<string, string | undefined>): string {
  const result = Bun.spawnSync([process.execPath, join(root, "src", "main.ts"), ...args], { cwd: root, env });
  if (result.exitCode !== 0) throw new Error(result.stderr.toString());
  return result.stdout.toString();
}

/** copilot-api from `root` in a temp home with one key, on the fake. */
async function startServer(name: string, root: string, fake: FakeUpstream, profile?: string): Promise<Server> {
  const home = mkdtempSync(join(tmpdir(), "copilot-api-hot-"));
  const env = { ...process.env, HOME: home, XDG_DATA_HOME: join(home, "data"), ...fake.env(), GH_TOKEN: fake.githubToken };
  const secret = (JSON.parse(spawnCli(root, ["keys", "create", "--json"], env)) as { secret: string }).secret;
  const flags = profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : [];
  const proc = Bun.spawn([process.execPath, ...flags, join(root, "src", "main.ts"), "start", "--port", "0"], {
    cwd: root,
    env,
    stdout: "ignore",
    stderr: "pipe",
  });
  // The log is read to its end, not only up to "listening": a reader that stopped would close
  // the pipe, and the server would die on the next line it logs.
  let text = "";
  const decoder = new TextDecoder();
  const { promise: ready, resolve: listening } = Promise.withResolvers<void>();
  void (async () => {
    for await (const chunk of proc.stderr) {
      text += decoder.decode(chunk, { stream: true });
      if (text.includes("listening on")) listening();
    }
    listening();
  })();
  await ready;
  const url = text.match(/listening on (\S+)/)?.[1];
  if (!url) throw new Error(`${name} did not start:\n${text}`);
  const headers = { "content-type": "application/json", authorization: `Bearer ${secret}` };
  return {
    name,
    pid: proc.pid,
    send: (row) => {
      const model = row.messages ? "claude-sonnet-4" : "gpt-4.1";
      const body = JSON.stringify({ model, messages: [{ role: "user", content: "hello" }], stream: row.stream, max_tokens: 256 });
      const path = row.messages ? "/v1/messages" : "/v1/chat/completions";
      const extra: Record<string, string> = row.messages ? { "anthropic-version": "2023-06-01" } : {};
      return () => fetch(`${url}${path}`, { method: "POST", body, headers: { ...headers, ...extra } });
    },
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
      rmSync(home, { recursive: true, force: true });
    },
  };
}

async function throughput(send: () => Promise<Response>, concurrency: number, count: number): Promise<number> {
  let left = count;
  const worker = async () => {
    while (left-- > 0) {
      const response = await send();
      const body = await response.text();
      if (response.status !== 200) throw new Error(`status ${response.status}: ${body.slice(0, 300)}`);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return (count / (performance.now() - started)) * 1000;
}

/** CPU time (user + system) a process has used, in µs: steadier than throughput on a shared machine. */
function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100; // utime and stime, in clock ticks of 1/100 s
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number) => n.toFixed(0);

export async function benchHotPath(baseline?: string): Promise<string> {
  const fake = startFakeUpstream();
  const targets = [{ name: "this checkout", root: ROOT, profile: process.env.COPILOT_API_BENCH_PROFILE }];
  if (baseline) targets.push({ name: "baseline", root: resolve(baseline), profile: undefined });
  const samples = new Map<string, number[]>();
  const note = (key: string, value: number) => samples.set(key, [...(samples.get(key) ?? []), value]);
  try {
    for (let rep = 0; rep < REPS; rep++) {
      const order = rep % 2 === 0 ? targets : [...targets].reverse();
      for (const target of order) {
        const server = await startServer(target.name, target.root, fake, target.profile);
        try {
          for (const row of ROWS) {
            fake.textDeltas = row.stream ? STREAM_DELTAS : 3;
            const send = server.send(row);
            await throughput(send, 8, 80); // warm-up
            const key = `${target.name}|${row.name}|${row.concurrency}`;
            const cpuBefore = cpuMicros(server.pid);
            note(key, await throughput(send, row.concurrency, row.requests));
            note(`${key}|cpu`, (cpuMicros(server.pid) - cpuBefore) / row.requests);
            fake.requests.length = 0;
          }
        } finally {
          await server.stop();
        }
      }
    }
  } finally {
    fake.stop();
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
