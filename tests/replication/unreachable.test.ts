// A replica that cannot be written: Litestream's local copy of the WAL (its shadow WAL)
// grows with every write until it reaches the replica. The real Litestream binary, a
// file:// replica under a regular file (not writable even by root), real events.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { litestreamLocalBytes, openStore, readReplicationStatus, replicationFolder, type Store } from "~/db";
import { EventRecorder } from "~/features/events";
import { findLitestream, ReplicationWorker, replicaTarget } from "~/features/replication";
import { type FakeUpstream, startFakeUpstream } from "../fake-upstream";
import { sampleEvent } from "../fixtures/sample-event";
import { cleanUpAfterFile, createKey, dbFileOf, isolatedEnv, startProcess, tempDir } from "../helpers";

cleanUpAfterFile();

/** A file:// replica Litestream can never write: its folder would be inside a regular file. */
function unwritableReplica(): string {
  const file = join(tempDir("copilot-api-replica-"), "not-a-folder");
  writeFileSync(file, "");
  return `file://${file}/replica`;
}

const alive = (pid: number | undefined) => {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Writes events in batches (a commit each, as the server does under load) until `done()` or the deadline. */
async function writeUntil(store: Store, recorder: EventRecorder, done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (let i = 0; !done(); i++) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}; Litestream state: ${JSON.stringify(readReplicationStatus(store.path))}`);
    for (let j = 0; j < 500; j++) recorder.record(sampleEvent(i * 500 + j));
    await recorder.committed();
    await Bun.sleep(10);
  }
}

/** A TRUNCATE checkpoint from another connection: busy while Litestream holds its read transaction on the WAL. */
function truncateCheckpointBusy(path: string): boolean {
  const db = new Database(path);
  try {
    return db.query<{ busy: number }, []>("PRAGMA wal_checkpoint(TRUNCATE)").get()!.busy !== 0;
  } finally {
    db.close();
  }
}

test("replication failing for a while makes the worker's health degraded, naming the replica and Litestream's error", async () => {
  const store = openStore({ path: join(tempDir(), "copilot-api.db") });
  const recorder = new EventRecorder(store);
  const worker = new ReplicationWorker(store, replicaTarget(unwritableReplica()), { binary: findLitestream(), degradedAfterMs: 1500 });
  recorder.start();
  worker.start();
  try {
    expect(worker.problems()).toEqual([]);
    await writeUntil(store, recorder, () => worker.problems().length > 0, "a degraded health");
    expect(worker.problems().join("\n")).toContain("replication: nothing reached file://");
    expect(worker.problems().join("\n")).toContain("not-a-folder");
  } finally {
    await recorder.stop();
    await worker.stop();
    store.close();
  }
}, 90_000);

test("past its local size limit replication stops loudly: Litestream stopped, its local copy removed, checkpoints the server's again, health degraded", async () => {
  const store = openStore({ path: join(tempDir(), "copilot-api.db") });
  const recorder = new EventRecorder(store);
  const limit = 2 * 1024 * 1024;
  const worker = new ReplicationWorker(store, replicaTarget(unwritableReplica()), { binary: findLitestream(), maxLocalBytes: limit });
  recorder.start();
  worker.start();
  try {
    await writeUntil(store, recorder, () => alive(readReplicationStatus(store.path)?.pid), "Litestream to start");
    const litestream = readReplicationStatus(store.path)!.pid;
    // Litestream holds its read transaction: nobody else can restart the WAL under it.
    await writeUntil(store, recorder, () => truncateCheckpointBusy(store.path), "Litestream's read transaction");
    await writeUntil(store, recorder, () => worker.problems().some((p) => p.startsWith("replication stopped")), "replication to stop");
    await writeUntil(store, recorder, () => !alive(litestream), "Litestream to exit");
    const problem = worker.problems().join("\n");
    expect(problem).toContain("(limit 2.0 MiB)");
    expect(problem).toContain("then restart copilot-api");
    // Give the stop a moment to finish its cleanup, then the folder holds only copilot-api's own files.
    await writeUntil(store, recorder, () => litestreamLocalBytes(store.path) < 64 * 1024, "the local copy to be removed");
    expect(existsSync(join(replicationFolder(store.path), "generations"))).toBe(false);
    expect(truncateCheckpointBusy(store.path)).toBe(false);
    // Nothing restarts it.
    await Bun.sleep(1500);
    expect(readReplicationStatus(store.path)?.running).toBe(false);
    expect(alive(readReplicationStatus(store.path)?.pid)).toBe(false);
  } finally {
    await recorder.stop();
    await worker.stop();
    store.close();
  }
}, 120_000);

const root = process.getuid?.() === 0;
if (!root) console.warn("skipped: the small-disk test mounts a tmpfs, which needs root");

describe.skipIf(!root)("on a small disk (a 32 MiB tmpfs; needs root)", () => {
  let fake: FakeUpstream;
  beforeAll(() => {
    fake = startFakeUpstream();
  });
  afterAll(() => fake.stop());

  test("the local copy stops before the disk is full, /healthz says degraded, and a full disk still shuts down cleanly", async () => {
    const home = tempDir();
    // The small disk holds the data folder only (Bun keeps its own cache under HOME).
    const disk = join(home, "data");
    mkdirSync(disk);
    const mount = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", disk]);
    if (mount.exitCode !== 0) throw new Error(`mount -t tmpfs failed: ${mount.stderr.toString()}`);
    try {
      const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken, COPILOT_API_REPLICATE_TO: unwritableReplica() });
      const key = await createKey(env);
      const server = await startProcess([], env);
      const health = async () => {
        const response = await fetch(`${server.url}/healthz`);
        return { status: response.status, body: (await response.json()) as { reasons: string[] } };
      };
      for (let i = 0; !(await health()).body.reasons.some((r) => r.startsWith("replication stopped")); i++) {
        if (i > 5000) throw new Error(`replication never stopped:\n${server.log()}`);
        await chat(server.url, key.secret);
      }
      expect((await health()).status).toBe(503);
      expect(server.log()).toContain("replication stopped: Litestream's local copy of the WAL reached");

      // Now the disk fills up (something else on it): requests are still answered, events dropped.
      const filler = openSync(join(disk, "filler"), "w");
      try {
        for (;;) writeSync(filler, Buffer.alloc(64 * 1024));
      } catch (error) {
        expect((error as { code?: string }).code).toBe("ENOSPC");
      } finally {
        closeSync(filler);
      }
      for (let i = 0; i < 20; i++) expect((await chat(server.url, key.secret)).status).toBe(200);
      expect((await health()).status).toBe(503);

      const code = await server.stop();
      expect(code).toBe(0);
      expect(server.log()).toContain("stopped cleanly");
      expect(dbFileOf(home)).toStartWith(disk);
    } finally {
      Bun.spawnSync(["umount", "-l", disk]);
    }
  }, 180_000);
});

const chat = (url: string, secret: string) =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }),
  });
