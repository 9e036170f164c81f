import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadMigrations } from "~/db/migrations";
import type { DbStatus } from "~/db/status";
import { cleanUpAfterFile, holdingDist, isolatedEnv, ROOT, startProcess, tempDir } from "./helpers";

cleanUpAfterFile();

/** Runs a built artifact from a folder that has no drizzle/ next to it. */
async function run(cmd: string[], env: Record<string, string>, cwd: string) {
  const proc = Bun.spawn([...cmd], { cwd, env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

const builds: [string, string, string[]][] = [
  ["the bundled build", "build", [process.execPath, join(ROOT, "dist", "copilot-api.js")]],
  ["the compiled binary", "compile", [join(ROOT, "dist", "copilot-api")]],
];

describe.each(builds)("%s", (_name, script, cmd) => {
  test("started from another working folder, migrates a fresh database with every migration of drizzle/", () =>
    holdingDist(async () => {
      const built = Bun.spawnSync([process.execPath, "run", script], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
      expect(built.exitCode).toBe(0);

      const home = tempDir();
      const elsewhere = tempDir("copilot-api-cwd-");
      const env = isolatedEnv(home);
      const server = await startProcess([], env, { cmd, cwd: elsewhere });
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      // count_tokens runs on a thread that loads the bundle (or the binary) itself.
      const count = await fetch(`${server.url}/v1/messages/count_tokens`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "claude-sonnet-4", messages: [{ role: "user", content: "Hello, world!" }] }),
      });
      expect(await count.json()).toEqual({ input_tokens: 7 });
      // The dashboard's assets are inlined the same way (uPlot included): nothing read from disk, no CDN.
      const login = await (await fetch(`${server.url}/dashboard/login`)).text();
      const asset = login.match(/src="(\/dashboard\/assets\/dashboard\.js\?v=[0-9a-f]+)"/)?.[1];
      expect(asset).toBeDefined();
      expect(await (await fetch(`${server.url}${asset}`)).text()).toContain("data-autosubmit");
      expect(await (await fetch(`${server.url}/dashboard/assets/uplot.js`)).text()).toContain("uPlot");
      expect(await server.stop()).toBe(0);

      const status = await run([...cmd, "db", "status", "--json"], env, elsewhere);
      expect(status.code).toBe(0);
      const parsed = JSON.parse(status.stdout) as DbStatus;
      const carried = loadMigrations({});
      expect(parsed.buildVersion).toBe(carried.length);
      expect(parsed.schemaVersion).toBe(carried.length);
      expect(parsed.applied.map((m) => m.tag)).toEqual(carried.map((m) => m.tag));
      expect(parsed.pending).toEqual([]);
    }));
});

describe("the bundled build is split", () => {
  test("the entry holds no command's code: start, the CLI commands, the dashboard and the tokenizer are chunks loaded on first use", () =>
    holdingDist(() => {
      const built = Bun.spawnSync([process.execPath, "run", "build"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
      expect(built.exitCode).toBe(0);
      const dist = join(ROOT, "dist");
      const chunks = readdirSync(join(dist, "chunks"));
      const holding = (text: string) => chunks.filter((name) => readFileSync(join(dist, "chunks", name), "utf8").includes(text));
      const entry = readFileSync(join(dist, "copilot-api.js"), "utf8");
      // Markers: the tokenizer's encoding, the dashboard's sign-in page, the server's listening line.
      for (const marker of ["o200k_base", "Paste an admin key of this server", "listening on http://"]) {
        expect(entry).not.toContain(marker);
        expect(holding(marker).length).toBeGreaterThan(0);
      }
      // The tokenizer's ranks (3 MB) are a chunk of their own, apart from the server's.
      expect(chunks.some((name) => name.startsWith("o200k_base-"))).toBe(true);
    }));
});
