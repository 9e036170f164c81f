import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadMigrations } from "~/db/migrations";
import {
  appDirOf,
  appMigrations,
  canConnect,
  cleanUpAfterFile,
  dbFileOf,
  type Fixture,
  freePort,
  isolatedEnv,
  MAIN,
  ROOT,
  sqlite3,
  startProcess,
  tempDir,
  writeMigrations,
} from "./helpers";

cleanUpAfterFile();

// Servers really start on these folders, so they begin with the app's own migrations.
const APP = appMigrations();
const mode = (path: string) => statSync(path).mode & 0o777;

/** The tables committed in a database file, read by a connection of this test's own. */
function migratedTables(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return db
      .query<{ name: string }, []>("SELECT name FROM sqlite_schema WHERE type = 'table'")
      .all()
      .map((row) => row.name);
  } finally {
    db.close();
  }
}

describe("boot", () => {
  test("start on an empty data folder creates a WAL database, files 0600, folder 0700, and serves /healthz", async () => {
    const home = tempDir();
    const server = await startProcess([], isolatedEnv(home));
    const db = dbFileOf(home);
    expect(mode(appDirOf(home))).toBe(0o700);
    for (const file of [db, `${db}-wal`, `${db}-shm`]) expect(mode(file)).toBe(0o600);

    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok", eventsDropped: 0, eventsNotStored: 0, reasons: [], windows: [] });
    const missing = await fetch(`${server.url}/nope`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");

    expect(await server.stop()).toBe(0);
    expect(server.log()).toContain("stopped cleanly");
    // The WAL was checkpointed and truncated on the way out.
    expect(!existsSync(`${db}-wal`) || statSync(`${db}-wal`).size === 0).toBe(true);

    const check = new Database(db, { readonly: true });
    expect(check.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    expect(check.query("PRAGMA user_version").get()).toEqual({ user_version: loadMigrations({}).length });
    check.close();
    // Header bytes 18 and 19 (write and read format) are 2 for a WAL database.
    const header = readFileSync(db).subarray(18, 20);
    expect([...header]).toEqual([2, 2]);
    // And the sqlite3 command-line tool, where the machine has it, agrees.
    const cliAnswer = sqlite3(db, "PRAGMA journal_mode;");
    if (cliAnswer !== undefined) expect(cliAnswer.trim()).toBe("wal");
  });

  test("no port is bound while a migration runs; it is bound once migrations finish", async () => {
    const home = tempDir();
    const slow: Fixture = {
      tag: "0100_slow",
      sql: "CREATE TABLE slow AS SELECT count(*) AS n FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT x FROM c);",
    };
    const migrations = writeMigrations(join(home, "migrations"), [...APP, slow]);
    const port = freePort();
    const env = isolatedEnv(home, { COPILOT_API_MIGRATIONS_DIR: migrations });
    const proc = Bun.spawn([process.execPath, MAIN, "start", "--port", String(port)], { cwd: ROOT, env, stderr: "pipe", stdout: "ignore" });
    let log = "";
    const pump = (async () => {
      for await (const chunk of proc.stderr) log += new TextDecoder().decode(chunk);
    })();
    while (!log.includes(`applying ${migrations}/0100_slow.sql`)) {
      expect(proc.exitCode).toBeNull();
      await Bun.sleep(5);
    }
    let probes = 0;
    while (!log.includes(`0100_slow.sql (schema ${APP.length + 1})`)) {
      // The port may open the moment the migration commits, before its log line reaches this test:
      // a port that answers is right only if the migration is already in the file.
      if (await canConnect(port)) {
        expect(migratedTables(dbFileOf(home))).toContain("slow");
        break;
      }
      probes += 1;
      await Bun.sleep(20);
    }
    expect(probes).toBeGreaterThan(3); // the probes really ran during the migration
    while (!log.includes("listening on")) await Bun.sleep(10);
    expect(await canConnect(port)).toBe(true);
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    await pump;
  });

  test("a failing migration exits non-zero, names the file, never binds the port, and leaves the schema as it was", async () => {
    const home = tempDir();
    const good: Fixture = { tag: "0100_good", sql: "CREATE TABLE good (id integer);" };
    const bad: Fixture = { tag: "0101_bad", sql: "CREATE TABLE half (id integer);\n--> statement-breakpoint\nINSERT INTO missing VALUES (1);" };
    const port = freePort();
    const env = isolatedEnv(home, { COPILOT_API_MIGRATIONS_DIR: writeMigrations(join(home, "migrations"), [...APP, good, bad]) });
    const proc = Bun.spawn([process.execPath, MAIN, "start", "--port", String(port)], { cwd: ROOT, env, stderr: "pipe", stdout: "ignore" });
    const stderr = new Response(proc.stderr).text();
    let bound = false;
    while (proc.exitCode === null) {
      bound ||= await canConnect(port);
      await Bun.sleep(5);
    }
    expect(await proc.exited).not.toBe(0);
    expect(bound).toBe(false);
    const text = await stderr;
    expect(text).toContain("0101_bad.sql failed at statement 2 (line 3): no such table: missing");
    expect(text).not.toContain("listening on");

    const db = new Database(dbFileOf(home), { readonly: true });
    expect(db.query("PRAGMA user_version").get()).toEqual({ user_version: APP.length + 1 });
    expect(db.query("SELECT name FROM sqlite_schema WHERE name = 'half'").all()).toEqual([]);
    expect(db.query("SELECT max(version) AS v, count(*) AS n FROM _migrations").get()).toEqual({ v: APP.length + 1, n: APP.length + 1 });
    db.close();
  });

  test("8 processes booting at once on one empty folder all succeed, and each migration is applied once", async () => {
    const home = tempDir();
    const fixtures: Fixture[] = [
      ...APP,
      { tag: "0100_boots", sql: "CREATE TABLE boots (id integer PRIMARY KEY, pid integer);" },
      { tag: "0101_count", sql: "INSERT INTO boots (pid) VALUES (1);" },
      { tag: "0102_more", sql: "ALTER TABLE boots ADD COLUMN note text;\n--> statement-breakpoint\nINSERT INTO boots (pid, note) VALUES (2, 'once');" },
    ];
    const env = isolatedEnv(home, { COPILOT_API_MIGRATIONS_DIR: writeMigrations(join(home, "migrations"), fixtures) });
    const servers = await Promise.all(Array.from({ length: 8 }, () => startProcess([], env)));
    const codes = await Promise.all(servers.map((s) => s.stop()));
    expect(codes).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    // Every migration was applied by exactly one of them.
    const applied = servers.flatMap((s) => [...s.log().matchAll(/applied \S+\/(\d{4}_\w+)\.sql/g)].map((m) => m[1]));
    expect(applied.sort()).toEqual(fixtures.map((f) => f.tag));

    const db = new Database(dbFileOf(home), { readonly: true });
    expect(db.query("PRAGMA user_version").get()).toEqual({ user_version: fixtures.length });
    expect(db.query("SELECT count(*) AS n FROM _migrations").get()).toEqual({ n: fixtures.length });
    expect(db.query("SELECT pid, note FROM boots ORDER BY id").all()).toEqual([
      { pid: 1, note: null },
      { pid: 2, note: "once" },
    ]);
    db.close();
  }, 60_000);

  test("a port already in use is a clear error, and the database is closed cleanly", async () => {
    const home = tempDir();
    const first = await startProcess([], isolatedEnv(home));
    const port = new URL(first.url).port;
    const second = Bun.spawn([process.execPath, MAIN, "start", "--port", port], { cwd: ROOT, env: isolatedEnv(home), stderr: "pipe", stdout: "ignore" });
    const text = await new Response(second.stderr).text();
    expect(await second.exited).toBe(1);
    expect(text).toContain(`cannot listen on 127.0.0.1:${port}`);
    expect(text).toContain("pick another --port or --host");
    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
    expect(await first.stop()).toBe(0);
  });
});
