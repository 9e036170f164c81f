import { describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { cleanUpAfterFile, cli, cliProcess, isolatedEnv, ROOT, tempDir } from "./helpers";

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

describe("cli(): the command tree in-process, as the binary runs it", () => {
  // Each pair runs the same command line in-process and as the real binary: exit code, stdout and the log lines agree.
  const same = async (args: string[], env: Record<string, string>) => {
    const inProcess = await cli(args, env);
    const real = await cliProcess(args, env);
    return { inProcess, real };
  };

  test("a result on stdout, log lines on stderr, exit 0; a refusal is exit 1 with its remedy; doctor's own exit code", async () => {
    const home = tempDir();
    const env = isolatedEnv(home, { GH_TOKEN: "" });
    const created = await cli(["keys", "create", "--label", "laptop", "--json"], env);
    expect(created.code).toBe(0);
    const key = JSON.parse(created.stdout) as { id: string; label: string };
    expect(key.label).toBe("laptop");
    expect(created.stderr).toContain("[info] applying drizzle/0000_placeholder.sql");

    const list = await same(["keys", "list", "--json"], env);
    expect(list.inProcess).toEqual(list.real);
    expect(JSON.parse(list.inProcess.stdout)).toEqual([expect.objectContaining({ id: key.id, label: "laptop" })]);

    const refused = await same(["keys", "revoke", "key_nope"], env);
    expect(refused.inProcess).toEqual(refused.real);
    expect(refused.inProcess.code).toBe(1);
    expect(refused.inProcess.stderr).toContain("[error] no key with id key_nope\n  what to do: list the keys with");

    // A mistyped flag stops before any command runs (src/lib/strict-flags.ts), in-process too.
    const typo = await same(["keys", "list", "--jsno"], env);
    expect(typo.inProcess).toEqual(typo.real);
    expect(typo.inProcess.stderr).toContain("did you mean --json?");

    // doctor prints its report, then exits 1 on a failed check: through io.exit, not a thrown error.
    const doctor = await same(["doctor"], { ...env, HOME: join(home, "elsewhere") });
    expect(doctor.inProcess).toEqual(doctor.real);
    expect(doctor.inProcess.code).toBe(1);
    expect(doctor.inProcess.stdout).toContain("GitHub token: none found");
    expect(doctor.inProcess.stderr).toBe("");
  });

  test("the environment given is the one read: another home is another database", async () => {
    const [a, b] = [tempDir(), tempDir()];
    expect((await cli(["keys", "create", "--label", "in-a"], isolatedEnv(a))).code).toBe(0);
    expect((await cli(["keys", "list", "--json"], isolatedEnv(b))).stdout.trim()).toBe("[]");
    expect(JSON.parse((await cli(["keys", "list", "--json"], isolatedEnv(a))).stdout)).toEqual([expect.objectContaining({ label: "in-a" })]);
  });
});
