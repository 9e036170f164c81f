import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type FakeUpstream, startFakeUpstream } from "../fake-upstream";
import { cleanUpAfterFile, cli, isolatedEnv, startServer, tempDir } from "../helpers";

cleanUpAfterFile();

describe("the GitHub token without `ps` seeing it", () => {
  let fake: FakeUpstream;
  beforeAll(() => {
    fake = startFakeUpstream();
  });
  afterAll(() => fake.stop());

  /** A token file in a fresh home, with the given mode. */
  function tokenFile(content: string, mode = 0o600): { env: Record<string, string>; file: string } {
    const home = tempDir();
    const file = join(home, "gh-token");
    writeFileSync(file, content, { mode });
    return { env: isolatedEnv(home, fake.env()), file };
  }

  /** Writes `content` to `file` (0600) and returns its path. */
  function written(file: string, content: string): string {
    writeFileSync(file, content, { mode: 0o600 });
    return file;
  }

  test("--github-token-file reads the token (trimmed) and start uses it; the token never reaches the log", async () => {
    const { env, file } = tokenFile(`  ${fake.githubToken}\n`);
    const server = await startServer(["--github-token-file", file], env);
    try {
      expect(server.log()).toContain("GitHub token from --github-token-file");
      expect((await fetch(`${server.url}/v1/models`)).status).toBe(200); // keyless loopback; the token was exchanged
      expect(server.log()).not.toContain(fake.githubToken);
      expect(server.log()).not.toContain("SECURITY");
    } finally {
      await server.stop();
    }
  });

  test("a token file other users can read is reported with the fix, and left as it is", async () => {
    const { env, file } = tokenFile(fake.githubToken, 0o644);
    const server = await startServer(["--github-token-file", file], env);
    await server.stop();
    expect(server.log()).toContain(
      `SECURITY: --github-token-file ${file} has mode 0644: other users can read or change your GitHub token; run \`chmod 600 ${file}\``,
    );
    expect(statSync(file).mode & 0o777).toBe(0o644);
  });

  test("the --github-token flag form still works but warns that `ps` shows it", async () => {
    const env = isolatedEnv(tempDir(), fake.env());
    const server = await startServer(["--github-token", fake.githubToken], env);
    try {
      expect(server.log()).toContain("SECURITY: --github-token puts the token on the command line, where every local user can read it (`ps`");
      expect(server.log()).toContain("use --github-token-file PATH or the GH_TOKEN environment variable");
      expect((await fetch(`${server.url}/v1/models`)).status).toBe(200);
    } finally {
      await server.stop();
    }
    // GH_TOKEN stays, without a warning.
    const quiet = await startServer([], { ...env, GH_TOKEN: fake.githubToken });
    await quiet.stop();
    expect(quiet.log()).toContain("GitHub token from GH_TOKEN");
    expect(quiet.log()).not.toContain("SECURITY");
  });

  test.each([
    ["missing", (dir: string) => join(dir, "nope"), "does not exist"],
    ["empty", (dir: string) => written(join(dir, "empty"), "\n  \n"), "is empty"],
    [
      "a folder",
      (dir: string) => {
        mkdirSync(join(dir, "folder"));
        return join(dir, "folder");
      },
      "is a folder, not a file",
    ],
    ["two words", (dir: string) => written(join(dir, "env"), "GH_TOKEN= abc\n"), "holds more than one word"],
  ])("a token file that is %s stops start before it listens, saying what to do", async (_what, make, message) => {
    const home = tempDir();
    const file = make(home);
    const result = await cli(["start", "--port", "0", "--github-token-file", file], isolatedEnv(home, fake.env()));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`--github-token-file ${file} ${message}`);
    expect(result.stderr).toContain("gh auth token > FILE && chmod 600 FILE");
    expect(result.stderr).not.toContain("listening on");
  });

  test("a path that cannot be read is a clear error", async () => {
    const { env, file } = tokenFile(fake.githubToken);
    const result = await cli(["start", "--port", "0", "--github-token-file", join(file, "inside")], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`--github-token-file ${join(file, "inside")} cannot be read: ENOTDIR`);
  });

  // Root reads any file, whatever its mode.
  test.skipIf(process.getuid?.() === 0)("a token file this user may not read is a clear error", async () => {
    const { env, file } = tokenFile(fake.githubToken, 0o000);
    const result = await cli(["start", "--port", "0", "--github-token-file", file], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`--github-token-file ${file} cannot be read by this user (permission denied)`);
  });

  test("both --github-token and --github-token-file is refused", async () => {
    const { env, file } = tokenFile(fake.githubToken);
    const result = await cli(["start", "--port", "0", "--github-token-file", file, "--github-token", fake.githubToken], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("both --github-token and --github-token-file were given");
  });
});
