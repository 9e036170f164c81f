// What `start` loads is what serving needs: the CLI commands, the dashboard, metrics,
// tracing, Postgres and the tokenizer are loaded on first use, never at boot.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cleanUpAfterFile, dbFileOf, isolatedEnv, MAIN, ROOT, sqlite3, startProcess, tempDir } from "./helpers";

cleanUpAfterFile();

/** Modules a plain start must not load before it listens, and why each is loaded later. */
const LATER = [
  [/\/src\/features\/[^/]+\/cli\.ts$/, "a CLI command: loaded when that command runs"],
  [/\/src\/db\/cli\.ts$/, "the db command"],
  [/\/src\/db\/pg\//, "Postgres: only the db commands with --database-url"],
  [/\/node_modules\/postgres\//, "the Postgres driver"],
  [/\/src\/features\/dashboard\/(routes|pages\/)/, "the dashboard: on its first request"],
  [/\/node_modules\/prom-client\//, "metrics: only with --metrics / --metrics-listen"],
  [/\/node_modules\/@opentelemetry\//, "tracing (and prom-client's OpenTelemetry API): only when asked for"],
  [/\/node_modules\/gpt-tokenizer\//, "the tokenizer: on the count_tokens thread, on the first count"],
  [
    /\/src\/db\/(migrations\/(runner|load|guard|split|folder)|status|introspect)\.ts$/,
    "the migration runner: only when the store is not at this build's schema",
  ],
] as const;

/** Modules a plain start (loopback, no --pool, no metrics listener) loads only once its port is open. */
const AFTER_THE_PORT = [
  [/\/src\/(server|compose)\.ts$/, "the app and its composition"],
  [/\/node_modules\/(hono|zod|drizzle-orm)\//, "the router, the request schemas, Drizzle"],
  [/\/src\/db\/(schema|typed)\.ts$/, "the store's typed handle: made on first use"],
  [/\/src\/protocols\//, "the protocols"],
] as const;

describe("what start loads", () => {
  test("a plain start on a migrated store listens without loading any code it only needs later", async () => {
    const home = tempDir();
    const out = join(home, "modules.txt");
    const env = isolatedEnv(home, { LOADED_MODULES_FILE: out });
    const cmd = [process.execPath, "--preload", join(ROOT, "tests", "fixtures", "loaded-modules.ts"), MAIN];
    // The first start creates and migrates the store (the runner is loaded then); the second is the usual one.
    expect(await (await startProcess([], env, { cmd })).stop()).toBe(0);
    expect(readFileSync(out, "utf8")).toContain("/src/db/migrations/runner.ts");
    const server = await startProcess([], env, { cmd });
    expect(await server.stop()).toBe(0);
    const loaded = readFileSync(out, "utf8").split("\n");
    // The list is real: it holds what serving needs.
    expect(loaded.some((path) => path.endsWith("/src/server.ts"))).toBe(true);
    const early = LATER.flatMap(([pattern, why]) => loaded.filter((path) => pattern.test(path)).map((path) => `${path.replace(ROOT, "")} (${why})`));
    expect(early).toEqual([]);

    // The port opened before the app was loaded: the store open and migrated, the rest loaded behind the open port.
    const atListening = readFileSync(`${out}.listening`, "utf8").split("\n");
    expect(atListening.some((path) => path.endsWith("/src/db/open.ts"))).toBe(true);
    const beforePort = AFTER_THE_PORT.flatMap(([pattern, why]) =>
      atListening.filter((path) => pattern.test(path)).map((path) => `${path.replace(ROOT, "")} (${why})`),
    );
    expect(beforePort).toEqual([]);
    // None of what is loaded before the port imports a Node builtin that costs a boot milliseconds to load (Bun's own APIs do the same).
    const ours = atListening.filter((path) => path.startsWith(join(ROOT, "src")));
    const costly = ours.filter((path) => /from "node:(crypto|util|worker_threads)"/.test(readFileSync(path, "utf8")));
    expect(costly).toEqual([]);
  });
});

describe("the boot's quick look at the schema", () => {
  test("a ledger that disagrees with this build's migrations still stops the start (the quick look hands it to the runner)", async () => {
    const home = tempDir();
    const env = isolatedEnv(home);
    expect(await (await startProcess([], env)).stop()).toBe(0);
    sqlite3(dbFileOf(home), "UPDATE _migrations SET sha256 = 'edited' WHERE version = 1;");
    const proc = Bun.spawn([process.execPath, MAIN, "start", "--port", "0"], { env, stdout: "ignore", stderr: "pipe" });
    const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    expect(code).toBe(1);
    expect(stderr).toContain("was changed after it was applied");
  });
});
