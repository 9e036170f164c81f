// What the latency benchmarks share: copilot-api started as a real child process (key
// checks and event recording on) against a fake Copilot, and requests timed one by one.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FakeUpstream } from "../tests/fake-upstream";

const ROOT = join(import.meta.dir, "..");

/** Runs the CLI once, as a user would; its stdout, or an error with its stderr. */
export function run(args: string[], env: Record<string, string | undefined>): string {
  const result = Bun.spawnSync([process.execPath, join(ROOT, "src", "main.ts"), ...args], { cwd: ROOT, env });
  if (result.exitCode !== 0) throw new Error(result.stderr.toString());
  return result.stdout.toString();
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

/** copilot-api in a temporary home, pointed at the fake, with one key; listening when this resolves. `args` go to `start`, `extraEnv` to both commands. */
export async function startGateway(fake: FakeUpstream, args: string[] = [], extraEnv: Record<string, string> = {}): Promise<BenchGateway> {
  const home = mkdtempSync(join(tmpdir(), "copilot-api-bench-"));
  const env = { ...process.env, HOME: home, XDG_DATA_HOME: join(home, "data"), ...fake.env(), GH_TOKEN: fake.githubToken, ...extraEnv };
  const secret = (JSON.parse(run(["keys", "create", "--json"], env)) as { secret: string }).secret;
  const proc = Bun.spawn([process.execPath, join(ROOT, "src", "main.ts"), "start", "--port", "0", ...args], {
    cwd: ROOT,
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
