import { describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { cleanUpAfterFile, ROOT, tempDir } from "./helpers";

cleanUpAfterFile();

/** `bun test` on the given files in a child process, with its own temp dir and environment. */
async function bunTest(files: string[], env: Record<string, string>) {
  const proc = Bun.spawn([process.execPath, "test", "--timeout", "60000", ...files], { cwd: ROOT, env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, output: stdout + stderr };
}

describe("the test suite cleans up after itself", () => {
  test("each test file removes its temp folders and kills the servers it left running, before the next file runs", async () => {
    const scratch = tempDir();
    const tmp = join(scratch, "tmp");
    mkdirSync(tmp);
    const files = ["a", "b", "c"].map((f) => `./tests/fixtures/cleanup-${f}.ts`);
    const run = await bunTest(files, { ...process.env, TMPDIR: tmp, CLEANUP_REPORT: join(scratch, "report.json") } as Record<string, string>);
    expect(run.output).toContain(" 3 pass");
    expect(run.code).toBe(0);
    expect(readdirSync(tmp).filter((name) => name.startsWith("copilot-api-"))).toEqual([]);
  });

  test("tests/db/cli.test.ts runs on a machine without the sqlite3 CLI", async () => {
    // Only bun's own folder on PATH: no sqlite3 to be found.
    const env = { ...process.env, PATH: dirname(process.execPath) } as Record<string, string>;
    expect(Bun.which("sqlite3", { PATH: env.PATH })).toBeNull();
    const run = await bunTest(["./tests/db/cli.test.ts", "-t", "newer than the build"], env);
    expect(run.output).toContain(" 1 pass");
    expect(run.code).toBe(0);
  });
});
