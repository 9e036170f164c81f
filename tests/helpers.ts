import { Database } from "bun:sqlite";
import { afterAll } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CommandDef, type ParsedArgs, parseArgs, runCommand } from "citty";
import { main } from "~/commands";
import { type Composed, compose, composeServer, type Served, serve } from "~/compose";
import type { Store } from "~/db";
import { loadMigrations, readMigrationFolder } from "~/db/migrations";
import { EventRecorder } from "~/features/events";
import { createArgs, createFromArgs } from "~/features/keys/cli";
import { CliExit, type CliIo, guarded } from "~/lib/cli";
import { describeError } from "~/lib/errors";
import { log } from "~/lib/log";
import { dbPath } from "~/lib/paths";
import { checkFlags } from "~/lib/strict-flags";
import { composedOnPostgres, openServerStore, type StartOptions } from "~/start";
import { startOptionsFrom } from "~/start-args";
import { DefaultUpstream } from "~/upstream/default-upstream";
import { captureLog, captureLogWithin } from "./log-capture";

export const ROOT = join(import.meta.dir, "..");
export const MAIN = join(ROOT, "src", "main.ts");

/*
 * Per-file cleanup. bun:test evaluates this module once for every test file of
 * a run, so an afterAll registered here at load time would belong to the first
 * file only. Each test file registers its own by calling cleanUpAfterFile() at
 * its top; files run one after another, so what is tracked when a file's
 * afterAll runs is that file's.
 */
const made: string[] = [];
const children = new Set<Bun.Subprocess>();
/** The close() of each composedApp() not closed yet. */
const composedApps = new Set<() => Promise<void>>();
let fileRegistered = false;

/**
 * Call once at the top of every test file that uses tempDir() or startServer():
 * after the file's last test, servers it left running (a failed test skips its
 * stop) are killed and its temp folders removed.
 */
export function cleanUpAfterFile(): void {
  fileRegistered = true;
  afterAll(async () => {
    fileRegistered = false;
    await Promise.all([...running].map((server) => server.stop()));
    await Promise.all([...composedApps].map((close) => close()));
    const left = [...children];
    children.clear();
    for (const proc of left) proc.kill("SIGKILL");
    await Promise.all(left.map((proc) => proc.exited));
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
}

function requireCleanup(what: string): void {
  if (!fileRegistered) {
    throw new Error(`${what} in a test file that does not clean up: call cleanUpAfterFile() (from tests/helpers.ts) at the top of the file`);
  }
}

/** Tracks a child process until it exits, so the file's cleanup can kill it if a test left it running. */
function track<T extends Bun.Subprocess>(proc: T): T {
  children.add(proc);
  void proc.exited.then(() => children.delete(proc));
  return proc;
}

/** A fresh folder under the system temp dir, removed after the test file (see cleanUpAfterFile). */
export function tempDir(prefix = "copilot-api-test-"): string {
  requireCleanup("tempDir()");
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** An environment whose home and XDG data folder are a temp folder: tests never touch the real home. */
export function isolatedEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("COPILOT_API_") && k !== "GH_TOKEN") env[k] = v;
  }
  return { ...env, HOME: home, XDG_DATA_HOME: join(home, "data"), NO_COLOR: "1", ...extra };
}

export const appDirOf = (home: string) => join(home, "data", "copilot-api");
export const dbFileOf = (home: string) => join(appDirOf(home), "copilot-api.db");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in a real child process: for tests whose point is the binary (its exit codes and streams) or another process. */
export async function cliProcess(args: string[], env: Record<string, string>, cwd = ROOT): Promise<CliResult> {
  const proc = track(Bun.spawn([process.execPath, MAIN, ...args], { cwd, env, stdout: "pipe", stderr: "pipe", stdin: "ignore" }));
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/**
 * The command ARGS name, walked down the tree as citty does, and the args left for it:
 * citty hands its `data` (our io) only to the command it is given, not to subcommands.
 */
async function leafCommand(args: string[]): Promise<{ command: CommandDef; rest: string[] }> {
  let command = main as CommandDef;
  let rest = args;
  for (;;) {
    const subCommands = (await resolveValue(command.subCommands)) as Record<string, CommandDef | (() => Promise<CommandDef>)> | undefined;
    const sub = subCommands && rest[0] !== undefined ? subCommands[rest[0]] : undefined;
    if (!sub) return { command, rest };
    command = await resolveValue(sub);
    rest = rest.slice(1);
  }
}

const resolveValue = async <T>(value: T | (() => T | Promise<T>) | Promise<T>): Promise<T> =>
  typeof value === "function" ? await (value as () => T | Promise<T>)() : await value;

/** What only a real process does: start owns it (signals, exit), citty's runMain prints help and version. */
const helpOrVersion = (args: string[]) => args.some((arg) => ["--help", "-h", "--version", "-v"].includes(arg));

/**
 * `copilot-api ARGS` with ENV, as the binary runs it (the strict flag check, then
 * src/commands.ts's command tree) but in this process: stdout is what the command
 * printed, stderr its log lines, code the exit code it chose. A child process
 * runs it instead where only one can: start (but for a refusal by its own flag
 * checks, which come before anything opens), --help/--version, another working
 * folder, env only a process reads (the client identity), and citty's own usage
 * errors (rerun there so their text is the binary's; nothing ran yet).
 */
export async function cli(args: string[], env: Record<string, string>, cwd = ROOT): Promise<CliResult> {
  if (cwd !== ROOT || helpOrVersion(args) || needsProcess(env)) return cliProcess(args, env, cwd);
  if (args[0] === "start") {
    // start's run() reads its options first (src/start-args.ts): only a refusal there stays in this process.
    const { rest } = await leafCommand(args);
    const checked = await inProcess(args, env, (io) => guarded(() => startOptionsFrom(rest, env))({ data: io }));
    return checked && checked.code !== 0 ? checked : cliProcess(args, env, cwd);
  }
  return (await inProcess(args, env, async (io) => runCommand(...(await leafArgs(args, io))))) ?? cliProcess(args, env, cwd);
}

async function leafArgs(args: string[], io: CliIo): Promise<Parameters<typeof runCommand>> {
  const { command, rest } = await leafCommand(args);
  return [command, { rawArgs: rest, data: io }];
}

/** The strict flag check, then RUN, with the binary's io; undefined on an error the binary alone words (citty's usage errors). */
async function inProcess(args: string[], env: Record<string, string>, run: (io: CliIo) => Promise<unknown>): Promise<CliResult | undefined> {
  let stdout = "";
  const io: CliIo = {
    env,
    print: (text) => {
      stdout += `${text}\n`;
    },
    stdin: async () => "",
    exit: (code) => {
      throw new CliExit(code);
    },
  };
  const { result, text } = await captureLogWithin(async () => {
    try {
      await guarded(() => checkFlags(main, args))({ data: io });
      await run(io);
      return 0;
    } catch (error) {
      if (error instanceof CliExit) return error.code;
      return undefined;
    }
  });
  return result === undefined ? undefined : { code: result, stdout, stderr: text };
}

export interface Fixture {
  tag: string;
  sql: string;
}

/** A migrations folder in drizzle-kit's layout (journal + files), for COPILOT_API_MIGRATIONS_DIR. */
export function writeMigrations(dir: string, fixtures: Fixture[]): string {
  mkdirSync(join(dir, "meta"), { recursive: true });
  const entries = fixtures.map((f, idx) => ({ idx, version: "6", when: 1_700_000_000_000 + idx, tag: f.tag, breakpoints: true }));
  writeFileSync(join(dir, "meta", "_journal.json"), JSON.stringify({ version: "7", dialect: "sqlite", entries }, null, 2));
  for (const f of fixtures) writeFileSync(join(dir, `${f.tag}.sql`), f.sql);
  return dir;
}

export interface RunningServer {
  url: string;
  /** Everything the server logged so far. */
  log: () => string;
  /** Stops it as SIGTERM does (drain, stop the workers, close the store); the exit code a process would have. */
  stop: () => Promise<number>;
}

export interface ProcessServer extends RunningServer {
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
}

/**
 * Starts `copilot-api start` in a child process and resolves once it says it is
 * listening; rejects with its log if it exits first. For the tests whose point
 * is the process (boot, signals, crash, the package); the rest use startServer().
 */
export async function startProcess(
  args: string[],
  env: Record<string, string>,
  { cmd = [process.execPath, MAIN], cwd = ROOT }: { cmd?: string[]; cwd?: string } = {},
): Promise<ProcessServer> {
  requireCleanup("startProcess()");
  const proc = track(Bun.spawn([...cmd, "start", "--port", "0", ...args], { cwd, env, stdout: "pipe", stderr: "pipe", stdin: "ignore" }));
  let text = "";
  const decoder = new TextDecoder();
  const pump = (async () => {
    for await (const chunk of proc.stderr) text += decoder.decode(chunk);
  })();
  void new Response(proc.stdout).text();
  const deadline = Date.now() + 30_000;
  for (;;) {
    const match = text.match(/listening on (http:\/\/\S+)/);
    if (match) {
      return {
        proc,
        url: match[1]!,
        log: () => text,
        stop: async () => {
          proc.kill("SIGTERM");
          const code = await proc.exited;
          await pump;
          return code;
        },
      };
    }
    if (proc.exitCode !== null || Date.now() > deadline) {
      await pump;
      proc.kill();
      throw new Error(`server did not start (exit ${proc.exitCode}):\n${text}`);
    }
    await Bun.sleep(20);
  }
}

/** `copilot-api start`'s defaults (the flags as parsed, with ARGS), as compose() options. */
export const appOptions = (...args: string[]) => startOptionsFrom(["--port", "0", ...args], {});

/**
 * The app start.ts composes over STORE, with `copilot-api start ARGS`'s options and ENV
 * (the fake upstream's), its workers started and the catalog loaded: for app.request,
 * with the recorder and the catalog it uses. `close()` (else the file's cleanup) stops it and closes the store.
 */
export async function composedApp(store: Store, env: Record<string, string>, ...args: string[]) {
  requireCleanup("composedApp()");
  const composed = compose(store, { ...appOptions(...args), env });
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= composed.close().finally(() => composedApps.delete(close));
    return closed;
  };
  composedApps.add(close);
  composed.start();
  const worker = <T>(kind: abstract new (...args: never[]) => T) =>
    composed.workers.find((w): w is T & (typeof composed.workers)[number] => w instanceof kind)!;
  const catalog = worker(DefaultUpstream).current().catalog;
  if (!catalog) throw new Error("composedApp(): no catalog: ENV must carry a GitHub token (GH_TOKEN: fake.githubToken)");
  await catalog.loaded();
  return { ...composed, recorder: worker(EventRecorder), catalog, close };
}

/** What an in-process server cannot honour: these tests need startProcess(). */
const PROCESS_ONLY_ENV =
  /^COPILOT_API_(SSE_KEEPALIVE_SECONDS|EDITOR_VERSION|PLUGIN_VERSION|USER_AGENT|API_VERSION|GITHUB_API_VERSION|INTEGRATION_ID|LITESTREAM|REPLICATE_TO)$/;

/** True when ENV sets what only a process reads (identity, keep-alive, Litestream): such a server needs startProcess(). */
export const needsProcess = (env: Record<string, string>) => Object.keys(env).some((name) => PROCESS_ONLY_ENV.test(name));

const running = new Set<RunningServer>();

async function composedOnSqlite(options: StartOptions, env: Record<string, string>): Promise<Composed> {
  const store = openServerStore(dbPath(options.dbPath, env), loadMigrations(env));
  try {
    return await composeServer(store, { ...options, env });
  } catch (error) {
    store.close();
    throw error;
  }
}

/**
 * `copilot-api start ARGS` with ENV, composed in this process (src/compose.ts,
 * as start.ts does) on a real HTTP server on a free loopback port: the same app,
 * store, workers and log lines, without a process start. Rejects with the log
 * when the boot fails.
 */
export async function startServer(args: string[], env: Record<string, string>): Promise<RunningServer> {
  requireCleanup("startServer()");
  const unsupported = Object.keys(env).filter((name) => PROCESS_ONLY_ENV.test(name));
  if (unsupported.length > 0 || args.includes("--replicate-to"))
    throw new Error(`startServer() runs in-process: use startProcess() for ${unsupported.join(", ") || "--replicate-to"}`);
  const capture = captureLog();
  let composed: Composed;
  let served: Served;
  try {
    const options = startOptionsFrom(["--port", "0", ...args], env);
    composed = options.databaseUrl ? await composedOnPostgres(options.databaseUrl, { ...options, env }) : await composedOnSqlite(options, env);
    served = serve(composed, { port: 0, host: options.host, metricsListen: options.metricsListen });
  } catch (error) {
    capture.release();
    throw new Error(`server did not start:\n${capture.text()}${describeError(error)}`);
  }
  const server = served.server;
  let stopped: Promise<number> | undefined;
  const handle: RunningServer = {
    url: `http://${server.hostname === "0.0.0.0" ? "127.0.0.1" : server.hostname}:${server.port}`,
    log: capture.text,
    stop: () => {
      stopped ??= (async () => {
        running.delete(handle);
        // As start.ts: in-flight requests finish, an idle keep-alive client does not hold the stop.
        await Promise.race([server.stop(), Bun.sleep(2000).then(() => server.stop(true))]);
        served.metricsServer?.stop(true);
        let code = 0;
        try {
          await composed.close();
          log.info("stopped cleanly");
        } catch (error) {
          log.error(`stopping failed: ${describeError(error)}`);
          code = 1;
        }
        capture.release();
        return code;
      })();
      return stopped;
    },
  };
  running.add(handle);
  return handle;
}

/** POST /v1/chat/completions: "hi" to gpt-4o unless `body` says otherwise, with `headers` (a key, an Origin…). */
export const chat = (url: string, body: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }], ...body }),
  });

/** The `error` object of an OpenAI-shaped error answer. */
export const errorOf = async (response: Response) =>
  ((await response.json()) as { error: { message: string; type: string; code: string | null; param: string | null } }).error;

/** The sqlite3 CLI, when the machine has it (undefined otherwise: callers need a fallback). */
export function sqlite3(file: string, command: string): string | undefined {
  const which = Bun.which("sqlite3");
  if (!which) return undefined;
  const result = Bun.spawnSync([which, file, command]);
  if (result.exitCode !== 0) throw new Error(`sqlite3 ${file} ${JSON.stringify(command)} failed (exit ${result.exitCode}): ${result.stderr.toString()}`);
  return result.stdout.toString();
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export async function canConnect(port: number): Promise<boolean> {
  try {
    const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
    socket.end();
    return true;
  } catch {
    return false;
  }
}

/** A port that was free a moment ago (bound and released on port 0). */
export function freePort(): number {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

/** The app's own migrations as fixtures, for fixture folders that a real `start` must boot on. */
export function appMigrations(): Fixture[] {
  return readMigrationFolder(join(ROOT, "drizzle"));
}

export interface CreatedKey {
  id: string;
  /** When it was written (ms), just before its transaction committed. */
  createdAt: number;
  secret: string;
  tier: string;
  allowedModels: string[];
}

/** `keys create --json ARGS` in a child process: for tests whose point is another process writing (under load, beside Litestream). */
export async function createKeyByCli(env: Record<string, string>, ...args: string[]): Promise<CreatedKey> {
  const result = await cliProcess(["keys", "create", "--json", ...args], env);
  if (result.code !== 0) throw new Error(`keys create failed:\n${result.stderr}`);
  return JSON.parse(result.stdout) as CreatedKey;
}

/** `keys create ARGS` as the CLI runs it (another connection to the store, as a separate process would be), without a process. */
export async function createKey(env: Record<string, string>, ...args: string[]): Promise<CreatedKey> {
  const quiet = captureLog();
  try {
    const { row, secret } = await createFromArgs(parseArgs(args, createArgs) as ParsedArgs<typeof createArgs>, env);
    return { id: row.id, createdAt: row.createdAt, secret, tier: row.tier, allowedModels: row.allowedModels };
  } finally {
    quiet.release();
  }
}

/** One chat request ("hi") with a key, as a client sends it: for tests of what the key pipeline lets through. */
export const chatWithKey = (url: string, secret: string, model: string) =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
  });

/**
 * The status a chat request with a key gets, asked until it is `want` (at most 60 times, 50 ms
 * apart): for a change another process makes (a revocation, an update) that a server sees soon, not at once.
 */
export async function chatStatusBecomes(url: string, secret: string, want: number): Promise<number> {
  let status = 0;
  for (let i = 0; i < 60; i++) {
    status = (await chatWithKey(url, secret, "gpt-4.1")).status;
    if (status === want) break;
    await Bun.sleep(50);
  }
  return status;
}

/** POST /v1/responses with a key: gpt-5-mini unless `body` says otherwise. */
export const responsesWithKey = (url: string, secret: string, body: Record<string, unknown>) =>
  fetch(`${url}/v1/responses`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
    body: JSON.stringify({ model: "gpt-5-mini", ...body }),
  });

/** Adds an hour of use to a key in usage_hourly (one request with this much of a counter), as if it had been spent. */
export function seedUsageHour(
  file: string,
  row: { hour: number; keyId: string; model: string; column: "premium_requests" | "cost_nano_aiu"; value: number },
): void {
  const db = new Database(file);
  try {
    db.run(`INSERT INTO usage_hourly (hour, key_id, model, requests, ${row.column}) VALUES (?, ?, ?, 1, ?)`, [row.hour, row.keyId, row.model, row.value]);
  } finally {
    db.close();
  }
}

/** Rows of a read-only query on a database file (a second connection, as another process would read it). */
export const rows = <T>(file: string, sql: string): T[] => {
  const db = new Database(file, { readonly: true });
  try {
    return db.query<T, []>(sql).all();
  } finally {
    db.close();
  }
};

/**
 * Runs fn holding the checkout's dist/ (a lock folder beside it): the build and package tests
 * each rebuild it (`bun run build` empties dist/chunks first), and under --parallel two of them
 * could otherwise rebuild it under each other's running bundle or half-way through `npm pack`.
 */
export async function holdingDist<T>(fn: () => Promise<T> | T): Promise<T> {
  const lock = join(ROOT, ".dist-lock");
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock older than any build and test that held it: its holder was killed.
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 300_000) rmSync(lock, { recursive: true, force: true });
      await Bun.sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
