import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type FakeUpstream, startFakeUpstream } from "../fake-upstream";
import { cleanUpAfterFile, cli, isolatedEnv, type ProcessServer, startProcess, tempDir } from "../helpers";

cleanUpAfterFile();

/*
 * A running server whose GitHub token is missing or refused picks up a new one on a
 * request (it looks at the token's file again at most every 2 s): no restart.
 */

let fake: FakeUpstream;
beforeAll(() => {
  fake = startFakeUpstream();
});
afterAll(() => fake.stop());

const chat = (server: ProcessServer) =>
  fetch(`${server.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }),
  });

/** Asks until the answer is not a 503 (the server looks at the file again only every few seconds); returns that answer. */
async function untilServed(server: ProcessServer): Promise<Response> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const response = await chat(server);
    if (response.status !== 503 || Date.now() > deadline) return response;
    await response.body?.cancel();
    await Bun.sleep(200);
  }
}

const errorOf = async (response: Response) => ((await response.json()) as { error: { message: string; code: string } }).error;

describe("sign in without a restart", () => {
  test("started without a token: 503 says to run auth and that no restart is needed; after `auth`, the same server answers", async () => {
    const home = tempDir();
    const env = isolatedEnv(home, fake.env());
    const server = await startProcess([], env);
    try {
      const refused = await chat(server);
      expect(refused.status).toBe(503);
      const error = await errorOf(refused);
      expect(error.code).toBe("not_authenticated");
      // Tests run from source: the hint names the command that works here.
      expect(error.message).toContain("run `bun run cli auth`; this server picks the token up on its next request, no restart needed");

      expect((await cli(["auth"], env)).code).toBe(0);
      const served = await untilServed(server);
      expect(served.status).toBe(200);
      expect(((await served.json()) as { choices: unknown[] }).choices).toHaveLength(1);
      expect(server.proc.exitCode).toBeNull(); // the same process
      expect(server.log()).toContain("GitHub token from");
      expect(server.log()).toContain("found: requests use it from now on (no restart needed)");
      expect(server.log()).not.toContain(fake.githubToken);
    } finally {
      await server.stop();
    }
  });

  test("a refused token in --github-token-file: 503 says to write a valid one there; once it is, the same server answers", async () => {
    const home = tempDir();
    const file = join(home, "gh-token");
    fake.refusedTokens.add("gho_revoked");
    writeFileSync(file, "gho_revoked\n", { mode: 0o600 });
    const server = await startProcess(["--github-token-file", file], isolatedEnv(home, fake.env()));
    try {
      const refused = await chat(server);
      expect(refused.status).toBe(503);
      expect(refused.headers.get("x-should-retry")).toBe("false");
      const error = await errorOf(refused);
      expect(error.code).toBe("github_token_rejected");
      expect(error.message).toContain(`write a valid token to ${file}`);
      expect(error.message).toContain("this server picks the new token up on its next request, no restart needed");

      writeFileSync(file, `${fake.githubToken}\n`, { mode: 0o600 });
      const served = await untilServed(server);
      expect(served.status).toBe(200);
      // The catalog was built again from the new token too.
      expect((await fetch(`${server.url}/v1/models`)).status).toBe(200);
      expect(server.log()).toContain(`GitHub token from ${file} changed`);
      expect(server.log()).not.toContain(fake.githubToken);
    } finally {
      await server.stop();
    }
  });

  test("a token from GH_TOKEN cannot change under the server: the refusal says to restart", async () => {
    const home = tempDir();
    fake.refusedTokens.add("gho_env_revoked");
    const server = await startProcess([], isolatedEnv(home, { ...fake.env(), GH_TOKEN: "gho_env_revoked" }));
    try {
      const refused = await chat(server);
      expect(refused.status).toBe(503);
      expect((await errorOf(refused)).message).toContain("GH_TOKEN cannot change under a running server: restart copilot-api");
    } finally {
      await server.stop();
    }
  });
});
