/**
 * A real PostgreSQL server for the tests that need one: initdb + pg_ctl into a
 * fresh folder, listening on 127.0.0.1 on a free port (its unix socket in the
 * same folder), one per test process (see startPostgres), stopped and removed when it
 * exits. Each test asks for its own database (`freshDatabase()`), so tests never see
 * each other's tables.
 *
 * Binaries: initdb/pg_ctl on PATH, else Debian's /usr/lib/postgresql/<version>/bin
 * (package `postgresql`, which .ci/run installs). Postgres refuses to run as
 * root, so as root (CI) the server runs as the `postgres` user (or `nobody`).
 */
import { afterAll } from "bun:test";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { freePort } from "./helpers";

/** The folder holding initdb and pg_ctl, or undefined when this machine has no PostgreSQL server. */
export function postgresBin(): string | undefined {
  const onPath = Bun.which("initdb");
  if (onPath && Bun.which("pg_ctl")) return join(onPath, "..");
  const debian = "/usr/lib/postgresql";
  if (!existsSync(debian)) return undefined;
  const versions = readdirSync(debian)
    .filter((v) => existsSync(join(debian, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(debian, versions[0], "bin") : undefined;
}

export const NO_POSTGRES =
  "SKIPPED: no PostgreSQL server binaries (initdb, pg_ctl) on PATH or under /usr/lib/postgresql/*/bin; install them with `apt-get install postgresql` to run the Postgres tests";

export interface TestPostgres {
  /** postgres://postgres@127.0.0.1:<port>/<database> for a database of its own. */
  freshDatabase(): Promise<string>;
}

/** The user the server runs as, with the prefix that runs a command as that user. */
function runAs(): { prefix: string[]; uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return { prefix: [] };
  for (const user of ["postgres", "nobody"]) {
    const id = Bun.spawnSync(["id", "-u", user]);
    const gid = Bun.spawnSync(["id", "-g", user]);
    if (id.exitCode === 0) {
      // setpriv execs (no fork), so pg_ctl's exit code is the command's own.
      return {
        prefix: ["setpriv", `--reuid=${user}`, `--regid=${gid.stdout.toString().trim()}`, "--clear-groups", "--"],
        uid: Number(id.stdout),
        gid: Number(gid.stdout),
      };
    }
  }
  throw new Error("running as root and there is no postgres or nobody user to run PostgreSQL as");
}

function run(cmd: string[], what: string): void {
  const result = Bun.spawnSync(cmd, { stdin: "ignore" });
  if (result.exitCode !== 0) throw new Error(`${what} failed (exit ${result.exitCode}):\n${result.stdout}${result.stderr}`);
}

/**
 * One server per test process, started by the first file that asks: initdb + pg_ctl cost
 * more than most Postgres test files themselves, and with --no-isolate one worker runs
 * many files. Each file's databases are dropped after its last test (WITH (FORCE): a
 * pool the file left open must not hold them, nor count against max_connections for the
 * next file); the server is stopped when the process is gone (bun test's workers run no
 * exit handlers, so a detached watcher does it).
 */
let shared: LaunchedPostgres | undefined;

export function startPostgres(bin: string): TestPostgres {
  if (!shared) {
    const server = launchPostgres(bin);
    shared = server;
    server.stopAfter(process.pid);
  }
  const server = shared;
  const mine: string[] = [];
  afterAll(() => server.dropDatabases(mine));
  return {
    async freshDatabase() {
      const url = await server.freshDatabase();
      mine.push(new URL(url).pathname.slice(1));
      return url;
    },
  };
}

interface LaunchedPostgres extends TestPostgres {
  /** Stops the server and removes its folder. */
  stop(): void;
  /** Does what stop() does once process `pid` has ended, however it ends. */
  stopAfter(pid: number): void;
  dropDatabases(names: string[]): Promise<void>;
}

/** Starts a server (the benchmarks' too). */
export function launchPostgres(bin: string): LaunchedPostgres {
  const { prefix, uid, gid } = runAs();
  // Not tempDir(): the folder must outlive the server, which is stopped only at process exit.
  const dir = mkdtempSync(join(tmpdir(), "copilot-api-pg-"));
  if (uid !== undefined && gid !== undefined) chownSync(dir, uid, gid);
  const data = join(dir, "data");
  const port = freePort();
  run([...prefix, join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"], "initdb");
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50`;
  run([...prefix, join(bin, "pg_ctl"), "start", "-D", data, "-l", join(dir, "server.log"), "-o", options, "-w", "-t", "60"], "pg_ctl start");
  const base = `postgres://postgres@127.0.0.1:${port}`;
  let n = 0;
  const asAdmin = async (statement: string) => {
    const admin = postgres(`${base}/postgres`, { max: 1, onnotice: () => {} });
    try {
      await admin.unsafe(statement);
    } finally {
      await admin.end();
    }
  };
  const stopCommand = [...prefix, join(bin, "pg_ctl"), "stop", "-D", data, "-m", "immediate", "-w"];
  return {
    stop: () => {
      Bun.spawnSync(stopCommand, { stdin: "ignore" });
      rmSync(dir, { recursive: true, force: true });
    },
    stopAfter(pid) {
      // setsid: neither the test run's Ctrl-C nor its process group's end takes the watcher with it.
      const script = 'tail --pid="$1" -f /dev/null; dir="$2"; shift 2; "$@" >/dev/null 2>&1; rm -rf "$dir"';
      const watcher = Bun.spawn(["setsid", "sh", "-c", script, "sh", String(pid), dir, ...stopCommand], { stdio: ["ignore", "ignore", "ignore"] });
      watcher.unref();
    },
    async freshDatabase() {
      const name = `t${process.pid}_${++n}`;
      await asAdmin(`CREATE DATABASE ${name}`);
      return `${base}/${name}`;
    },
    async dropDatabases(names) {
      for (const name of names) await asAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** Rows of one query on a database (a connection of its own, as another process would read it). */
export async function pgRows<T>(url: string, text: string): Promise<T[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return (await sql.unsafe(text)) as unknown as T[];
  } finally {
    await sql.end();
  }
}
