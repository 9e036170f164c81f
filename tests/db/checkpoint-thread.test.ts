import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { CheckpointThread, openStore, type Store } from "~/db";
import { cleanUpAfterFile, tempDir } from "../helpers";
import { captureLog } from "../log-capture";

cleanUpAfterFile();

function store(): Store {
  const quiet = captureLog();
  try {
    const opened = openStore({ path: join(tempDir(), "copilot-api.db") });
    opened.sqlite.run("CREATE TABLE t (x)");
    opened.sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)"); // the migrations' frames: each test starts from an empty WAL
    return opened;
  } finally {
    quiet.release();
  }
}

const autocheckpoint = (s: Store) => s.sqlite.query<{ wal_autocheckpoint: number }, []>("PRAGMA wal_autocheckpoint").get()!.wal_autocheckpoint;
/** Commits `n` transactions of one row each, as the event recorder does at one request at a time. */
const commits = (s: Store, n: number) => {
  for (let i = 0; i < n; i++) s.transaction(() => s.sqlite.run("INSERT INTO t VALUES (randomblob(2000))"));
};
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition() && Date.now() < deadline) await Bun.sleep(10);
  expect(condition()).toBe(true);
}

test("with the checkpoint thread running, commits do not checkpoint on the connection: the thread copies the WAL into the database", async () => {
  const s = store();
  const thread = new CheckpointThread(s, { everyMs: 10 });
  expect(autocheckpoint(s)).toBe(1000);
  thread.start();
  await until(() => autocheckpoint(s) === 0);
  const before = statSync(s.path).size;
  commits(s, 300); // about 600 KB, in the WAL
  // The database file grows without this connection checkpointing: the thread copied the pages.
  await until(() => statSync(s.path).size > before + 500_000);
  expect(thread.completed).toBeGreaterThan(0);
  thread.stop();
  expect(autocheckpoint(s)).toBe(1000); // stopped: the connection checkpoints by itself again
  s.close();
  expect(!existsSync(`${s.path}-wal`) || statSync(`${s.path}-wal`).size === 0).toBe(true); // the store's close still folds the WAL
});

test("a WAL the thread cannot empty (a reader holds it) past the limit: the connection's own autocheckpoint comes back, and goes again once the WAL is small", async () => {
  const s = store();
  const thread = new CheckpointThread(s, { everyMs: 10, maxWalPages: 50 });
  thread.start();
  await until(() => autocheckpoint(s) === 0);
  const reader = new Database(s.path, { readonly: true });
  reader.run("BEGIN");
  reader.query("SELECT count(*) FROM t").get(); // a read snapshot: no checkpoint may copy past it
  commits(s, 100);
  await until(() => autocheckpoint(s) === 1000);
  reader.run("COMMIT");
  reader.close();
  commits(s, 1); // this commit checkpoints on the connection; the next starts the WAL over
  await Bun.sleep(50);
  commits(s, 1);
  await until(() => autocheckpoint(s) === 0);
  thread.stop();
  s.close();
});

test("while Litestream checkpoints, the thread runs none", async () => {
  const s = store();
  const thread = new CheckpointThread(s, { everyMs: 10 });
  s.handOverCheckpoints(true);
  thread.start();
  await Bun.sleep(100);
  commits(s, 50);
  await Bun.sleep(100);
  expect(thread.completed).toBe(0);
  expect(autocheckpoint(s)).toBe(0);
  thread.stop();
  expect(autocheckpoint(s)).toBe(0); // still Litestream's
  s.handOverCheckpoints(false);
  expect(autocheckpoint(s)).toBe(1000);
  s.close();
});
