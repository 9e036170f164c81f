// Every way a running server is asked to stop ends in the same clean stop, with no
// child left behind: SIGHUP (a closing terminal, forwarded by the launcher) like
// SIGTERM, and the launcher dying of a signal it cannot forward (SIGKILL).
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { readReplicationStatus } from "~/db";
import { type FakeUpstream, startFakeUpstream } from "./fake-upstream";
import { cleanUpAfterFile, createKey, dbFileOf, isolatedEnv, ROOT, startProcess, tempDir } from "./helpers";

cleanUpAfterFile();

let fake: FakeUpstream;
beforeAll(() => {
  fake = startFakeUpstream();
});
afterAll(() => fake.stop());

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const chat = (url: string, secret: string) =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }),
  });

const eventCount = (file: string) => {
  const db = new Database(file, { readonly: true });
  try {
    return db.query<{ n: number }, []>("SELECT count(*) AS n FROM events").get()!.n;
  } finally {
    db.close();
  }
};

test("SIGHUP stops the server cleanly: exit 0, the last event written, and its Litestream stopped, not orphaned", async () => {
  const home = tempDir();
  const replica = join(tempDir("copilot-api-replica-"), "replica");
  const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken, COPILOT_API_REPLICATE_TO: `file://${replica}` });
  const key = await createKey(env);
  const server = await startProcess([], env);
  let litestream: number | undefined;
  for (let i = 0; i < 400 && !litestream; i++) {
    litestream = readReplicationStatus(dbFileOf(home))?.pid;
    await Bun.sleep(25);
  }
  expect(litestream).toBeGreaterThan(0);
  expect((await chat(server.url, key.secret)).status).toBe(200);

  server.proc.kill("SIGHUP");
  expect(await server.proc.exited).toBe(0);
  expect(server.log()).toContain("SIGHUP: stopping");
  expect(server.log()).toContain("stopped cleanly");
  expect(alive(litestream!)).toBe(false);
  expect(eventCount(dbFileOf(home))).toBe(1);
}, 60_000);

test("a launcher killed outright (SIGKILL, which it cannot forward) leaves no server behind: the server stops cleanly by itself", async () => {
  // The package's layout: bin/copilot-api.mjs beside dist/copilot-api.js and package.json.
  const root = tempDir("copilot-api-package-");
  mkdirSync(join(root, "bin"));
  copyFileSync(join(ROOT, "bin", "copilot-api.mjs"), join(root, "bin", "copilot-api.mjs"));
  copyFileSync(join(ROOT, "package.json"), join(root, "package.json"));
  const build = Bun.spawnSync([process.execPath, "build", join(ROOT, "src", "main.ts"), "--target", "bun", "--outfile", join(root, "dist", "copilot-api.js")], {
    cwd: ROOT,
  });
  expect(build.exitCode).toBe(0);
  const node = Bun.which("node");
  if (!node) throw new Error("this test needs node on PATH: the launcher is a Node script");

  const home = tempDir();
  const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken, COPILOT_API_BUN: process.execPath });
  const server = await startProcess([], env, { cmd: [node, join(root, "bin", "copilot-api.mjs")], cwd: root });
  expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

  server.proc.kill("SIGKILL");
  await server.proc.exited;
  // The server (the launcher's child) shares the launcher's stderr, which this test still reads.
  const deadline = Date.now() + 20_000;
  while (!server.log().includes("stopped cleanly") && Date.now() < deadline) await Bun.sleep(50);
  expect(server.log()).toContain("launcher gone: stopping");
  expect(server.log()).toContain("stopped cleanly");
  const probe = await fetch(`${server.url}/healthz`).then(
    () => "answered",
    () => "refused",
  );
  expect(probe).toBe("refused");
}, 90_000);

test("Ctrl-C with a stream open says it waits and for how long; a second Ctrl-C stops at once, the stream's event still written", async () => {
  const home = tempDir();
  const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
  const key = await createKey(env);
  const server = await startProcess([], env);
  const response = await fetch(`${server.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key.secret}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "endless", stream: true, messages: [{ role: "user", content: "hi" }] }),
  });
  const reader = response.body!.getReader();
  await reader.read(); // the stream is open and flowing
  const reading = (async () => {
    try {
      while (!(await reader.read()).done);
    } catch {
      // cut by the server's stop: expected
    }
  })();

  server.proc.kill("SIGINT");
  const waiting = "waiting up to 5 s for 1 request(s) in flight; Ctrl-C again to stop now";
  for (let i = 0; i < 200 && !server.log().includes(waiting); i++) await Bun.sleep(25);
  expect(server.log()).toContain(waiting);
  expect(server.proc.exitCode).toBeNull(); // still draining

  server.proc.kill("SIGINT");
  expect(await server.proc.exited).toBe(0);
  await reading;
  expect(server.log()).toContain("SIGINT again: stopping now, cutting 1 request(s) in flight");
  expect(server.log()).toContain("stopped cleanly");
  const db = new Database(dbFileOf(home), { readonly: true });
  try {
    expect(db.query<{ model: string; error: string }, []>("SELECT model, error FROM events").all()).toEqual([{ model: "endless", error: "client_aborted" }]);
  } finally {
    db.close();
  }
}, 60_000);
