// Continuous replication with the real Litestream binary (@flydotio/litestream) to a
// file:// replica: keys and events under load, a restore on "another machine" (another
// folder, from a copy of the replica), a restored store that boots and serves, and a
// replica that survives the gateway's restarts and a migration.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { openStore, readReplicationStatus } from "~/db";
import type { DbStatus } from "~/db/status";
import { findLitestream } from "~/features/replication";
import { type FakeUpstream, startFakeUpstream } from "../fake-upstream";
import {
  appMigrations,
  chat,
  cleanUpAfterFile,
  cli,
  cliProcess,
  createKeyByCli,
  dbFileOf,
  isolatedEnv,
  rows,
  startProcess,
  tempDir,
  writeMigrations,
} from "../helpers";

cleanUpAfterFile();

/** The interval Litestream is configured with (DEFAULT_SYNC_INTERVAL_MS): the replica trails the database by at most about this much. */
const SYNC_INTERVAL_MS = 1000;
const SLOW = 120_000;

let fake: FakeUpstream;
beforeAll(() => {
  fake = startFakeUpstream();
});
afterAll(() => fake.stop());

const keyIds = (file: string) => rows<{ id: string }>(file, "SELECT id FROM keys ORDER BY id").map((r) => r.id);

async function status(env: Record<string, string>): Promise<DbStatus> {
  const result = await cliProcess(["db", "status", "--json"], env);
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as DbStatus;
}

/** What the server last wrote of Litestream's state: read in-process, as `db status` reads it, without a CLI child per poll. */
const replicationOf = (env: Record<string, string>) => readReplicationStatus(dbFileOf(env.HOME!));

/**
 * Waits until Litestream has synced after `since` (ms), then returns what `db status` says: pass
 * the time of the write to wait for (a key's createdAt), not the time the CLI that wrote it
 * returned, which a sync of that very write may already precede on a busy machine.
 */
async function syncedAfter(env: Record<string, string>, since: number): Promise<DbStatus> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = replicationOf(env);
    if (r?.lastSyncAt && Date.parse(r.lastSyncAt) > since) break;
    if (Date.now() > deadline) throw new Error(`no sync after ${new Date(since).toISOString()}: ${JSON.stringify(r)}`);
    await Bun.sleep(100);
  }
  const s = await status(env);
  expect(Date.parse(s.replication!.lastSyncAt!)).toBeGreaterThan(since);
  return s;
}

async function restore(env: Record<string, string>, from: string, to: string, ...extra: string[]) {
  return cliProcess(["db", "restore", "--from", from, "--to", to, ...extra], env);
}

test("the Litestream binary comes from the npm package @flydotio/litestream", () => {
  const binary = findLitestream({});
  expect(binary).toContain(join("node_modules", "@flydotio", `litestream-${process.platform}-${process.arch}`));
  expect(Bun.spawnSync([binary, "version"]).stdout.toString()).toStartWith("v0.3.");
});

describe("replicating under load", () => {
  test(
    "a restore from a copy of the replica holds every key and event committed a sync interval before the copy, and boots and serves with those keys",
    async () => {
      const home = tempDir();
      const replica = join(tempDir("copilot-api-replica-"), "replica");
      const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken, COPILOT_API_REPLICATE_TO: `file://${replica}` });
      const first = await createKeyByCli(env, "--rate-limit", "100000");
      const server = await startProcess([], env);
      expect(server.log()).toContain("replicating to file://");

      const keysAt: { id: string; at: number }[] = [{ id: first.id, at: Date.now() }];
      const answeredAt: number[] = [];
      let loading = true;
      const client = async () => {
        while (loading) {
          const response = await chat(server.url, {}, { authorization: `Bearer ${first.secret}` });
          await response.text();
          expect(response.status).toBe(200);
          answeredAt.push(Date.now());
        }
      };
      const keyMaker = async () => {
        while (loading) {
          const key = await createKeyByCli(env, "--label", "under-load");
          keysAt.push({ id: key.id, at: Date.now() });
        }
      };
      const load = Promise.all([...Array.from({ length: 8 }, client), keyMaker()]);

      await Bun.sleep(SYNC_INTERVAL_MS);
      // What an operator does meanwhile: Litestream's own tables are no drift, and a backup reads beside it.
      const verified = await cliProcess(["db", "verify"], env);
      expect(verified.stderr).toContain("database verified");
      expect((await cliProcess(["db", "backup", "--out", join(home, "manual.bak")], env)).code).toBe(0);
      await Bun.sleep(SYNC_INTERVAL_MS);
      // "Another machine": what the replica held at this moment, copied away while the load goes on.
      const copiedAt = Date.now();
      const elsewhere = join(tempDir("copilot-api-elsewhere-"), "replica-copy");
      // Litestream's half-written *.tmp files come and go while it runs: not part of the replica (a copy that met one failed).
      cpSync(replica, elsewhere, { recursive: true, filter: (src) => !src.endsWith(".tmp") });
      await Bun.sleep(SYNC_INTERVAL_MS);
      loading = false;
      await load;

      const before = copiedAt - SYNC_INTERVAL_MS;
      const keysBefore = keysAt.filter((k) => k.at < before).map((k) => k.id);
      const answersBefore = answeredAt.filter((at) => at < before).length;
      expect(keysBefore.length).toBeGreaterThan(1);
      expect(answersBefore).toBeGreaterThan(50);

      const otherHome = tempDir();
      const restored = join(otherHome, "restored", "copilot-api.db");
      const result = await restore(isolatedEnv(otherHome), `file://${elsewhere}`, restored);
      expect(result.stderr).toContain("restored to");
      expect(result.code).toBe(0);

      expect(keyIds(restored)).toEqual(expect.arrayContaining(keysBefore));
      // The restored store says, once, who restored it and from where.
      const restores = rows<{ actor_kind: string; actor: string; target: string; after: string }>(
        restored,
        "SELECT actor_kind, actor, target, after FROM audit_log WHERE action = 'db.restore'",
      );
      expect(restores).toEqual([{ actor_kind: "cli", actor: userInfo().username, target: restored, after: expect.any(String) }]);
      expect(JSON.parse(restores[0]!.after)).toEqual({ from: `file://${elsewhere}`, timestamp: null });
      const events = rows<{ n: number; max: number | null }>(restored, "SELECT count(*) AS n, max(id) AS max FROM events")[0]!;
      // Events are written in id order by one writer: the restored ones are a prefix, holding every answer given before.
      expect(events.n).toBe(events.max ?? 0);
      expect(events.n).toBeGreaterThanOrEqual(answersBefore);

      expect(await server.stop()).toBe(0);
      // Nothing above made Litestream lose its place: one generation for the whole run.
      const generations = Bun.spawnSync([findLitestream({}), "generations", `file://${replica}`])
        .stdout.toString()
        .trim()
        .split("\n");
      expect(generations).toHaveLength(2); // the header and one generation

      // The restored store boots on the other machine and serves the same keys.
      const otherEnv = isolatedEnv(otherHome, { ...fake.env(), GH_TOKEN: fake.githubToken });
      const other = await startProcess(["--db-path", restored], otherEnv);
      const ask = (secret: string) => fetch(`${other.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
      expect((await ask(first.secret)).status).toBe(200);
      expect((await ask("cpk_not_a_key")).status).toBe(401);
      expect(await other.stop()).toBe(0);
    },
    SLOW,
  );

  test(
    "SIGTERM: the final event flush reaches the replica before Litestream stops; db status shows the sync; restore never overwrites",
    async () => {
      const home = tempDir();
      const replica = join(tempDir("copilot-api-replica-"), "replica");
      const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
      const key = await createKeyByCli(env);
      const server = await startProcess(["--replicate-to", `file://${replica}`], env);
      const synced = await syncedAfter(env, 0);
      expect(synced.replication).toMatchObject({ replica: `file://${replica}`, live: true, running: true, restarts: 0 });
      expect(synced.replication?.lagMs).toBeGreaterThanOrEqual(0);
      const litestreamPid = synced.replication!.pid!;

      const answers = await Promise.all(
        Array.from({ length: 20 }, () => chat(server.url, {}, { authorization: `Bearer ${key.secret}` }).then((r) => r.status)),
      );
      expect(answers.every((s) => s === 200)).toBe(true);
      // At once: the events are still on their way to the replica when the server is told to stop.
      expect(await server.stop()).toBe(0);
      expect(existsSync(`/proc/${litestreamPid}`)).toBe(false);
      const after = await status(env);
      expect(after.replication).toMatchObject({ running: false, live: false });

      const live = dbFileOf(home);
      const total = rows<{ n: number }>(live, "SELECT count(*) AS n FROM events")[0]!.n;
      expect(total).toBe(20);
      const restored = join(tempDir(), "r.db");
      expect((await restore(env, `file://${replica}`, restored)).code).toBe(0);
      expect(rows<{ n: number }>(restored, "SELECT count(*) AS n FROM events")[0]!.n).toBe(total);

      // Never over a database, the live one least of all.
      const bytes = readFileSync(live);
      const refused = await restore(env, `file://${replica}`, live);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("already exists; a restore never overwrites a database");
      expect(readFileSync(live).equals(bytes)).toBe(true);
    },
    SLOW,
  );

  test(
    "Litestream killed under the server is restarted, and replication goes on",
    async () => {
      const home = tempDir();
      const replica = join(tempDir("copilot-api-replica-"), "replica");
      const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
      const server = await startProcess(["--replicate-to", `file://${replica}`], env);
      const first = await syncedAfter(env, 0);
      process.kill(first.replication!.pid!, "SIGKILL");
      const deadline = Date.now() + 20_000;
      const restarted = () => {
        const r = replicationOf(env);
        return r?.restarts === 1 && r.running && r.pid !== first.replication!.pid;
      };
      while (!restarted() && Date.now() < deadline) await Bun.sleep(100);
      const now = await status(env);
      expect(now.replication).toMatchObject({ restarts: 1, running: true, live: true });
      // Why it restarted is in the log; the state file's lastError may already be the new Litestream's first warning.
      expect(server.log()).toMatch(/replication: litestream exited with code \S+.*; restarting it in/);
      const key = await createKeyByCli(env);
      await syncedAfter(env, key.createdAt);
      expect(await server.stop()).toBe(0);
      const restored = join(tempDir(), "r.db");
      expect((await restore(env, `file://${replica}`, restored)).code).toBe(0);
      expect(keyIds(restored)).toContain(key.id);
    },
    SLOW,
  );
});

describe("a replica across restarts and migrations", () => {
  test(
    "keys from before a restart and from after a fixture migration restore; a --timestamp in the run before the migration restores that run's keys and schema",
    async () => {
      const home = tempDir();
      const replica = join(tempDir("copilot-api-replica-"), "replica");
      const folder = join(tempDir("copilot-api-migrations-"), "drizzle");
      const base = appMigrations();
      writeMigrations(folder, base);
      const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken, COPILOT_API_MIGRATIONS_DIR: folder });
      const args = ["--replicate-to", `file://${replica}`];

      let server = await startProcess(args, env);
      const k1 = await createKeyByCli(env);
      await syncedAfter(env, k1.createdAt);
      expect(await server.stop()).toBe(0);

      server = await startProcess(args, env);
      const k2 = await createKeyByCli(env);
      await syncedAfter(env, k2.createdAt);
      // A point in time inside this run's generation (Litestream restores a time only from within one).
      await Bun.sleep(200);
      const pointInTime = new Date();
      await Bun.sleep(200);
      const k2later = await createKeyByCli(env);
      await syncedAfter(env, k2later.createdAt);
      expect(await server.stop()).toBe(0);

      writeMigrations(folder, [...base, { tag: "9999_replication_probe", sql: "CREATE TABLE `replication_probe` (`id` integer PRIMARY KEY NOT NULL);" }]);
      server = await startProcess(args, env);
      expect(server.log()).toMatch(/applied \S*9999_replication_probe\.sql \(schema \d+\)/);
      const k3 = await createKeyByCli(env);
      await syncedAfter(env, k3.createdAt);
      expect(await server.stop()).toBe(0);

      const latest = join(tempDir(), "latest.db");
      const restoredLatest = await restore(env, `file://${replica}`, latest);
      expect(restoredLatest.stderr).toContain(`schema ${base.length + 1} of ${base.length + 1}`);
      expect(keyIds(latest)).toEqual([k1.id, k2.id, k2later.id, k3.id].sort());
      expect(rows<{ name: string }>(latest, "SELECT name FROM sqlite_schema WHERE name = 'replication_probe'")).toHaveLength(1);

      const older = join(tempDir(), "older.db");
      const restoredOlder = await restore(env, `file://${replica}`, older, "--timestamp", pointInTime.toISOString());
      expect(restoredOlder.stderr).toContain("restored to");
      expect(restoredOlder.code).toBe(0);
      expect(keyIds(older)).toEqual([k1.id, k2.id].sort());
      expect(rows(older, "SELECT name FROM sqlite_schema WHERE name = 'replication_probe'")).toHaveLength(0);
    },
    SLOW,
  );
});

describe("the gateway's WAL management while Litestream replicates", () => {
  test("a CLI command on a replicated database leaves the WAL to Litestream instead of waiting out its read transaction to truncate it", async () => {
    const home = tempDir();
    const env = isolatedEnv(home);
    await createKeyByCli(env);
    const file = dbFileOf(home);
    // Litestream's folder beside the database says it is Litestream's to checkpoint.
    mkdirSync(join(home, "data", "copilot-api", ".copilot-api.db-litestream"));
    // Another process holds a read transaction, as Litestream always does (it lets go only to checkpoint),
    // until a second key shows up: then a closing TRUNCATE (waiting for it, or not yet started) would empty
    // the WAL Litestream has not copied yet. No race with how fast the CLI starts on a loaded machine.
    const holder = Bun.spawn(
      [
        process.execPath,
        "-e",
        `const { Database } = require("bun:sqlite"); const db = new Database(${JSON.stringify(file)});
         db.run("BEGIN"); db.query("SELECT count(*) FROM keys").get(); console.log("holding");
         const poll = new Database(${JSON.stringify(file)});
         while (poll.query("SELECT count(*) AS n FROM keys").get().n < 2) await Bun.sleep(5);
         poll.close(); db.run("ROLLBACK"); console.log("released"); await Bun.sleep(60000);`,
      ],
      { stdout: "pipe", stderr: "inherit" },
    );
    try {
      const lines = holder.stdout.pipeThrough(new TextDecoderStream()).getReader();
      expect((await lines.read()).value).toContain("holding");
      // In this process: a child's start costs CPU for nothing here.
      expect((await cli(["keys", "create"], env)).code).toBe(0);
      expect((await lines.read()).value).toContain("released");
      expect(statSync(`${file}-wal`).size).toBeGreaterThan(0);
    } finally {
      // Killed, not closed: its close would fold the WAL as the last connection.
      holder.kill("SIGKILL");
      await holder.exited;
    }
  });

  test("the server hands its autocheckpoint to Litestream while it runs and takes it back", () => {
    const store = openStore({ path: join(tempDir(), "a.db") });
    const autocheckpoint = () => store.sqlite.query<{ wal_autocheckpoint: number }, []>("PRAGMA wal_autocheckpoint").get()!.wal_autocheckpoint;
    try {
      expect(autocheckpoint()).toBe(1000);
      store.handOverCheckpoints(true);
      expect(autocheckpoint()).toBe(0);
      store.handOverCheckpoints(false);
      expect(autocheckpoint()).toBe(1000);
    } finally {
      store.close();
    }
  });

  test("a replica URL that carries a password, or is not one Litestream knows, stops start before any port opens", async () => {
    const home = tempDir();
    for (const [url, said] of [
      ["sftp://me:hunter2@host/path", "carries a password"],
      ["ftp://host/path", "cannot replicate to ftp://"],
      ["file://relative", "names no local folder"],
    ] as const) {
      const result = await cliProcess(["start", "--port", "0", "--replicate-to", url], isolatedEnv(home));
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(said);
      expect(result.stderr).toContain("what to do:");
      expect(result.stderr).not.toContain("hunter2");
      expect(result.stderr).not.toContain("listening on");
    }
  });
});
