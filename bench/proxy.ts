// Proxy overhead: one non-streaming chat completion through copilot-api (a real
// child process, with key checks and event recording on) against the same fake upstream called
// directly, in the same run.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeUpstream } from "../tests/fake-upstream";
import { printTable, summarize } from "./lib";

const ROOT = join(import.meta.dir, "..");
const REQUESTS = 2000;

export async function timeRequests(send: () => Promise<Response>): Promise<number[]> {
  for (let i = 0; i < 200; i++) await (await send()).arrayBuffer(); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const start = Bun.nanoseconds();
    const response = await send();
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`status ${response.status}`);
    samples.push((Bun.nanoseconds() - start) / 1e6);
  }
  return samples;
}

export function run(args: string[], env: Record<string, string | undefined>): string {
  const result = Bun.spawnSync([process.execPath, join(ROOT, "src", "main.ts"), ...args], { cwd: ROOT, env });
  if (result.exitCode !== 0) throw new Error(result.stderr.toString());
  return result.stdout.toString();
}

export async function benchProxy(): Promise<void> {
  const fake = startFakeUpstream();
  const home = mkdtempSync(join(tmpdir(), "copilot-api-bench-"));
  const env = { ...process.env, HOME: home, XDG_DATA_HOME: join(home, "data"), ...fake.env(), GH_TOKEN: fake.githubToken };
  const secret = (JSON.parse(run(["keys", "create", "--json"], env)) as { secret: string }).secret;
  const proc = Bun.spawn([process.execPath, join(ROOT, "src", "main.ts"), "start", "--port", "0"], { cwd: ROOT, env, stdout: "ignore", stderr: "pipe" });
  try {
    let text = "";
    for await (const chunk of proc.stderr) {
      text += new TextDecoder().decode(chunk);
      if (text.includes("listening on")) break;
    }
    const url = text.match(/listening on (\S+)/)![1]!;
    const body = JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "hello" }] });
    const exchange = (await (await fetch(`${fake.url}/copilot_internal/v2/token`, { headers: { authorization: `token ${fake.githubToken}` } })).json()) as {
      token: string;
    };

    const direct = await timeRequests(() =>
      fetch(`${fake.url}/chat/completions`, {
        method: "POST",
        body,
        headers: { authorization: `Bearer ${exchange.token}`, "content-type": "application/json" },
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
    proc.kill("SIGTERM");
    await proc.exited;
    fake.stop();
    rmSync(home, { recursive: true, force: true });
  }
}
