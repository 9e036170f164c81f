// The package the way a user meets it: `npm pack`, then `npm install <tarball>` into an
// empty folder on a PATH that has Node and npm but no Bun, then `npx copilot-api …`.
// The npm registry is reached for the package's dependencies (the `bun` and
// `@flydotio/litestream` binaries); npm's cache makes a second run take a few seconds.
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { main } from "~/commands";
import { loadMigrations } from "~/db/migrations";
import type { DbStatus } from "~/db/status";
import { cleanUpAfterFile, dbFileOf, holdingDist, isolatedEnv, ROOT, startProcess, tempDir } from "../helpers";

cleanUpAfterFile();

const SLOW = 240_000;
let installed = "";
let nodeOnlyPath = "";

/** A PATH whose one folder links every program the machine's PATH has, except bun and bunx. */
function pathWithoutBun(): string {
  const dir = tempDir("copilot-api-nobun-");
  for (const folder of (process.env.PATH ?? "").split(delimiter)) {
    if (!folder || !existsSync(folder) || !statSync(folder).isDirectory()) continue;
    for (const name of readdirSync(folder)) {
      if (name === "bun" || name === "bunx" || existsSync(join(dir, name))) continue;
      symlinkSync(join(folder, name), join(dir, name));
    }
  }
  return dir;
}

/** The environment of someone who has Node only: no Bun on PATH, no npm_* variables of the runner. */
function userEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  const env = isolatedEnv(home, { PATH: nodeOnlyPath, npm_config_cache: join(process.env.HOME ?? home, ".npm"), ...extra });
  for (const name of Object.keys(env)) if (/^(npm_(?!config_cache$)|BUN_)/i.test(name)) delete env[name];
  return env;
}

async function run(cmd: string[], env: Record<string, string>, cwd: string) {
  const proc = Bun.spawn(cmd, { cwd, env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

beforeAll(async () => {
  nodeOnlyPath = pathWithoutBun();
  expect(Bun.which("bun", { PATH: nodeOnlyPath })).toBeNull();
  expect(Bun.which("node", { PATH: nodeOnlyPath })).not.toBeNull();

  const packed = tempDir("copilot-api-pack-");
  // npm pack runs the prepack script (`bun run build`): this step is the maintainer's, on a machine with Bun.
  const pack = await holdingDist(() => run(["npm", "pack", "--json", "--pack-destination", packed], { ...process.env } as Record<string, string>, ROOT));
  expect(pack.code).toBe(0);
  // The prepack build prints its own lines before npm's JSON.
  const [info] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf("[\n"))) as { filename: string; files: { path: string }[] }[];
  // The bundle is split: the entry, and chunks loaded on first use (the CLI commands, the dashboard, the tokenizer…).
  const files = info!.files.map((f) => f.path).sort();
  expect(files.filter((path) => path.startsWith("dist/chunks/")).length).toBeGreaterThan(1);
  expect(files.filter((path) => !path.startsWith("dist/chunks/"))).toEqual([
    "LICENSE",
    "README.md",
    "bin/copilot-api.mjs",
    "dist/copilot-api.js",
    "docs/clients.md",
    "docs/img/dashboard.png",
    "docs/operations.md",
    "docs/scaling.md",
    "package.json",
  ]);

  installed = tempDir("copilot-api-user-");
  const home = tempDir();
  const install = await run(["npm", "install", "--no-audit", "--no-fund", join(packed, info!.filename)], userEnv(home), installed);
  if (install.code !== 0) throw new Error(`npm install of the tarball failed:\n${install.stderr}`);
}, SLOW);

/**
 * `npx copilot-api start --port 0` in its own process group (as a terminal or a service manager runs it),
 * /healthz asked, then SIGTERM to the whole group, as Ctrl-C or `systemctl stop` sends it.
 */
async function startStopViaNpx(env: Record<string, string>): Promise<void> {
  const proc = Bun.spawn(["setsid", "npx", "copilot-api", "start", "--port", "0"], { cwd: installed, env, stdout: "ignore", stderr: "pipe", stdin: "ignore" });
  let text = "";
  const decoder = new TextDecoder();
  // Ends when every process of the group has let go of stderr: the server's exit included.
  const pump = (async () => {
    for await (const chunk of proc.stderr) text += decoder.decode(chunk);
  })();
  try {
    const deadline = Date.now() + 60_000;
    const listening = () => text.match(/listening on (http:\/\/\S+)/);
    while (!listening() && Date.now() < deadline && proc.exitCode === null) await Bun.sleep(50);
    const match = listening();
    if (!match) throw new Error(`npx copilot-api start did not start:\n${text}`);
    expect((await fetch(`${match[1]}/healthz`)).status).toBe(200);
    process.kill(-proc.pid, "SIGTERM");
    await pump;
    expect(text).toContain("stopped cleanly");
  } finally {
    try {
      process.kill(-proc.pid, "SIGKILL");
    } catch {
      // the group is gone already
    }
  }
}

describe("npm install <tarball> on a machine with Node only", () => {
  test("npx copilot-api --help lists every command, run on the Bun the package brought", async () => {
    const home = tempDir();
    const help = await run(["npx", "copilot-api", "--help"], userEnv(home), installed);
    expect(help.code).toBe(0);
    // Every command of this build's tree, in its order.
    expect(help.stdout).toContain(`copilot-api ${Object.keys(main.subCommands as Record<string, unknown>).join("|")}`);
    const dbHelp = await run(["npx", "copilot-api", "db", "--help"], userEnv(home), installed);
    expect(dbHelp.stdout).toContain("restore");
  });

  test("an older bun on PATH is passed over for the one the package brought", async () => {
    const home = tempDir();
    const oldBin = tempDir("copilot-api-oldbun-");
    writeFileSync(join(oldBin, "bun"), '#!/bin/sh\nif [ "$1" = "--version" ]; then echo 1.0.0; exit 0; fi\necho "old bun ran" >&2; exit 42\n', { mode: 0o755 });
    const env = userEnv(home, { PATH: `${oldBin}${delimiter}${nodeOnlyPath}` });
    const result = await run([join(installed, "node_modules", ".bin", "copilot-api"), "--version"], env, installed);
    expect(result.stderr).not.toContain("old bun ran");
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe("0.1.0");
  });

  test("start serves /healthz; SIGTERM to the launcher stops the server cleanly with exit 0; db status reads what it left", async () => {
    const home = tempDir();
    const env = userEnv(home);
    const launcher = join(installed, "node_modules", ".bin", "copilot-api");
    await startStopViaNpx(env);

    const server = await startProcess([], env, { cmd: [launcher], cwd: installed });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect(await server.stop()).toBe(0);
    expect(server.log()).toContain("stopped cleanly");
    // The final flush ran: the WAL was folded back into the database file.
    expect(existsSync(`${dbFileOf(home)}-wal`)).toBe(false);

    const status = await run(["npx", "copilot-api", "db", "status", "--json"], env, installed);
    expect(status.code).toBe(0);
    const parsed = JSON.parse(status.stdout) as DbStatus;
    expect(parsed.schemaVersion).toBe(loadMigrations({}).length);
    expect(parsed.pending).toEqual([]);
  });

  test("a failing command's exit code comes back through the launcher", async () => {
    const home = tempDir();
    mkdirSync(join(home, "empty"));
    const result = await run(["npx", "copilot-api", "db", "status", "--db-path", join(home, "empty", "none.db")], userEnv(home), installed);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("no database at");
  });
});
