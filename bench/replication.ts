// Litestream replication (to a file:// replica) on against off: the event write rate
// (Litestream's read transaction and its copying of the WAL share the disk and the
// checkpoints), request throughput through a real server, and the replication lag
// `db status` reports while under load. Off and on rounds alternate, so a busy
// machine weighs on both alike.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, readReplicationStatus, type Store } from "~/db";
import { EventRecorder } from "~/features/events/recorder";
import { findLitestream, ReplicationWorker, replicaTarget } from "~/features/replication";
import { startFakeUpstream } from "../tests/fake-upstream";
import { sampleEvent } from "../tests/fixtures/sample-event";
import { printTable, summarize } from "./lib";

const ROOT = join(import.meta.dir, "..");
const ROUNDS = 10;

async function firstSync(path: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!readReplicationStatus(path)?.lastSyncAt) {
    if (Date.now() > deadline) throw new Error("litestream never synced");
    await Bun.sleep(50);
  }
}

/** One round: 200 event-loop turns of 50 requests each, a commit per turn, as the server does under load. */
async function writeRound(store: Store, recorder: EventRecorder, lagSamples?: number[]): Promise<number> {
  const now = Date.now();
  const start = Bun.nanoseconds();
  let lastSample = 0;
  for (let turn = 0; turn < 200; turn++) {
    for (let i = 0; i < 50; i++) recorder.record(sampleEvent(i, now));
    await recorder.committed();
    if (lagSamples && Date.now() - lastSample > 25) {
      lastSample = Date.now();
      const lag = readReplicationStatus(store.path)?.lagMs;
      if (lag !== undefined) lagSamples.push(lag);
    }
  }
  return 10_000 / ((Bun.nanoseconds() - start) / 1e9);
}

async function benchWriteRate(home: string): Promise<number[]> {
  const off = openStore({ path: join(home, "off", "off.db") });
  const on = openStore({ path: join(home, "on", "on.db") });
  const worker = new ReplicationWorker(on, replicaTarget(`file://${join(home, "replica-writes")}`), { binary: findLitestream() });
  worker.start();
  await firstSync(on.path);
  const recorders = [new EventRecorder(off), new EventRecorder(on)] as const;
  const offRates: number[] = [];
  const onRates: number[] = [];
  const lag: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      // Which goes first alternates, so neither always meets a warmer (or busier) machine.
      if (round % 2 === 0) offRates.push(await writeRound(off, recorders[0]));
      onRates.push(await writeRound(on, recorders[1], lag));
      if (round % 2 === 1) offRates.push(await writeRound(off, recorders[0]));
    }
  } finally {
    for (const r of recorders) r.stop();
    await worker.stop();
    off.close();
    on.close();
  }
  printTable("Event writes with Litestream replicating (recorder, 50 requests per event-loop turn)", "events/s", summarize("replication off", offRates), [
    summarize("replication on (file:// replica, 1 s interval)", onRates),
  ]);
  return lag;
}

async function startServer(args: string[], env: Record<string, string | undefined>): Promise<{ url: string; proc: Bun.Subprocess }> {
  const proc = Bun.spawn([process.execPath, join(ROOT, "src", "main.ts"), "start", "--port", "0", ...args], {
    cwd: ROOT,
    env,
    stdout: "ignore",
    stderr: "pipe",
  });
  let text = "";
  const reader = proc.stderr.getReader();
  while (!text.includes("listening on")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  // Keep reading: a server whose stderr is closed cannot log.
  void (async () => {
    while (!(await reader.read()).done);
  })();
  const match = text.match(/listening on (\S+)/);
  if (!match) throw new Error(`did not start:\n${text}`);
  return { url: match[1]!, proc };
}

/** Requests per second with 8 clients in flight, 400 requests per round. */
async function throughput(url: string, secret: string): Promise<number> {
  const body = JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "hello" }] });
  let left = 400;
  const start = Bun.nanoseconds();
  const client = async () => {
    while (left-- > 0) {
      const response = await fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        body,
        headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
      });
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`status ${response.status}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, client));
  return 400 / ((Bun.nanoseconds() - start) / 1e9);
}

async function benchThroughput(home: string): Promise<number[]> {
  const fake = startFakeUpstream();
  const envOf = (name: string) => ({
    ...process.env,
    HOME: join(home, name),
    XDG_DATA_HOME: join(home, name, "data"),
    ...fake.env(),
    GH_TOKEN: fake.githubToken,
  });
  const secretOf = (env: Record<string, string | undefined>) => {
    const result = Bun.spawnSync([process.execPath, join(ROOT, "src", "main.ts"), "keys", "create", "--json", "--rate-limit", "1000000"], { cwd: ROOT, env });
    if (result.exitCode !== 0) throw new Error(result.stderr.toString());
    return (JSON.parse(result.stdout.toString()) as { secret: string }).secret;
  };
  const offEnv = envOf("off");
  const onEnv = envOf("on");
  const [offSecret, onSecret] = [secretOf(offEnv), secretOf(onEnv)];
  const off = await startServer([], offEnv);
  const on = await startServer(["--replicate-to", `file://${join(home, "replica-requests")}`], onEnv);
  const onDb = join(home, "on", "data", "copilot-api", "copilot-api.db");
  await firstSync(onDb);
  const offRates: number[] = [];
  const onRates: number[] = [];
  const lag: number[] = [];
  try {
    await throughput(off.url, offSecret); // warm-up
    await throughput(on.url, onSecret);
    for (let round = 0; round < ROUNDS; round++) {
      if (round % 2 === 0) offRates.push(await throughput(off.url, offSecret));
      const sampler = setInterval(() => {
        const l = readReplicationStatus(onDb)?.lagMs;
        if (l !== undefined) lag.push(l);
      }, 25);
      onRates.push(await throughput(on.url, onSecret));
      clearInterval(sampler);
      if (round % 2 === 1) offRates.push(await throughput(off.url, offSecret));
    }
  } finally {
    for (const server of [off, on]) {
      server.proc.kill("SIGTERM");
      await server.proc.exited;
    }
    fake.stop();
  }
  printTable(
    "Request throughput with Litestream replicating (non-streaming chat, 8 clients, fake upstream)",
    "requests/s",
    summarize("replication off", offRates),
    [summarize("replication on (file:// replica, 1 s interval)", onRates)],
  );
  return lag;
}

export async function benchReplication(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), "copilot-api-bench-replication-"));
  try {
    const writeLag = await benchWriteRate(home);
    const requestLag = await benchThroughput(home);
    printTable(
      "Replication lag under load, as `db status` reports it (last database write less Litestream's last sync), sampled every 25 ms",
      "ms",
      summarize("Litestream's interval, as configured", [1000]),
      [summarize("while writing events flat out (first table)", writeLag), summarize("while serving 8 clients (second table)", requestLag)],
    );
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
