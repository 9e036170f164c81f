// Boot to listening: copilot-api's own boot (open, checks, migrate, listen)
// against a bare Bun.serve process, each measured from spawn to "listening".
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

export async function benchBoot(): Promise<void> {
  const bare = `const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("ok") }); console.error("listening on " + s.port); process.on("SIGTERM", () => process.exit(0));`;
  const home = mkdtempSync(join(tmpdir(), "copilot-api-bench-"));
  const env = { ...process.env, HOME: home, XDG_DATA_HOME: join(home, "data") };
  const start = [process.execPath, join(ROOT, "src", "main.ts"), "start", "--port", "0"];
  try {
    const baseline: number[] = [];
    const warm: number[] = [];
    const first: number[] = [];
    const bundled: number[] = [];
    const built = Bun.spawnSync([process.execPath, "run", "build"], { cwd: ROOT });
    if (built.exitCode !== 0) throw new Error(`bun run build failed:\n${built.stderr}`);
    const startBundled = [process.execPath, join(ROOT, "dist", "copilot-api.js"), "start", "--port", "0"];
    await msToListening(start, env); // creates and migrates the database once
    for (let i = 0; i < RUNS; i++) {
      baseline.push(await msToListening([process.execPath, "-e", bare], env));
      warm.push(await msToListening(start, env));
      bundled.push(await msToListening(startBundled, env));
      const fresh = join(home, `fresh-${i}`);
      first.push(await msToListening(start, { ...env, XDG_DATA_HOME: fresh }));
    }
    printTable(`Boot to listening (${RUNS} runs each, child processes)`, "ms", summarize("bare Bun.serve process", baseline), [
      summarize("copilot-api start from source, nothing pending", warm),
      summarize("copilot-api start, bundled build, nothing pending", bundled),
      summarize("copilot-api start from source, first boot (create + migrate)", first),
    ]);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
