// `bun run bench:peers`: copilot-api (this checkout) beside ericc-ch/copilot-api 0.7.0 from
// npm and the fake Copilot called directly (the floor), all against one fake Copilot that
// answers as real Copilot does (tests/fake-upstream.ts). Reps are interleaved (each rep boots
// every gateway afresh, runs every row, then stops it) and each number is the median of the
// reps with their min–max. Ratios are leads: above 1 means copilot-api is ahead.
// `--against REF` (repeatable) adds copilot-api at a git commit, tag or branch as one more
// column, from a temp worktree of it: a change's before/after in the same run. `--bundle` runs every
// copilot-api as the published bundle (`bun run build` → dist/copilot-api.js, what npx runs) instead of
// from source.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type FakeUpstream, startFakeUpstream } from "../tests/fake-upstream";
import { checkoutAt, cpuMicros, run, throughput } from "./gateway";

const ROOT = join(import.meta.dir, "..");
const PEER = { name: "copilot-api", version: "0.7.0", label: "ericc-ch 0.7.0" };
/** Reps by default; `--reps N` asks for more (the cells are medians: more reps, steadier numbers). */
const DEFAULT_REPS = 3;
const CONCURRENCY = [1, 16, 64];
/** Deltas per streamed answer: enough that per-chunk work shows. */
const STREAM_DELTAS = 40;
/** Requests per row, by concurrency: bounded so that a whole run stays within a few minutes. */
const REQUESTS: Record<number, number> = { 1: 120, 16: 480, 64: 960 };

interface Row {
  name: string;
  stream: boolean;
  messages: boolean;
}
const ROWS: Row[] = [
  { name: "chat streams", stream: true, messages: false },
  { name: "chat JSON", stream: false, messages: false },
  { name: "Messages translated JSON", stream: false, messages: true },
  { name: "Messages translated streams", stream: true, messages: true },
];

const CHAT_MODEL = "gpt-4.1"; // a GPT model: Azure's content filter results in every chunk
const MESSAGES_MODEL = "claude-sonnet-4"; // listed for /chat/completions only: both gateways translate
const prompt = [{ role: "user", content: "hello" }];

/** Something that answers the rows' requests: a gateway child process, or the fake itself. */
interface Target {
  name: string;
  request(row: Row): () => Promise<Response>;
  pid?: number;
  stop(): Promise<void>;
}

function freePort(): number {
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

const post = (url: string, body: unknown, headers: Record<string, string>) => () =>
  fetch(url, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json", ...headers } });

const chatBody = (row: Row) => ({ model: row.messages ? MESSAGES_MODEL : CHAT_MODEL, messages: prompt, stream: row.stream, max_tokens: 256 });
const messagesBody = (row: Row) => ({ model: MESSAGES_MODEL, messages: prompt, stream: row.stream, max_tokens: 256 });

/** A gateway's requests: OpenAI chat on /v1/chat/completions, Anthropic on /v1/messages. */
function gatewayRequests(url: string, headers: Record<string, string>) {
  return (row: Row) =>
    row.messages
      ? post(`${url}/v1/messages`, messagesBody(row), { "anthropic-version": "2023-06-01", ...headers })
      : post(`${url}/v1/chat/completions`, chatBody(row), headers);
}

/** The floor: Copilot's own chat call, the one each gateway makes for the row (Messages included). */
async function fakeDirect(fake: FakeUpstream): Promise<Target> {
  const { token } = (await (await fetch(`${fake.url}/copilot_internal/v2/token`, { headers: { authorization: `token ${fake.githubToken}` } })).json()) as {
    token: string;
  };
  return {
    name: "fake Copilot directly",
    request: (row) => post(`${fake.url}/chat/completions`, chatBody(row), { authorization: `Bearer ${token}` }),
    stop: async () => {},
  };
}

/** Spawns a gateway and times spawn → first 200 on a chat request (the Copilot token exchange and catalog included). */
async function boot(cmd: string[], env: Record<string, string | undefined>, url: string, headers: Record<string, string>) {
  const started = performance.now();
  const proc = Bun.spawn(cmd, { cwd: ROOT, env, stdout: "ignore", stderr: "pipe" });
  const first = post(`${url}/v1/chat/completions`, chatBody(ROWS[1]!), headers);
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${cmd.join(" ")} exited: ${await new Response(proc.stderr).text()}`);
    const response = await first().catch(() => null);
    if (response?.status === 200) {
      await response.arrayBuffer();
      break;
    }
    await response?.arrayBuffer();
    await Bun.sleep(2);
  }
  return { proc, bootMs: performance.now() - started };
}

function tempHome(fake: FakeUpstream) {
  const home = mkdtempSync(join(tmpdir(), "copilot-api-peers-"));
  const env = {
    ...process.env,
    HOME: home,
    XDG_DATA_HOME: join(home, "data"),
    XDG_CONFIG_HOME: join(home, "config"),
    ...fake.env(),
    GH_TOKEN: fake.githubToken,
  };
  return { home, env };
}

/** A gateway child process on a free port, booted (timed); its rows' requests carry `auth`; stopping it removes `temps`. */
async function startProcess(
  name: string,
  args: (port: number) => string[],
  env: Record<string, string | undefined>,
  auth: Record<string, string>,
  temps: string[],
) {
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const { proc, bootMs } = await boot([process.execPath, ...args(port)], env, url, auth);
  return {
    name,
    request: gatewayRequests(url, auth),
    pid: proc.pid,
    bootMs,
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
      for (const dir of temps) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What runs copilot-api in a checkout: its source, or (`--bundle`) its published bundle, built once. */
function entryOf(checkout: string, bundle: boolean): string {
  if (!bundle) return join(checkout, "src", "main.ts");
  const built = Bun.spawnSync([process.execPath, "run", "build"], { cwd: checkout, stdout: "ignore", stderr: "pipe" });
  if (built.exitCode !== 0) throw new Error(`bun run build in ${checkout} failed:\n${built.stderr}`);
  return join(checkout, "dist", "copilot-api.js");
}

/** copilot-api from a checkout (this one unless `checkout` says), on a temp store with one key. */
function startOurs(fake: FakeUpstream, entry: string, name = "copilot-api", checkout = ROOT): Promise<Target & { bootMs: number }> {
  const { home, env } = tempHome(fake);
  const secret = (JSON.parse(run(["keys", "create", "--json"], env, checkout)) as { secret: string }).secret;
  const args = (port: number) => [entry, "start", "--port", String(port)];
  return startProcess(name, args, env, { authorization: `Bearer ${secret}` }, [home]);
}

/** ericc-ch's package, installed once into a cache folder with npm. */
function peerPackage(): string {
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "copilot-api", "bench-peers", `ericc-ch-${PEER.version}`);
  const dir = join(cache, "node_modules", PEER.name);
  if (existsSync(join(dir, "dist", "main.js"))) return dir;
  mkdirSync(cache, { recursive: true });
  writeFileSync(join(cache, "package.json"), '{ "private": true }\n');
  console.error(`installing ${PEER.name}@${PEER.version} into ${cache} …`);
  const npm = Bun.spawnSync(["npm", "install", "--no-audit", "--no-fund", "--omit=dev", `${PEER.name}@${PEER.version}`], { cwd: cache, stderr: "inherit" });
  if (npm.exitCode !== 0) throw new Error(`npm install ${PEER.name}@${PEER.version} failed (is npm on PATH and the registry reachable?)`);
  return dir;
}

/**
 * A temp copy of ericc-ch's bundle with every URL it hard-codes (GitHub, its API, Copilot's
 * API, and the AUR page it reads VS Code's version from) pointed at the fake.
 */
function peerCopy(pkg: string, fake: FakeUpstream): string {
  const copy = mkdtempSync(join(tmpdir(), "copilot-api-peer-"));
  let main = readFileSync(join(pkg, "dist", "main.js"), "utf8");
  const urls = [
    "https://aur.archlinux.org/cgit/aur.git/plain/PKGBUILD?h=visual-studio-code-bin",
    "https://api.githubcopilot.com",
    "https://api.github.com",
    "https://github.com",
  ];
  for (const url of urls) {
    if (!main.includes(`"${url}`)) throw new Error(`${PEER.label}'s dist/main.js no longer holds "${url}": update bench/peers.ts`);
    main = main.replaceAll(`"${url}`, `"${fake.url}${url.includes("aur") ? "/aur" : ""}`);
  }
  mkdirSync(join(copy, "dist"));
  writeFileSync(join(copy, "dist", "main.js"), main);
  cpSync(join(pkg, "package.json"), join(copy, "package.json"));
  symlinkSync(join(pkg, ".."), join(copy, "node_modules"), "dir"); // the cache's node_modules: its dependencies
  return copy;
}

function startPeer(fake: FakeUpstream, pkg: string): Promise<Target & { bootMs: number }> {
  const { home, env } = tempHome(fake);
  const copy = peerCopy(pkg, fake);
  const args = (port: number) => [join(copy, "dist", "main.js"), "start", "--port", String(port), "--github-token", fake.githubToken];
  return startProcess(PEER.label, args, env, {}, [home, copy]);
}

const BARE = "bare Bun relay";

/** The ceiling: bench/bare-relay.ts, Bun's server and fetch with nothing of a gateway between them. */
async function startBareRelay(fake: FakeUpstream): Promise<Target & { bootMs: number }> {
  const { token } = (await (await fetch(`${fake.url}/copilot_internal/v2/token`, { headers: { authorization: `token ${fake.githubToken}` } })).json()) as {
    token: string;
  };
  const args = (port: number) => [join(import.meta.dir, "bare-relay.ts"), String(port), fake.url, token];
  return startProcess(BARE, args, process.env, {}, []);
}

/** VmRSS and VmHWM (the peak) of a process, in MiB. */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(status.match(new RegExp(`${field}:\\s+(\\d+)`))?.[1] ?? Number.NaN);
  return { rss: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 };
}

type Samples = Map<string, number[]>;
const note = (samples: Samples, key: string, value: number) => samples.set(key, [...(samples.get(key) ?? []), value]);

/** One rep of every row against one target. */
async function measure(target: Target, fake: FakeUpstream, samples: Samples): Promise<void> {
  // The fake spends Copilot's session and weekly windows as Copilot does; a long run would use them up and turn into 429s.
  for (const window of Object.values(fake.windows)) window.remaining = 100;
  for (const row of ROWS) {
    fake.textDeltas = row.stream ? STREAM_DELTAS : 3;
    const send = target.request(row);
    await throughput(send, 8, 40); // warm-up
    for (const c of CONCURRENCY) {
      const cpuBefore = target.pid ? cpuMicros(target.pid) : 0;
      note(samples, `${target.name}|${row.name}|${c}`, await throughput(send, c, REQUESTS[c]!));
      if (target.pid) note(samples, `${target.name}|${row.name}|${c}|cpu`, (cpuMicros(target.pid) - cpuBefore) / REQUESTS[c]!);
    }
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const spread = (xs: number[]) => `${fmt(median(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`;
const lead = (ours: number[], theirs: number[]) => (median(ours) / median(theirs)).toFixed(2);

function report(samples: Samples, reps: number, names: { fake: string; ours: string; peer: string; others: string[] }): string {
  const get = (name: string, key: string) => samples.get(`${name}|${key}`) ?? [];
  const cells = (values: string[]) => values.map((value) => ` ${value} |`).join("");
  const lines = [
    `### Throughput (requests/s; median of ${reps} reps, min–max)\n`,
    `| row | c | fake directly | copilot-api |${cells(names.others)} ${PEER.label} | copilot-api ÷ ${PEER.label} |${cells(names.others.map((other) => `copilot-api ÷ ${other}`))} copilot-api ÷ fake |`,
    `| --- | ---: | ---: | ---: |${" ---: |".repeat(2 * names.others.length)} ---: | ---: | ---: |`,
  ];
  for (const row of ROWS) {
    for (const c of CONCURRENCY) {
      const key = `${row.name}|${c}`;
      const [fake, ours, peer] = [get(names.fake, key), get(names.ours, key), get(names.peer, key)];
      const others = names.others.map((other) => get(other, key));
      lines.push(
        `| ${row.name} | ${c} | ${spread(fake)} | ${spread(ours)} |${cells(others.map(spread))} ${spread(peer)} | ${lead(ours, peer)} |${cells(others.map((other) => lead(ours, other)))} ${lead(ours, fake)} |`,
      );
    }
  }
  // CPU per request moves less than throughput when other work shares the 2 cores.
  lines.push(
    `\n### The gateway's CPU per request (µs, user + system from /proc; median of ${reps} reps, min–max; lead = other ÷ copilot-api)\n`,
    `| row | c | copilot-api |${cells(names.others)} ${PEER.label} | lead over ${PEER.label} |${cells(names.others.map((other) => `lead over ${other}`))}`,
    `| --- | ---: | ---: |${" ---: |".repeat(2 * names.others.length)} ---: | ---: |`,
  );
  for (const row of ROWS) {
    for (const c of CONCURRENCY) {
      const key = `${row.name}|${c}|cpu`;
      const [ours, peer] = [get(names.ours, key), get(names.peer, key)];
      const others = names.others.map((other) => get(other, key));
      lines.push(
        `| ${row.name} | ${c} | ${spread(ours)} |${cells(others.map(spread))} ${spread(peer)} | ${lead(peer, ours)} |${cells(others.map((other) => lead(other, ours)))}`,
      );
    }
  }
  lines.push(
    `\n### Boot and memory (median of ${reps}, min–max; lead = other ÷ copilot-api, above 1 is ahead)\n`,
    `| | copilot-api |${cells(names.others)} ${PEER.label} | lead over ${PEER.label} |${cells(names.others.map((other) => `lead over ${other}`))}`,
    `| --- | ---: |${" ---: |".repeat(2 * names.others.length)} ---: | ---: |`,
  );
  for (const [label, key] of [
    ["cold boot → first 200 (ms)", "boot"],
    ["RSS after load (MiB)", "rss"],
    ["RSS peak (MiB)", "peak"],
  ] as const) {
    const [ours, peer] = [get(names.ours, key), get(names.peer, key)];
    const others = names.others.map((other) => get(other, key));
    lines.push(
      `| ${label} | ${spread(ours)} |${cells(others.map(spread))} ${spread(peer)} | ${lead(peer, ours)} |${cells(others.map((other) => lead(other, ours)))}`,
    );
  }
  return lines.join("\n");
}

export async function benchPeers(against: string[] = [], reps = DEFAULT_REPS, bundle = false): Promise<string> {
  const pkg = peerPackage();
  const checkouts = against.map((ref) => {
    const checkout = checkoutAt(ref);
    return { ref, ...checkout, entry: entryOf(checkout.dir, bundle) };
  });
  const ourEntry = entryOf(ROOT, bundle);
  const fake = startFakeUpstream();
  const samples: Samples = new Map();
  const direct = await fakeDirect(fake);
  const started = performance.now();
  try {
    for (let rep = 0; rep < reps; rep++) {
      // Alternate who goes first, so neither always meets a warmer machine.
      const others = checkouts.map(
        ({ ref, dir, entry }) =>
          (fake: FakeUpstream) =>
            startOurs(fake, entry, `copilot-api ${ref}`, dir),
      );
      const ours = [(fake: FakeUpstream) => startOurs(fake, ourEntry), ...others, startBareRelay];
      const starts =
        rep % 2 === 0 ? [...ours, (fake: FakeUpstream) => startPeer(fake, pkg)] : [(fake: FakeUpstream) => startPeer(fake, pkg), ...ours.reverse()];
      await measure(direct, fake, samples);
      for (const start of starts) {
        const target = await start(fake);
        try {
          note(samples, `${target.name}|boot`, target.bootMs);
          await measure(target, fake, samples);
          await Bun.sleep(200);
          const { rss, peak } = memory(target.pid!);
          note(samples, `${target.name}|rss`, rss);
          note(samples, `${target.name}|peak`, peak);
        } finally {
          await target.stop();
        }
      }
      console.error(`rep ${rep + 1}/${reps} done after ${((performance.now() - started) / 1000).toFixed(0)} s`);
    }
  } finally {
    fake.stop();
    for (const checkout of checkouts) checkout.remove();
  }
  return report(samples, reps, { fake: direct.name, ours: "copilot-api", peer: PEER.label, others: [...against.map((ref) => `copilot-api ${ref}`), BARE] });
}

if (import.meta.main) {
  const cpu = readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.+)/)?.[1] ?? "unknown CPU";
  console.log(
    `copilot-api beside its peers — ${new Date().toISOString().slice(0, 10)}, Bun ${Bun.version}, ${navigator.hardwareConcurrency} cores (${cpu}); ${STREAM_DELTAS} deltas per stream; gateways run on Bun\n`,
  );
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: { against: { type: "string", multiple: true }, reps: { type: "string" }, bundle: { type: "boolean" } },
  });
  if (values.bundle) console.log("copilot-api runs as its published bundle (dist/copilot-api.js, `bun run build`), not from source\n");
  console.log(await benchPeers(values.against ?? [], Number(values.reps ?? DEFAULT_REPS), values.bundle ?? false));
}
