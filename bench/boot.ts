// Boot: copilot-api's own (open, checks, migrate, listen) against a bare Bun.serve process, each
// measured from spawn to the port accepting a connection (start opens it once the store is ready and
// loads the app behind it), and to the "listening on" line (the app ready); then spawn to the first
// chat answer on the fake Copilot (tests/fake-upstream.ts), the Copilot token kept from the start
// before (as on a restart).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeUpstream } from "../tests/fake-upstream";
import { printTable, summarize } from "./lib";

const ROOT = join(import.meta.dir, "..");
const RUNS = 15;

async function msToListening(cmd: string[], env: Record<string, string | undefined>): Promise<number> {
  const started = performance.now();
  const proc = Bun.spawn(cmd, { cwd: ROOT, env, stdout: "pipe", stderr: "pipe" });
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of proc.stderr) {
    text += decoder.decode(chunk);
    if (text.includes("listening on")) break;
  }
  const ms = performance.now() - started;
  if (!text.includes("listening on")) throw new Error(`did not start:\n${text}`);
  proc.kill("SIGTERM");
  await proc.exited;
  return ms;
}

/** Spawn → the port accepts a TCP connection (tried every millisecond). */
async function msToOpenPort(cmd: string[], env: Record<string, string | undefined>): Promise<number> {
  const port = freePort();
  const started = performance.now();
  const proc = Bun.spawn([...cmd, "--port", String(port)], { cwd: ROOT, env, stdout: "ignore", stderr: "pipe" });
  try {
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`exited: ${await new Response(proc.stderr).text()}`);
      const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).catch(() => null);
      if (socket) {
        socket.end();
        return performance.now() - started;
      }
      await Bun.sleep(1);
    }
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
  }
}

function freePort(): number {
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

/** Spawn → the first 200 on a chat request, asked every millisecond from the spawn on (a request may reach the port before the app is ready). */
async function msToFirstAnswer(cmd: string[], env: Record<string, string | undefined>): Promise<number> {
  const port = freePort();
  const started = performance.now();
  const proc = Bun.spawn([...cmd, "--port", String(port)], { cwd: ROOT, env, stdout: "ignore", stderr: "pipe" });
  const body = JSON.stringify({ model: "gpt-4.1", messages: [{ role: "user", content: "hi" }] });
  try {
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`exited: ${await new Response(proc.stderr).text()}`);
      const answer = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
        method: "POST",
        body,
        headers: { "content-type": "application/json" },
      }).catch(() => null);
      await answer?.arrayBuffer();
      if (answer?.status === 200) return performance.now() - started;
      if (answer) throw new Error(`answered ${answer.status}`);
      await Bun.sleep(1);
    }
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
  }
}

export async function benchBoot(): Promise<void> {
  const bare = `const s = Bun.serve({ port: process.argv.includes("--port") ? Number(process.argv[process.argv.indexOf("--port") + 1]) : 0, hostname: "127.0.0.1", fetch: () => new Response("ok") }); console.error("listening on " + s.port); process.on("SIGTERM", () => process.exit(0));`;
  const home = mkdtempSync(join(tmpdir(), "copilot-api-bench-"));
  const fake = startFakeUpstream();
  const env = { ...process.env, HOME: home, XDG_DATA_HOME: join(home, "data"), ...fake.env(), GH_TOKEN: fake.githubToken };
  const start = [process.execPath, join(ROOT, "src", "main.ts"), "start", "--port", "0"];
  try {
    const baseline: number[] = [];
    const warm: number[] = [];
    const first: number[] = [];
    const bundled: number[] = [];
    const answerSource: number[] = [];
    const answerBundled: number[] = [];
    const port = { bare: [] as number[], source: [] as number[], bundled: [] as number[] };
    const built = Bun.spawnSync([process.execPath, "run", "build"], { cwd: ROOT });
    if (built.exitCode !== 0) throw new Error(`bun run build failed:\n${built.stderr}`);
    const startBundled = [process.execPath, join(ROOT, "dist", "copilot-api.js"), "start", "--port", "0"];
    await msToFirstAnswer(start.slice(0, -2), env); // creates and migrates the database, and keeps a Copilot token, once
    for (let i = 0; i < RUNS; i++) {
      baseline.push(await msToListening([process.execPath, "-e", bare], env));
      warm.push(await msToListening(start, env));
      bundled.push(await msToListening(startBundled, env));
      const fresh = join(home, `fresh-${i}`);
      first.push(await msToListening(start, { ...env, XDG_DATA_HOME: fresh }));
      port.bare.push(await msToOpenPort([process.execPath, "-e", bare, "--"], env));
      port.source.push(await msToOpenPort(start.slice(0, -2), env));
      port.bundled.push(await msToOpenPort(startBundled.slice(0, -2), env));
      answerSource.push(await msToFirstAnswer(start.slice(0, -2), env));
      answerBundled.push(await msToFirstAnswer(startBundled.slice(0, -2), env));
    }
    printTable(`Boot to an open port: spawn → the port accepts a connection (${RUNS} runs each)`, "ms", summarize("bare Bun.serve process", port.bare), [
      summarize("copilot-api start from source, nothing pending", port.source),
      summarize("copilot-api start, bundled build, nothing pending", port.bundled),
    ]);
    printTable(`Boot to "listening on" (the app ready; ${RUNS} runs each, child processes)`, "ms", summarize("bare Bun.serve process", baseline), [
      summarize("copilot-api start from source, nothing pending", warm),
      summarize("copilot-api start, bundled build, nothing pending", bundled),
      summarize("copilot-api start from source, first boot (create + migrate)", first),
    ]);
    printTable(
      `Boot to the first chat answer on the fake Copilot (${RUNS} runs each; the Copilot token kept from the start before)`,
      "ms",
      summarize("bare Bun.serve process, to listening", baseline),
      [
        summarize("copilot-api start from source, spawn → first answer", answerSource),
        summarize("copilot-api start, bundled build, spawn → first answer", answerBundled),
      ],
    );
  } finally {
    fake.stop();
    rmSync(home, { recursive: true, force: true });
  }
}
