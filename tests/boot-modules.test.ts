// What `start` loads is what serving needs: the CLI commands, the dashboard, metrics,
// tracing, Postgres and the tokenizer are loaded on first use, never at boot.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cleanUpAfterFile, isolatedEnv, MAIN, ROOT, startProcess, tempDir } from "./helpers";

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
] as const;

describe("what start loads", () => {
  test("a plain start listens without loading any code it only needs later", async () => {
    const home = tempDir();
    const out = join(home, "modules.txt");
    const server = await startProcess([], isolatedEnv(home, { LOADED_MODULES_FILE: out }), {
      cmd: [process.execPath, "--preload", join(ROOT, "tests", "fixtures", "loaded-modules.ts"), MAIN],
    });
    expect(await server.stop()).toBe(0);
    const loaded = readFileSync(out, "utf8").split("\n");
    // The list is real: it holds what serving needs.
    expect(loaded.some((path) => path.endsWith("/src/server.ts"))).toBe(true);
    const early = LATER.flatMap(([pattern, why]) => loaded.filter((path) => pattern.test(path)).map((path) => `${path.replace(ROOT, "")} (${why})`));
    expect(early).toEqual([]);
  });
});
