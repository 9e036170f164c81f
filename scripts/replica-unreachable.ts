// Measures what an unreachable replica costs on the local disk: the server's
// replication (the real Litestream) pointed at an S3 endpoint that refuses every
// connection, events written at a steady rate, and the size of Litestream's local
// folder and of the database sampled as time passes.
//   bun scripts/replica-unreachable.ts [seconds=300] [events-per-second=2000] [limit-MiB=default]
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, readReplicationStatus, replicationFolder, walFile } from "~/db";
import { EventRecorder } from "~/features/events/recorder";
import { findLitestream, ReplicationWorker, replicaTarget } from "~/features/replication";
import { sampleEvent } from "../tests/fixtures/sample-event";

// Credentials of no account (the endpoint refuses the connection before they matter), set
// for Litestream at our own start: Bun.spawn passes the environment the process started with.
if (!process.env.LITESTREAM_ACCESS_KEY_ID) {
  const env = { ...process.env, LITESTREAM_ACCESS_KEY_ID: "unreachable", LITESTREAM_SECRET_ACCESS_KEY: "unreachable" };
  const self = Bun.spawn([process.execPath, ...process.argv.slice(1)], { env, stdio: ["inherit", "inherit", "inherit"] });
  process.exit(await self.exited);
}

const MB = 1024 * 1024;
const seconds = Number(process.argv[2] ?? 300);
const perSecond = Number(process.argv[3] ?? 2000);
const limitMiB = process.argv[4] ? Number(process.argv[4]) : undefined;

/** Bytes under a folder (files only, recursively). */
function folderBytes(path: string): number {
  let total = 0;
  for (const entry of readdirSync(path, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    try {
      total += statSync(join(entry.parentPath, entry.name)).size;
    } catch {
      // removed meanwhile
    }
  }
  return total;
}

const home = mkdtempSync(join(tmpdir(), "copilot-api-unreachable-"));
const path = join(home, "copilot-api.db");
const store = openStore({ path });
const recorder = new EventRecorder(store);
// Port 1 on loopback refuses every connection: the replica can never be written.
const target = replicaTarget("s3://bucket/copilot-api?endpoint=http://127.0.0.1:1&force-path-style=true&region=us-east-1");
const worker = new ReplicationWorker(store, target, { binary: findLitestream(), maxLocalBytes: limitMiB && limitMiB * MB });
recorder.start();
worker.start();

const started = Date.now();
let written = 0;
let peak = 0;
let nextSample = 0;
console.log(`writing ${perSecond} events/s for ${seconds} s; replica ${target.display} (refuses connections)`);
console.log("| s | events | database + WAL MiB | Litestream folder MiB | replication |");
console.log("|---|---|---|---|---|");
while (Date.now() - started < seconds * 1000) {
  const due = Math.floor(((Date.now() - started) / 1000) * perSecond);
  for (; written < due; written++) recorder.record(sampleEvent(written));
  await recorder.committed();
  const local = folderBytes(replicationFolder(path));
  peak = Math.max(peak, local);
  if (Date.now() - started >= nextSample) {
    nextSample += 10_000;
    const db =
      statSync(path).size +
      (() => {
        try {
          return statSync(walFile(path)).size;
        } catch {
          return 0;
        }
      })();
    const status = readReplicationStatus(path);
    const state = status?.running ? "running" : `stopped${status?.lastError ? `: ${status.lastError.slice(0, 80)}` : ""}`;
    console.log(`| ${Math.round((Date.now() - started) / 1000)} | ${written} | ${(db / MB).toFixed(1)} | ${(local / MB).toFixed(1)} | ${state} |`);
  }
  await Bun.sleep(20);
}
console.log(`\npeak Litestream folder: ${(peak / MB).toFixed(1)} MiB; /healthz problems: ${JSON.stringify(worker.problems())}`);
await recorder.stop();
await worker.stop();
store.close();
rmSync(home, { recursive: true, force: true });
