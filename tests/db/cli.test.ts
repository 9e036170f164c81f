import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { automaticBackups, backupTempName, manualBackupName } from "~/db/backup";
import type { DbStatus } from "~/db/status";
import {
  appDirOf,
  cleanUpAfterFile,
  cli,
  cliProcess,
  dbFileOf,
  type Fixture,
  isolatedEnv,
  ROOT,
  sqlite3,
  startServer,
  tempDir,
  writeMigrations,
} from "../helpers";

cleanUpAfterFile();

/** Everything the database holds, as text: the sqlite3 CLI's .dump where the machine has it, else the same read through bun:sqlite. */
function dump(file: string): string {
  const fromCli = sqlite3(file, ".dump");
  if (fromCli !== undefined) return fromCli;
  const db = new Database(file, { readonly: true });
  try {
    const parts = [`user_version ${db.query<{ user_version: number }, []>("PRAGMA user_version").get()!.user_version}`];
    for (const table of db.query<{ name: string; sql: string }, []>("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name").all()) {
      parts.push(table.sql, JSON.stringify(db.query(`SELECT * FROM "${table.name}"`).all()));
    }
    return parts.join("\n");
  } finally {
    db.close();
  }
}

const PLACEHOLDER: Fixture = { tag: "0000_placeholder", sql: "-- placeholder" };
const TICKS: Fixture = { tag: "0001_ticks", sql: "CREATE TABLE ticks (id integer PRIMARY KEY, at integer NOT NULL, payload text);" };

describe("db commands", () => {
  test("status --json reports versions, applied and pending migrations, and file modes", async () => {
    const home = tempDir();
    const dir = join(home, "migrations");
    writeMigrations(dir, [PLACEHOLDER]);
    const env = isolatedEnv(home, { COPILOT_API_MIGRATIONS_DIR: dir });
    expect((await cli(["db", "migrate"], env)).code).toBe(0);
    writeMigrations(dir, [PLACEHOLDER, TICKS]);

    const result = await cli(["db", "status", "--json"], env);
    expect(result.code).toBe(0);
    const status = JSON.parse(result.stdout) as DbStatus;
    expect(status.path).toBe(dbFileOf(home));
    expect(status.journalMode).toBe("wal");
    expect(status.sqliteVersion).toMatch(/^3\.\d+\.\d+$/);
    expect([status.schemaVersion, status.buildVersion]).toEqual([1, 2]);
    expect(status.applied.map((m) => m.tag)).toEqual(["0000_placeholder"]);
    expect(status.pending).toEqual([{ version: 2, tag: "0001_ticks", statements: 1 }]);
    expect(status.modified).toEqual([]);
    expect(status.files.find((f) => f.path === dbFileOf(home))?.mode).toBe("0600");
    expect((await cli(["db", "status"], env)).stdout).toContain("pending       1  (applied by `bun run cli db migrate` or the next start)");

    const dry = await cli(["db", "migrate", "--dry-run"], env);
    expect(dry.stdout).toContain(`would apply ${dir}/0001_ticks.sql (schema 2, 1 statements)`);
    const after = JSON.parse((await cli(["db", "status", "--json"], env)).stdout) as DbStatus;
    expect(after.schemaVersion).toBe(1); // the dry run wrote nothing
  });

  test("status names a modified migration; migrate and start refuse it with exit 1", async () => {
    const home = tempDir();
    const dir = join(home, "migrations");
    writeMigrations(dir, [PLACEHOLDER, TICKS]);
    const env = isolatedEnv(home, { COPILOT_API_MIGRATIONS_DIR: dir });
    expect((await cli(["db", "migrate"], env)).code).toBe(0);
    writeMigrations(dir, [PLACEHOLDER, { ...TICKS, sql: `${TICKS.sql}\nCREATE INDEX ticks_at ON ticks (at);` }]);

    const status = JSON.parse((await cli(["db", "status", "--json"], env)).stdout) as DbStatus;
    expect(status.modified.map((m) => m.tag)).toEqual(["0001_ticks"]);
    // The text form says what to do about it.
    expect((await cli(["db", "status"], env)).stdout).toContain("(an applied migration file changed: put it back as it was applied");
    for (const args of [
      ["db", "migrate"],
      ["start", "--port", "0"],
      ["db", "verify"],
    ]) {
      const result = await cli(args, env);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`${dir}/0001_ticks.sql`);
    }
  });

  test("a database newer than the build is refused by start, untouched", async () => {
    const home = tempDir();
    const dir = join(home, "migrations");
    writeMigrations(dir, [PLACEHOLDER, TICKS]);
    const env = isolatedEnv(home, { COPILOT_API_MIGRATIONS_DIR: dir });
    expect((await cli(["db", "migrate"], env)).code).toBe(0);
    const before = dump(dbFileOf(home));
    const olderBuild = { ...env, COPILOT_API_MIGRATIONS_DIR: writeMigrations(join(home, "older"), [PLACEHOLDER]) };
    const result = await cli(["start", "--port", "0"], olderBuild);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("database schema 2 is newer than this build (1)");
    expect(result.stderr).not.toContain("listening on");
    // status and verify say what to do about it too.
    expect((await cli(["db", "status"], olderBuild)).stdout).toContain("(NEWER THAN THIS BUILD: run the newer copilot-api that migrated it)");
    expect((await cli(["db", "verify"], olderBuild)).stderr).toContain("is newer than this build (1): run the newer copilot-api that migrated it");
    expect(dump(dbFileOf(home))).toBe(before);
  });

  test("backup while another process writes: integrity ok, 0600, every row committed before it", async () => {
    const home = tempDir();
    const env = isolatedEnv(home, { COPILOT_API_MIGRATIONS_DIR: writeMigrations(join(home, "migrations"), [PLACEHOLDER, TICKS]) });
    expect((await cli(["db", "migrate"], env)).code).toBe(0);
    const db = dbFileOf(home);
    const writer = Bun.spawn([process.execPath, join(ROOT, "tests", "fixtures", "writer.ts"), db], { stdout: "pipe", stderr: "inherit" });
    const reader = writer.stdout.getReader();
    await reader.read(); // "writing": it has committed rows and keeps going
    try {
      const live = new Database(db, { readonly: true });
      const committed = live.query<{ n: number }, []>("SELECT max(id) AS n FROM ticks").get()!.n;
      live.close();
      const out = join(home, "snap.db");
      const result = await cli(["db", "backup", "--out", out], env);
      expect(result.code).toBe(0);
      expect(result.stderr).toContain(`backup written to ${out}`);
      expect(statSync(out).mode & 0o777).toBe(0o600);

      const copy = new Database(out, { readonly: true });
      expect(copy.query("PRAGMA integrity_check").all()).toEqual([{ integrity_check: "ok" }]);
      const { n, top } = copy.query<{ n: number; top: number }, []>("SELECT count(*) AS n, max(id) AS top FROM ticks").get()!;
      copy.close();
      expect(top).toBeGreaterThanOrEqual(committed);
      expect(n).toBe(top); // ids 1..top with no gap: nothing committed before the snapshot is missing
      const again = await cli(["db", "backup", "--out", out], env);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain("backups never overwrite");
    } finally {
      writer.kill();
      await writer.exited;
    }
    // The writer was still committing after the backup: the snapshot raced real writes.
    const live = new Database(db, { readonly: true });
    expect(live.query<{ n: number }, []>("SELECT count(*) AS n FROM ticks").get()!.n).toBeGreaterThan(0);
    live.close();
  });

  test("backups with default names never take each other's name: the same millisecond gives two names; parallel runs all succeed", async () => {
    const at = new Date();
    const names = new Set(Array.from({ length: 50 }, () => manualBackupName("/data/copilot-api.db", at)));
    expect(names.size).toBe(50);
    const home = tempDir();
    const env = isolatedEnv(home);
    expect((await cli(["db", "migrate"], env)).code).toBe(0);
    const results = await Promise.all(Array.from({ length: 4 }, () => cliProcess(["db", "backup"], env)));
    for (const result of results) expect(result.stderr).toContain("backup written to");
    const written = readdirSync(appDirOf(home)).filter((f) => f.endsWith(".manual.bak"));
    expect(written).toHaveLength(4);
    expect(automaticBackups(dbFileOf(home))).toEqual([]); // manual backups are never pruned as automatic ones
  });

  test("concurrent backups to one --out: exactly one succeeds, the others fail saying the file exists", async () => {
    const home = tempDir();
    const env = isolatedEnv(home);
    expect((await cli(["db", "migrate"], env)).code).toBe(0);
    // 30 MB, so that each backup takes long enough for the others to race it.
    const raw = new Database(dbFileOf(home));
    raw.run("CREATE TABLE filler (b blob)");
    raw.run("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) INSERT INTO filler SELECT randomblob(10000) FROM n");
    raw.close();
    const out = join(home, "same.db");
    const results = await Promise.all(Array.from({ length: 6 }, () => cliProcess(["db", "backup", "--out", out], env)));
    expect(results.filter((r) => r.code === 0)).toHaveLength(1);
    for (const loser of results.filter((r) => r.code !== 0)) {
      expect(loser.code).toBe(1);
      expect(loser.stderr).toContain(`${out} already exists`);
      expect(loser.stderr).toContain("backups never overwrite");
    }
    const copy = new Database(out, { readonly: true });
    expect(copy.query("PRAGMA integrity_check").all()).toEqual([{ integrity_check: "ok" }]);
    copy.close();
    expect(readdirSync(home).filter((f) => f.includes(".tmp-"))).toEqual([]); // every loser cleaned up its temporary file
  });

  test("a backup killed halfway leaves its temp file: db status lists it, the next backup and start remove it, a running one is kept", async () => {
    const home = tempDir();
    const env = isolatedEnv(home);
    expect((await cli(["db", "migrate"], env)).code).toBe(0);
    const folder = appDirOf(home);
    const gone = Bun.spawn(["true"]);
    await gone.exited; // a pid whose process has ended, like a killed backup's
    const leftover = () => {
      const tmp = backupTempName(join(folder, `killed-${Math.random().toString(36).slice(2)}.bak`), gone.pid, Date.now() - 5000);
      writeFileSync(tmp, "SQLite format 3\0half a copy");
      writeFileSync(`${tmp}-journal`, "");
      return tmp;
    };
    const stale = leftover();
    const running = backupTempName(join(folder, "running.bak"), process.pid); // this test process is alive
    writeFileSync(running, "");

    const status = JSON.parse((await cli(["db", "status", "--json"], env)).stdout) as DbStatus;
    expect(status.backupTemps).toEqual([
      { path: stale, pid: gone.pid, stale: true },
      { path: `${stale}-journal`, pid: gone.pid, stale: true },
      { path: running, pid: process.pid, stale: false },
    ]);
    const text = await cli(["db", "status"], env);
    expect(text.stdout).toContain(`${stale}  (stale: left by a backup that did not finish; the next backup or start removes it)`);
    expect(text.stdout).toContain(`${running}  (backup in progress, pid ${process.pid})`);

    const backup = await cli(["db", "backup"], env);
    expect(backup.code).toBe(0);
    expect(backup.stderr).toContain(`removed ${stale}, left behind by a backup that did not finish (pid ${gone.pid})`);
    expect([existsSync(stale), existsSync(`${stale}-journal`), existsSync(running)]).toEqual([false, false, true]);

    const again = leftover();
    const server = await startServer([], env);
    expect(await server.stop()).toBe(0);
    expect(server.log()).toContain(`removed ${again}`);
    expect([existsSync(again), existsSync(running)]).toEqual([false, true]);
  });

  test("verify passes on a healthy database and fails, naming the problem, on a broken one", async () => {
    const home = tempDir();
    const env = isolatedEnv(home);
    expect((await cli(["db", "migrate"], env)).code).toBe(0);
    const ok = await cli(["db", "verify"], env);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toContain("database verified");

    // A table no migration created: the schema has drifted from schema.ts.
    const raw = new Database(dbFileOf(home));
    raw.run("CREATE TABLE stray (x)");
    raw.close();
    const drift = await cli(["db", "verify"], env);
    expect(drift.code).toBe(1);
    expect(drift.stderr).toContain(
      "schema drift: table stray is in the database but not declared in schema.ts (changed outside the migrations: restore a backup",
    );
  });
});
