// start opens its port once the store is open and migrated, and loads and composes the app behind it
// (src/start.ts): a request that arrives meanwhile waits and is served by the app, never refused or half-served.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { listen, ServingGate } from "~/listen";
import { type FakeUpstream, startFakeUpstream } from "./fake-upstream";
import { canConnect, cleanUpAfterFile, dbFileOf, freePort, isolatedEnv, MAIN, ROOT, tempDir } from "./helpers";

cleanUpAfterFile();

let fake: FakeUpstream;
beforeAll(() => {
  fake = startFakeUpstream();
});
afterAll(() => fake.stop());

describe("a port opened before its app is ready", () => {
  test("requests that arrive first wait, then are served by the app, bodies included; later ones go straight to it", async () => {
    const gate = new ServingGate();
    const server = listen({ port: 0, hostname: "127.0.0.1", fetch: gate.fetch });
    try {
      const url = `http://127.0.0.1:${server.port}`;
      const ask = (i: number) => fetch(`${url}/echo?i=${i}`, { method: "POST", body: `body ${i}` }).then(async (r) => [r.status, await r.text()]);
      let settled = 0;
      const early = Promise.all([1, 2, 3].map((i) => ask(i).finally(() => settled++)));
      while (server.pendingRequests < 3) await Bun.sleep(1);
      await Bun.sleep(50);
      expect(settled).toBe(0); // all three reached the server, none was answered
      gate.open(async (request) => new Response(`app ${new URL(request.url).search} ${await request.text()}`));
      expect(await early).toEqual([
        [200, "app ?i=1 body 1"],
        [200, "app ?i=2 body 2"],
        [200, "app ?i=3 body 3"],
      ]);
      expect(await ask(4)).toEqual([200, "app ?i=4 body 4"]);
    } finally {
      server.stop(true);
    }
  });

  // More at once than the app lets one address send bodies at once (16): waiting is not sending.
  test("a real start: 48 chat requests sent the moment the port accepts connections are all answered by the app", async () => {
    const home = tempDir();
    const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
    const migrate = Bun.spawnSync([process.execPath, MAIN, "db", "migrate"], { cwd: ROOT, env });
    expect(migrate.exitCode).toBe(0);
    const port = freePort();
    const proc = Bun.spawn([process.execPath, MAIN, "start", "--port", String(port)], { cwd: ROOT, env, stdout: "ignore", stderr: "pipe" });
    const log = new Response(proc.stderr).text();
    try {
      while (!(await canConnect(port))) {
        expect(proc.exitCode).toBeNull();
        await Bun.sleep(1);
      }
      const chat = () =>
        fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model: "gpt-4.1", messages: [{ role: "user", content: "hi" }] }),
        }).then(async (r) => [r.status, ((await r.json()) as { object?: string }).object]);
      const answers = await Promise.all(Array.from({ length: 48 }, chat));
      expect(answers).toEqual(Array.from({ length: 48 }, () => [200, "chat.completion"]));
    } finally {
      proc.kill("SIGTERM");
    }
    expect(await proc.exited).toBe(0);
    const text = await log;
    // Said as before the port opened early: the key policy, then "listening on" (the last word of a ready boot), then the dashboard.
    expect(text.indexOf("no API key yet")).toBeGreaterThan(-1);
    expect(text.indexOf("listening on")).toBeGreaterThan(text.indexOf("no API key yet"));
    expect(text.indexOf("dashboard: http")).toBeGreaterThan(text.indexOf("listening on"));
    expect(text).toContain("stopped cleanly");
  });

  test("a stop asked the moment the port opens (the app still loading behind it) is a clean stop: exit 0, the store closed", async () => {
    const home = tempDir();
    const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
    expect(Bun.spawnSync([process.execPath, MAIN, "db", "migrate"], { cwd: ROOT, env }).exitCode).toBe(0);
    const port = freePort();
    const proc = Bun.spawn([process.execPath, MAIN, "start", "--port", String(port)], { cwd: ROOT, env, stdout: "ignore", stderr: "pipe" });
    const log = new Response(proc.stderr).text();
    while (!(await canConnect(port))) {
      expect(proc.exitCode).toBeNull();
      await Bun.sleep(1);
    }
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    expect(await log).toContain("stopped cleanly");
    // The WAL was checkpointed and truncated on the way out: the store was closed, not abandoned.
    const wal = `${dbFileOf(home)}-wal`;
    expect(!existsSync(wal) || statSync(wal).size === 0).toBe(true);
  });
});
