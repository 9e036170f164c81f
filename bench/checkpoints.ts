// WAL checkpoints on the event loop (SQLite's autocheckpoint inside a COMMIT) or on the
// checkpoint thread (src/db/checkpoint-thread.ts): one-event commits, one per event-loop turn,
// as a server answering one request at a time writes them; rounds alternated in one run.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CheckpointThread, openStore } from "~/db";
import { type RecordedEvent, writeEvents } from "~/features/events/queries";
import { printTable, summarize } from "./lib";

const COMMITS = 4000;

const event = (): RecordedEvent => ({
  ts: Date.now(),
  keyId: "key_bench",
  route: "/chat/completions",
  model: "gpt-4.1",
  upstreamModel: "gpt-4.1",
  stream: false,
  promptTokens: 10,
  completionTokens: 5,
  usageUnknown: false,
  status: 200,
  latencyMs: 3,
  error: null,
});

/** Per-commit wall time (µs) of COMMITS one-event commits, one per turn. */
async function round(thread: boolean): Promise<{ samples: number[]; walBytes: number }> {
  const dir = mkdtempSync(join(tmpdir(), "copilot-api-bench-checkpoints-"));
  const store = openStore({ path: join(dir, "copilot-api.db") });
  const checkpoints = new CheckpointThread(store);
  if (thread) {
    checkpoints.start();
    while (store.sqlite.query<{ wal_autocheckpoint: number }, []>("PRAGMA wal_autocheckpoint").get()!.wal_autocheckpoint !== 0) await Bun.sleep(5);
  }
  const samples: number[] = [];
  for (let i = 0; i < COMMITS; i++) {
    const start = Bun.nanoseconds();
    store.backgroundWrite(() => writeEvents(store, [event()]));
    samples.push((Bun.nanoseconds() - start) / 1000);
    await new Promise((resolve) => setImmediate(resolve));
  }
  const walBytes = statSync(`${store.path}-wal`).size;
  checkpoints.stop();
  store.close();
  rmSync(dir, { recursive: true, force: true });
  return { samples, walBytes };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export async function benchCheckpoints(): Promise<void> {
  const inline: number[] = [];
  const threaded: number[] = [];
  let largestWal = 0;
  for (let r = 0; r < 3; r++) {
    inline.push(...(await round(false)).samples);
    const { samples, walBytes } = await round(true);
    threaded.push(...samples);
    largestWal = Math.max(largestWal, walBytes);
  }
  printTable(
    `One-event commits, one per turn (${COMMITS} × 3 rounds each, alternated)`,
    "µs",
    summarize("autocheckpoint in the COMMIT, on the event loop", inline, 0.99),
    [summarize("checkpoint thread", threaded, 0.99)],
    "p99",
  );
  console.log(
    `\nmean per commit: ${mean(inline).toFixed(0)} µs on the event loop, ${mean(threaded).toFixed(0)} µs with the thread; the largest WAL left with the thread: ${(largestWal / 1e6).toFixed(1)} MB`,
  );
}

if (import.meta.main) await benchCheckpoints();
