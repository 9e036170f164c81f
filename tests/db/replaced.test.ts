import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { existsSync, renameSync, rmSync } from "node:fs";
import { startFakeUpstream } from "../fake-upstream";
import { chat, cleanUpAfterFile, cli, createKey, dbFileOf, isolatedEnv, type RunningServer, startServer, tempDir } from "../helpers";

cleanUpAfterFile();

async function health(server: RunningServer): Promise<{ code: number; body: { status: string; reasons: string[] } }> {
  const response = await fetch(`${server.url}/healthz`);
  return { code: response.status, body: (await response.json()) as { status: string; reasons: string[] } };
}

async function logShows(server: RunningServer, text: string): Promise<boolean> {
  const deadline = Date.now() + 8000;
  while (!server.log().includes(text) && Date.now() < deadline) await Bun.sleep(50);
  return server.log().includes(text);
}

test("a deleted database: the server says so loudly, /healthz answers 503, and shutdown leaves the new database a CLI created intact", async () => {
  const fake = startFakeUpstream();
  const home = tempDir();
  const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
  const server = await startServer([], env);
  expect((await chat(server.url)).status).toBe(200);
  expect((await health(server)).code).toBe(200);

  const path = dbFileOf(home);
  for (const file of [path, `${path}-wal`, `${path}-shm`]) rmSync(file, { force: true });
  const after = await health(server);
  expect(after.code).toBe(503);
  expect(after.body.status).toBe("degraded");
  // Without an admin key, the reasons name the file but not its folder.
  expect(after.body.reasons.join("\n")).toContain("the database file copilot-api.db was deleted while the server had it open: restart copilot-api");
  expect(JSON.stringify(after.body)).not.toContain(home);
  expect(await logShows(server, "This server no longer writes to it")).toBe(true);
  expect(server.log()).toContain("restart copilot-api so it opens the database now at that path");

  // A CLI run creates a new database at the path; the server writes nothing into it.
  const key = await createKey(env);
  expect((await chat(server.url)).status).toBe(200); // requests are unaffected; their events are dropped, counted
  expect((await health(server)).code).toBe(503);
  expect(await server.stop()).toBe(0);
  expect(server.log()).not.toContain("SQLITE_CORRUPT");
  fake.stop();

  const verify = await cli(["db", "verify"], env);
  expect(verify.stderr).toContain("database verified");
  const db = new Database(path, { readonly: true });
  expect(db.query("SELECT id FROM keys").all()).toEqual([{ id: key.id }]);
  expect(db.query("SELECT count(*) AS n FROM events").get()).toEqual({ n: 0 });
  db.close();
});

test("a database replaced by another file (mv over it): 503, and the server's own log is not left to shadow the new file", async () => {
  const fake = startFakeUpstream();
  const home = tempDir();
  const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
  const server = await startServer([], env);
  for (let i = 0; i < 20; i++) expect((await chat(server.url)).status).toBe(200); // frames in the server's -wal

  // Another database, closed cleanly (a single file), moved over the live one: a restore gone wrong.
  const otherHome = tempDir();
  const otherEnv = isolatedEnv(otherHome);
  const key = await createKey(otherEnv);
  const path = dbFileOf(home);
  renameSync(dbFileOf(otherHome), path);

  const after = await health(server);
  expect(after.code).toBe(503);
  expect(after.body.reasons.join("\n")).toContain("the database file copilot-api.db was replaced by another file while the server had it open"); // no folder without an admin key
  expect((await chat(server.url)).status).toBe(200);
  expect(await server.stop()).toBe(0);
  expect(server.log()).toContain("was replaced by another file");
  fake.stop();

  // What sits at the path now is the moved database, whole: none of the server's frames were applied to it.
  const db = new Database(path, { readonly: true });
  expect(db.query("PRAGMA integrity_check").all()).toEqual([{ integrity_check: "ok" }]);
  expect(db.query("SELECT id FROM keys").all()).toEqual([{ id: key.id }]);
  expect(db.query("SELECT count(*) AS n FROM events").get()).toEqual({ n: 0 });
  db.close();
});

test("the main file deleted under a running server, its -wal and -shm left: a CLI command refuses and explains, and creates no empty store in its place", async () => {
  const fake = startFakeUpstream();
  const home = tempDir();
  const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
  await createKey(env);
  const server = await startServer([], env);
  const path = dbFileOf(home);
  rmSync(path);
  const refused = await cli(["keys", "create"], env);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain(`the database file ${path} is missing but ${path}-wal and ${path}-shm are still there`);
  expect(refused.stderr).toContain("a new, empty database (with no keys) will not be created in its place");
  expect(refused.stderr).toContain("restore a backup");
  expect(refused.stderr).not.toContain("disk I/O error");
  expect(refused.stderr).not.toMatch(/\n\s+at /); // no stack trace
  expect(existsSync(path)).toBe(false);
  expect(await server.stop()).toBe(0);
  fake.stop();
});

test("/healthz names the database's folder to admin keys only: a client key or none sees the file name", async () => {
  const home = tempDir();
  const env = isolatedEnv(home);
  const admin = await createKey(env, "--tier", "admin");
  const client = await createKey(env);
  const server = await startServer([], env);
  const path = dbFileOf(home);
  for (const file of [path, `${path}-wal`, `${path}-shm`]) rmSync(file, { force: true });
  const reasons = async (secret?: string) => {
    const response = await fetch(`${server.url}/healthz`, { headers: secret ? { authorization: `Bearer ${secret}` } : {} });
    expect(response.status).toBe(503);
    return ((await response.json()) as { reasons: string[] }).reasons.join("\n");
  };
  for (const secret of [undefined, client.secret, "cpk_not_a_key"]) {
    const seen = await reasons(secret);
    expect(seen).toContain("the database file copilot-api.db was deleted while the server had it open");
    expect(seen).not.toContain(home);
  }
  expect(await reasons(admin.secret)).toContain(`the database file ${path} was deleted while the server had it open`);
  expect(await server.stop()).toBe(0);
});
