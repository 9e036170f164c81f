// The app's log (src/lib/log.ts) writes the lines users read on stderr, one per call, as consola did.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { cleanUpAfterFile, ROOT } from "../helpers";

cleanUpAfterFile();

/** What a child process that logs `script`'s calls writes to stdout and stderr, outside bun test (NODE_ENV unset). */
async function logged(script: string) {
  const env: Record<string, string | undefined> = { ...process.env, NODE_ENV: undefined };
  const code = `import { log } from ${JSON.stringify(join(ROOT, "src", "lib", "log.ts"))};\n${script}`;
  const proc = Bun.spawn([process.execPath, "-e", code], { env, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr };
}

describe("the log", () => {
  test("writes to stderr only, each type as consola did", async () => {
    const { stdout, stderr } = await logged(
      `log.info("database", "/tmp/x.db"); log.success("listening on http://127.0.0.1:1"); log.warn("no key"); log.error("failed", { code: 1 }); log.box("code ABCD");`,
    );
    expect(stdout).toBe("");
    expect(stderr).toBe(
      "ℹ database /tmp/x.db\n✔ listening on http://127.0.0.1:1\n\n WARN  no key\n\n\n ERROR  failed { code: 1 }\n\n" +
        "\n ╭─────────────╮\n │             │\n │  code ABCD  │\n │             │\n ╰─────────────╯\n\n",
    );
  });

  test("a lone string is printed as it is, anything else as console.log prints it (node:util, loaded only then)", async () => {
    const { stderr } = await logged(`log.info("50%% done %s"); log.info("n", 1, "%d", 2); log.error(new RangeError("bad"));`);
    const lines = stderr.split("\n");
    expect(lines[0]).toBe("ℹ 50%% done %s");
    expect(lines[1]).toBe("ℹ n 1 %d 2");
    expect(stderr).toContain("RangeError: bad");
    expect(stderr).toContain("    at "); // the stack, as console.log prints an Error
  });

  test("level 0 keeps errors only; under bun test a child writes `[type] message`", async () => {
    expect((await logged(`log.level = 0; log.info("hidden"); log.warn("hidden"); log.error("shown");`)).stderr).toBe("\n ERROR  shown\n\n");
    const proc = Bun.spawn([process.execPath, "-e", `import { log } from ${JSON.stringify(join(ROOT, "src", "lib", "log.ts"))}; log.warn("careful");`], {
      env: { ...process.env, NODE_ENV: "test" },
      stderr: "pipe",
    });
    expect(await new Response(proc.stderr).text()).toBe("[warn] careful\n");
  });
});
