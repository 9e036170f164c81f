#!/usr/bin/env node
// The package's `bin`: a small launcher that any Node (18+) can run. copilot-api
// itself is a Bun program (bun:sqlite, Bun.serve), bundled into dist/copilot-api.js;
// this file finds a Bun and runs the bundle on it with every argument, forwards
// SIGINT/SIGTERM/SIGHUP to it (each a clean stop), and exits with its exit code; the
// server stops by itself if this launcher dies of anything else (src/stop-requests.ts).
//
// Which Bun: COPILOT_API_BUN when set; else the Bun running this file (bunx); else a
// `bun` on PATH of at least the version package.json's engines.bun names; else the
// Bun binary the `bun` dependency brought from the npm registry (its per-platform
// package @oven/bun-<os>-<arch>[-musl], or bun/bin/bun.exe once its postinstall ran).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bundle = join(root, "dist", "copilot-api.js");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const minimum = String(pkg.engines?.bun ?? "0").replace(/^[^\d]*/, "");
const require = createRequire(join(root, "package.json"));

function fail(message, hint) {
  process.stderr.write(`copilot-api: ${message}\n  what to do: ${hint}\n`);
  process.exit(1);
}

/** True when version a.b.c is at least the minimum x.y.z (pre-release tags ignored). */
function atLeast(version, min) {
  const parts = (v) => v.split(/[.+-]/).slice(0, 3).map((n) => Number.parseInt(n, 10) || 0);
  const [a, b] = [parts(version), parts(min)];
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] > b[i];
  return true;
}

function versionOf(bin) {
  const result = spawnSync(bin, ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 10_000 });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

function isFile(path) {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function bunOnPath() {
  const names = process.platform === "win32" ? ["bun.exe", "bun.cmd", "bun"] : ["bun"];
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    for (const name of names) if (isFile(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function bunFromNpm() {
  let bunRoot;
  try {
    bunRoot = dirname(require.resolve("bun/package.json"));
  } catch {
    return undefined;
  }
  const fromBun = createRequire(join(bunRoot, "package.json"));
  const os = { win32: "windows", darwin: "darwin", linux: "linux", freebsd: "freebsd", android: "linux" }[process.platform];
  const arch = { x64: "x64", arm64: "aarch64" }[process.arch];
  const exe = process.platform === "win32" ? "bin/bun.exe" : "bin/bun";
  const variants = ["", "-musl", "-baseline", "-musl-baseline", "-android"];
  const candidates = os && arch ? variants.map((v) => `@oven/bun-${os}-${arch}${v}/${exe}`) : [];
  for (const candidate of candidates) {
    try {
      const path = fromBun.resolve(candidate);
      if (versionOf(path)) return path;
    } catch {
      // not installed for this platform: try the next
    }
  }
  // bun/bin/bun.exe is the real binary once the bun package's postinstall ran (a shell stub before).
  const linked = join(bunRoot, "bin", "bun.exe");
  return isFile(linked) && versionOf(linked) ? linked : undefined;
}

function findBun() {
  const chosen = process.env.COPILOT_API_BUN;
  if (chosen) {
    if (!versionOf(chosen)) fail(`COPILOT_API_BUN=${chosen} does not run (\`${chosen} --version\` failed)`, "point COPILOT_API_BUN at a Bun binary, or unset it");
    return chosen;
  }
  if (process.versions.bun && atLeast(process.versions.bun, minimum)) return process.execPath;
  const onPath = bunOnPath();
  const version = onPath && versionOf(onPath);
  if (onPath && version && atLeast(version, minimum)) return onPath;
  const bundled = bunFromNpm();
  if (bundled) return bundled;
  const found = onPath ? `the bun on PATH (${onPath}) is ${version ?? "not runnable"}, older than ${minimum}, and ` : "";
  return fail(
    `${found}no Bun ${minimum} or newer was found, nor the Bun the npm package "bun" brings`,
    `install Bun (npm install -g bun@${pkg.dependencies?.bun ?? "latest"}), or reinstall copilot-api without --no-optional / --ignore-scripts`,
  );
}

if (!existsSync(bundle)) fail(`${bundle} is missing`, "this checkout is not built: run `bun run build` (npm pack and npm publish run it)");

// The server watches this pid: should the launcher die of a signal it cannot forward (SIGKILL), the server stops cleanly by itself.
// Hints the server prints name the command as this user runs it (npx sets npm_command=exec).
const invokedAs = process.env.npm_command === "exec" ? `npx ${pkg.name}` : "copilot-api";
const env = { ...process.env, COPILOT_API_LAUNCHER_PID: String(process.pid), COPILOT_API_INVOKED_AS: invokedAs };
const child = spawn(findBun(), [bundle, ...process.argv.slice(2)], { stdio: "inherit", env });
const forwarded = ["SIGINT", "SIGTERM", "SIGHUP"];
for (const signal of forwarded) {
  // A terminal's Ctrl-C reaches the whole process group, the child too: the server treats a second signal as the first.
  process.on(signal, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  });
}
child.on("error", (error) => fail(`cannot start Bun: ${error.message}`, "check that the Bun binary is executable, or set COPILOT_API_BUN"));
child.on("exit", (code, signal) => {
  if (signal) {
    // Die of the same signal, so whoever started us sees what happened to the server.
    for (const s of forwarded) process.removeAllListeners(s);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code ?? 1);
});
