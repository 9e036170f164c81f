// The Copilot token outlives a restart: kept sealed beside the database, so a
// restart within its lifetime makes no token exchange; a token near its end, one
// that does not open, or another GitHub token's is never used.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SECRET_KEY_FILE } from "~/lib/secret-box";
import { KEPT_TOKENS_FILE } from "~/upstream/kept-token";
import { type FakeUpstream, startFakeUpstream } from "../fake-upstream";
import { appDirOf, chat, cleanUpAfterFile, isolatedEnv, startProcess, startServer, tempDir } from "../helpers";

cleanUpAfterFile();

let fake: FakeUpstream;
beforeAll(() => {
  fake = startFakeUpstream();
});
afterAll(() => fake.stop());

/** One server's life on `home`: started, one chat request answered, stopped; the exchanges it made. */
async function oneRun(home: string, githubToken = fake.githubToken): Promise<number> {
  const before = fake.exchanges;
  const server = await startServer([], isolatedEnv(home, { ...fake.env(), GH_TOKEN: githubToken }));
  try {
    const response = await chat(server.url, { model: "gpt-4.1" });
    expect(response.status).toBe(200);
    await response.text();
  } finally {
    await server.stop();
  }
  return fake.exchanges - before;
}

const issuedTokens = () => [...fake.validTokens];

describe("the Copilot token kept between runs", () => {
  test("a restart within its lifetime makes no exchange; the file holds it sealed (0600), never in clear", async () => {
    fake.tokenTtlSeconds = 1800;
    const home = tempDir();
    expect(await oneRun(home)).toBe(1);
    expect(await oneRun(home)).toBe(0);
    expect(await oneRun(home)).toBe(0);
    const file = join(appDirOf(home), KEPT_TOKENS_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const bytes = readFileSync(file, "utf8");
    for (const token of issuedTokens()) expect(bytes).not.toContain(token);
    expect(bytes).not.toContain(fake.githubToken);
  });

  test("a token with less than five minutes left is exchanged again", async () => {
    const home = tempDir();
    fake.tokenTtlSeconds = 240;
    try {
      expect(await oneRun(home)).toBe(1);
      expect(await oneRun(home)).toBe(1);
    } finally {
      fake.tokenTtlSeconds = 1800;
    }
  });

  test("a token the key file does not open is ignored and exchanged again", async () => {
    const home = tempDir();
    expect(await oneRun(home)).toBe(1);
    writeFileSync(join(appDirOf(home), SECRET_KEY_FILE), randomBytes(32), { mode: 0o600 });
    expect(await oneRun(home)).toBe(1);
    // The new token is kept with the new key: the next restart uses it.
    expect(await oneRun(home)).toBe(0);
  });

  test("another GitHub token never gets the first one's Copilot token", async () => {
    const home = tempDir();
    fake.users.set("gho_second_user", { login: "hubot", plan: "business" });
    expect(await oneRun(home)).toBe(1);
    expect(await oneRun(home, "gho_second_user")).toBe(1);
    expect(fake.requests.filter((r) => r.path === "/chat/completions").at(-1)?.login).toBe("hubot");
  });

  test("a real process restarted makes no second exchange", async () => {
    const home = tempDir();
    const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
    const before = fake.exchanges;
    for (let run = 0; run < 2; run++) {
      const server = await startProcess([], env);
      const response = await chat(server.url, { model: "gpt-4.1" });
      expect(response.status).toBe(200);
      await response.text();
      expect(await server.stop()).toBe(0);
      for (const token of issuedTokens()) expect(server.log()).not.toContain(token);
    }
    expect(fake.exchanges - before).toBe(1);
  });
});
