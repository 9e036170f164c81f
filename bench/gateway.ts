import { mkdtempSync, readFileSync, rmSync } from "node:fs";
// checks and event recording on) against a fake Copilot, and requests timed one by one.
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FakeUpstream } from "../tests/fake-upstream";

const ROOT = join(import.meta.dir, "..");

/** Runs the CLI once, as a user would; its stdout, or an error with its stderr. */
export function run(args: string[], env: Record<string, string | undefined>, root = ROOT): string {
  const result = Bun.spawnSync([process.execPath, join(root, "src", "main.ts"), ...args], { cwd: root, env });
  if (result.exitCode !== 0) throw new Error(result.stderr.toString());
  return result.stdout.toString();
}

/** Requests per second for `count` requests from `concurrency` workers; any status but 200 stops the run. */
export async function throughput(send: () => Promise<Response>, concurrency: number, count: number): Promise<number> {
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

/** Milliseconds per request, `count` of them after a warm-up; any status but 200 stops the run. */
export async function timeRequests(send: () => Promise<Response>, count = 2000): Promise<number[]> {
  for (let i = 0; i < Math.min(200, count); i++) await (await send()).arrayBuffer(); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = Bun.nanoseconds();
    const response = await send();
    const body = await response.text();
    if (response.status !== 200) throw new Error(`status ${response.status}: ${body.slice(0, 300)}`);
    samples.push((Bun.nanoseconds() - start) / 1e6);
  }
  return samples;
}

/** CPU time (user + system) a process has used, in µs: steadier than throughput on a shared machine. */
export function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100; // utime and stime, in clock ticks of 1/100 s
}

export interface BenchGateway {
  /** copilot-api's base URL. */
  url: string;
  /** A client key's secret. */
  secret: string;
  /** A Copilot token the fake accepts, for calling it directly (the baseline). */
  copilotToken: string;
  /** What the server logged so far. */
  log(): string;
  /** The server's process id (for its memory). */
  pid: number;
  stop(): Promise<void>;
}

/**
 * copilot-api in a temporary home, pointed at the fake, with one key; listening when this resolves.
 * `args` go to `start`; `root` is the checkout to run (this one by default), `bunFlags` go to Bun (--cpu-prof), `env` to both commands.
 */
export async function startGateway(
  fake: FakeUpstream,
  args: string[] = [],
  options: { root?: string; bunFlags?: string[]; env?: Record<string, string> } = {},
): Promise<BenchGateway> {
  const root = options.root ?? ROOT;
  const home = mkdtempSync(join(tmpdir(), "copilot-api-bench-"));
  const env = { ...process.env, HOME: home, XDG_DATA_HOME: join(home, "data"), ...fake.env(), GH_TOKEN: fake.githubToken, ...options.env };
  const secret = (JSON.parse(run(["keys", "create", "--json"], env, root)) as { secret: string }).secret;
  const proc = Bun.spawn([process.execPath, ...(options.bunFlags ?? []), join(root, "src", "main.ts"), "start", "--port", "0", ...args], {
    cwd: root,
    env,
    stdout: "ignore",
    stderr: "pipe",
  });
  // The log is read to its end, not only up to "listening": a reader that stopped would close
  // the pipe, and the server would die on the next line it logs.
  let text = "";
  const decoder = new TextDecoder();
  let listening!: () => void;
  const ready = new Promise<void>((resolve) => (listening = resolve));
  const drained = (async () => {
    for await (const chunk of proc.stderr) {
      text += decoder.decode(chunk, { stream: true });
      if (text.includes("listening on")) listening();
    }
    listening();
  })();
  await ready;
  const url = text.match(/listening on (\S+)/)?.[1];
  if (!url) throw new Error(`copilot-api did not start:\n${text}`);
  const exchange = (await (await fetch(`${fake.url}/copilot_internal/v2/token`, { headers: { authorization: `token ${fake.githubToken}` } })).json()) as {
    token: string;
  };
  return {
    url,
    secret,
    copilotToken: exchange.token,
    log: () => text,
    pid: proc.pid,
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
      await drained;
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** A temp worktree of this repository at `ref` with its dependencies installed (from Bun's cache when it can). */
export function checkoutAt(ref: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "copilot-api-at-"));
  const git = (...args: string[]) => {
    const result = Bun.spawnSync(["git", ...args], { cwd: ROOT, stderr: "pipe" });
    if (result.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${result.stderr.toString()}`);
  };
  git("worktree", "add", "--detach", dir, ref);
  const install = Bun.spawnSync([process.execPath, "install", "--frozen-lockfile"], { cwd: dir, stdout: "ignore", stderr: "inherit" });
  if (install.exitCode !== 0) throw new Error(`bun install in the worktree of ${ref} failed`);
  return { dir, remove: () => git("worktree", "remove", "--force", dir) };
}
