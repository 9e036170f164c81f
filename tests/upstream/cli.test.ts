import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { COPILOT_USER, type FakeUpstream, startFakeUpstream } from "../fake-upstream";
import { COPILOT_MODELS } from "../fixtures/copilot-models";
import { cleanUpAfterFile, cli, isolatedEnv, tempDir } from "../helpers";

cleanUpAfterFile();

let fake: FakeUpstream;
beforeAll(() => {
  fake = startFakeUpstream();
});
afterAll(() => fake.stop());

const envWith = (extra: Record<string, string> = {}) => isolatedEnv(tempDir(), { ...fake.env(), GH_TOKEN: fake.githubToken, ...extra });

describe("copilot-api doctor", () => {
  test("prints what is sent upstream, checks the token and the catalog, and never prints the token", async () => {
    const result = await cli(["doctor"], envWith());
    expect(result.code).toBe(0);
    for (const text of [
      "editor-version          vscode/1.130.0",
      "editor-plugin-version   copilot-chat/0.58.0",
      "user-agent              GitHubCopilotChat/0.58.0",
      "2026-06-01 to Copilot, 2025-04-01 to GitHub",
      "copilot-integration-id  vscode-chat",
      "account type            individual",
      `GitHub API              ${fake.url}`,
      "GitHub token            from GH_TOKEN",
      "ok    GitHub token:",
      `ok    Copilot API: ${fake.url} (from COPILOT_API_COPILOT_URL)`,
      `ok    catalog: GET /models answered ${COPILOT_MODELS.length} models`,
      "web search for models that cannot run it (Claude Code's WebSearch) runs on gpt-5-mini",
      "all checks passed",
    ]) {
      expect(result.stdout).toContain(text);
    }
    expect(result.stdout + result.stderr).not.toContain(fake.githubToken);
    expect(result.stdout + result.stderr).not.toContain("tid=fake-copilot");
  });

  test("says which values come from the environment and which URL the token named", async () => {
    const { COPILOT_API_COPILOT_URL: _, ...urls } = fake.env();
    fake.endpointsApi = `http://copilot.localhost:${new URL(fake.url).port}`;
    try {
      const result = await cli(["doctor"], isolatedEnv(tempDir(), { ...urls, GH_TOKEN: fake.githubToken, COPILOT_API_EDITOR_VERSION: "vscode/1.131.0" }));
      expect(result.code).toBe(0);
      expect(result.stdout).toContain("vscode/1.131.0 (from COPILOT_API_EDITOR_VERSION)");
      expect(result.stdout).toContain(`ok    Copilot API: ${fake.endpointsApi} (from the token's endpoints.api)`);
    } finally {
      fake.endpointsApi = "";
    }
  });

  test("fails with a remedy when GitHub refuses the token", async () => {
    const result = await cli(["doctor"], envWith({ GH_TOKEN: "gho_wrong" }));
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("FAIL  GitHub token:");
    expect(result.stdout).toContain("what to do: run `bun run cli auth` again");
    expect(result.stdout).toContain("1 check(s) failed");
  });

  test("fails with a remedy when Copilot rejects the client version (HTTP 466)", async () => {
    fake.rejectClientVersion = true;
    try {
      const result = await cli(["doctor"], envWith());
      expect(result.code).toBe(1);
      expect(result.stdout).toContain("FAIL  catalog: GET /models answered HTTP 466: bad request: the specified API version is no longer supported");
      expect(result.stdout).toContain("COPILOT_API_EDITOR_VERSION");
    } finally {
      fake.rejectClientVersion = false;
    }
  });

  test("fails when there is no GitHub token at all", async () => {
    const result = await cli(["doctor"], isolatedEnv(tempDir(), fake.env()));
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("GitHub token            (none)");
    expect(result.stdout).toContain("what to do: run `bun run cli auth`");
  });
});

describe("copilot-api quota", () => {
  test("--json: the plan, the counters and the reset date", async () => {
    const result = await cli(["quota", "--json"], envWith());
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({
      plan: "individual_pro",
      resetDate: COPILOT_USER.quota_reset_date,
      premiumInteractions: { entitlement: 1500, used: 445.75, remaining: 1054.25, percentRemaining: 70.28, unlimited: false },
      chat: { unlimited: true },
      completions: { unlimited: true },
    });
  });

  test("a table by default", async () => {
    const result = await cli(["quota"], envWith());
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("plan individual_pro, resets 2026-12-01");
    expect(result.stdout).toMatch(/premium interactions\s+1500\s+445\.75\s+1054\.25\s+70\.28\s+0/);
    expect(result.stdout).toMatch(/chat\s+unlimited/);
  });

  test("a refused token says what to do", async () => {
    const result = await cli(["quota"], envWith({ GH_TOKEN: "gho_wrong" }));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("refused the GitHub token");
    expect(result.stderr).toContain("bun run cli auth");
  });
});
