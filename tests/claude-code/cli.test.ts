import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { claudeCodeName, pickClaudeModels } from "~/features/claude-code/models";
import type { CatalogEntry } from "~/upstream/model-catalog";
import { SCRIPTED_HELLO } from "../fake-answers";
import { type FakeUpstream, startFakeUpstream } from "../fake-upstream";
import { COPILOT_MODELS } from "../fixtures/copilot-models";
import { cleanUpAfterFile, cli, isolatedEnv, startServer, tempDir } from "../helpers";

cleanUpAfterFile();

/** The `export NAME=value` lines printed, as a map; comment lines are left out. */
function exported(stdout: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of stdout.split("\n")) {
    const match = /^export (\w+)=(.*)$/.exec(line);
    if (match) vars[match[1]!] = match[2]!;
  }
  return vars;
}

describe("choosing Claude Code's models from the catalog", () => {
  const only = (...ids: string[]) => COPILOT_MODELS.filter((m) => ids.includes(m.id));

  test("the newest Sonnet, and the newest Haiku as the small model", () => {
    expect(pickClaudeModels(COPILOT_MODELS)).toEqual({ main: "claude-sonnet-4.5", small: "claude-haiku-4.5" });
  });

  test("no Haiku: the main model does both; no Sonnet: Opus; no Claude at all: nothing", () => {
    expect(pickClaudeModels(only("claude-sonnet-4", "gpt-4.1"))).toEqual({ main: "claude-sonnet-4", small: "claude-sonnet-4" });
    expect(pickClaudeModels(only("claude-opus-4.1", "claude-haiku-4.5"))).toEqual({ main: "claude-opus-4.1", small: "claude-haiku-4.5" });
    expect(pickClaudeModels(only("gpt-4.1", "gemini-2.5-pro"))).toBeUndefined();
  });

  test("versions compare as numbers; a model still to be enabled in the Copilot settings is not picked", () => {
    const sonnet = COPILOT_MODELS.find((m) => m.id === "claude-sonnet-4.5")!;
    const newer: CatalogEntry = { ...sonnet, id: "claude-sonnet-4.10" };
    const disabled: CatalogEntry = { ...sonnet, id: "claude-sonnet-5", policy: { state: "unconfigured" } };
    expect(pickClaudeModels([sonnet, newer, disabled])?.main).toBe("claude-sonnet-4.10");
  });

  test("Claude Code's dashed spelling of an id, only when it resolves back to that id", () => {
    const ids = new Map([
      ["claude-sonnet-4-5", "claude-sonnet-4.5"],
      ["claude-3-5-haiku", "claude-3.5-haiku"],
    ]);
    const resolve = (name: string) => ids.get(name);
    expect(claudeCodeName("claude-sonnet-4.5", resolve)).toBe("claude-sonnet-4-5");
    expect(claudeCodeName("claude-3.5-haiku", resolve)).toBe("claude-3-5-haiku");
    expect(claudeCodeName("claude-sonnet-4", resolve)).toBe("claude-sonnet-4");
    expect(claudeCodeName("claude-opus-4.1", resolve)).toBe("claude-opus-4.1"); // the dashed name would not resolve: the id
  });
});

describe("copilot-api claude-code", () => {
  let fake: FakeUpstream;
  beforeAll(() => {
    fake = startFakeUpstream();
  });
  afterAll(() => fake.stop());
  const envFor = (home: string, withToken = true) => isolatedEnv(home, { ...fake.env(), ...(withToken ? { GH_TOKEN: fake.githubToken } : {}) });

  test("prints the environment for Claude Code, models from the catalog in the dashed names Claude Code knows; without --create-key it creates no key", async () => {
    const env = envFor(tempDir());
    const result = await cli(["claude-code"], env);
    expect(result.code).toBe(0);
    expect(exported(result.stdout)).toEqual({
      ANTHROPIC_BASE_URL: "http://127.0.0.1:4141",
      ANTHROPIC_MODEL: "claude-sonnet-4-5",
      ANTHROPIC_SMALL_FAST_MODEL: "claude-haiku-4-5",
      ANTHROPIC_DEFAULT_HAIKU_MODEL: "claude-haiku-4-5",
    });
    expect(result.stdout).toContain("# export ANTHROPIC_AUTH_TOKEN=");
    expect(result.stdout).toContain("--create-key");
    expect(fake.requests.some((r) => r.path === "/models")).toBe(true);
    expect((await cli(["keys", "list", "--json"], env)).stdout.trim()).toBe("[]");
  });

  test("--create-key creates a client key once, and Claude Code's settings work against the server", async () => {
    const home = tempDir();
    const env = envFor(home);
    const result = await cli(
      ["claude-code", "--create-key", "--port", "4999", "--model", "claude-opus-4-1-20250805", "--small-model", "claude-3-5-haiku-latest"],
      env,
    );
    // --small-model names a model this plan lacks: refused, with the Claude models it has.
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("--small-model claude-3-5-haiku-latest is not in this Copilot plan's model list");
    expect(result.stderr).toContain("claude-haiku-4.5, claude-opus-4.1, claude-sonnet-4, claude-sonnet-4.5");
    expect((await cli(["keys", "list", "--json"], env)).stdout.trim()).toBe("[]"); // nothing created on a refusal

    const ok = await cli(["claude-code", "--create-key", "--port", "4999", "--model", "claude-opus-4-1-20250805"], env);
    expect(ok.code).toBe(0);
    const vars = exported(ok.stdout);
    expect(vars).toMatchObject({
      ANTHROPIC_BASE_URL: "http://127.0.0.1:4999",
      ANTHROPIC_MODEL: "claude-opus-4-1",
      ANTHROPIC_SMALL_FAST_MODEL: "claude-haiku-4-5",
    });
    expect(vars.ANTHROPIC_AUTH_TOKEN).toStartWith("cpk_");
    expect(ok.stderr).toContain("shown only once");
    expect(ok.stderr).not.toContain(vars.ANTHROPIC_AUTH_TOKEN!);
    const keys = JSON.parse((await cli(["keys", "list", "--json"], env)).stdout) as { tier: string; label: string }[];
    expect(keys).toEqual([expect.objectContaining({ tier: "client", label: "claude-code" })]);

    const server = await startServer([], env);
    try {
      const response = await fetch(`${server.url}/v1/messages`, {
        method: "POST",
        headers: { authorization: `Bearer ${vars.ANTHROPIC_AUTH_TOKEN}`, "anthropic-version": "2023-06-01", "content-type": "application/json" },
        body: JSON.stringify({ model: vars.ANTHROPIC_MODEL, max_tokens: 16, messages: [{ role: "user", content: "Hi" }] }),
      });
      expect(response.status).toBe(200);
      expect(((await response.json()) as { content: { text: string }[] }).content[0]!.text).toBe(SCRIPTED_HELLO);
      // The dashed name reached Copilot as its catalog id.
      expect(JSON.parse(fake.requests.findLast((r) => r.path === "/v1/messages")!.body).model).toBe("claude-opus-4.1");
    } finally {
      await server.stop();
    }
  });

  test("--base-url wins over --host/--port; both models given need no GitHub token; neither without one says how to sign in", async () => {
    const home = tempDir();
    const given = await cli(
      ["claude-code", "--base-url", "https://gw.example/", "--model", "claude-sonnet-4.5", "--small-model", "claude-haiku-4.5"],
      envFor(home, false),
    );
    expect(given.code).toBe(0);
    expect(exported(given.stdout)).toMatchObject({ ANTHROPIC_BASE_URL: "https://gw.example", ANTHROPIC_MODEL: "claude-sonnet-4.5" });
    const missing = await cli(["claude-code"], envFor(home, false));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("bun run cli auth");
  });
});
