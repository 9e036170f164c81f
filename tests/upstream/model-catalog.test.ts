import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  anthropicNameCandidates,
  type CatalogEntry,
  claudeModelIds,
  endpointsOf,
  hasReasoning,
  isClaude,
  ModelCatalog,
  parseModelsResponse,
  supports,
} from "~/upstream/model-catalog";
import { COPILOT_MODELS, COPILOT_MODELS_RESPONSE } from "../fixtures/copilot-models";

/** A loader over a list the test can change, counting its calls. */
function loader(initial: CatalogEntry[] = COPILOT_MODELS) {
  const state = { entries: initial, calls: 0, fail: false as boolean, gate: undefined as Promise<void> | undefined };
  const load = async () => {
    state.calls += 1;
    if (state.gate) await state.gate;
    if (state.fail) throw new Error("Copilot /models answered 502");
    return state.entries;
  };
  return { state, load };
}

async function started(entries: CatalogEntry[] = COPILOT_MODELS) {
  const { load } = loader(entries);
  const catalog = new ModelCatalog(load);
  catalog.start();
  await catalog.loaded();
  catalog.stop();
  return catalog;
}

describe("parsing Copilot's GET /models", () => {
  test("reads the realistic fixture and drops entries without an id", () => {
    const entries = parseModelsResponse({ ...COPILOT_MODELS_RESPONSE, data: [...COPILOT_MODELS, { name: "no id" }, null, { id: "" }] });
    expect(entries.map((e) => e.id)).toEqual(COPILOT_MODELS.map((e) => e.id));
    expect(() => parseModelsResponse({ object: "list" })).toThrow("no data array");
  });
});

describe("resolving a requested name", () => {
  test("exact ids first, then ignoring case", async () => {
    const catalog = await started();
    expect(catalog.resolve("gpt-4.1")?.id).toBe("gpt-4.1");
    expect(catalog.resolve("claude-sonnet-4.5")?.id).toBe("claude-sonnet-4.5");
    expect(catalog.resolve("GPT-4.1")?.id).toBe("gpt-4.1");
    expect(catalog.resolve("Claude-Sonnet-4.5")?.id).toBe("claude-sonnet-4.5");
  });

  test("Anthropic's dated and dashed names map to Copilot's ids", async () => {
    const catalog = await started([
      ...COPILOT_MODELS,
      { id: "claude-3.5-haiku", vendor: "Anthropic", capabilities: { type: "chat" } },
      { id: "claude-3.7-sonnet", vendor: "Anthropic", capabilities: { type: "chat" } },
    ]);
    const table: [string, string][] = [
      ["claude-sonnet-4-5-20250929", "claude-sonnet-4.5"],
      ["claude-sonnet-4-5", "claude-sonnet-4.5"],
      ["claude-opus-4-1-20250805", "claude-opus-4.1"],
      ["claude-haiku-4-5", "claude-haiku-4.5"],
      ["claude-haiku-4-5-20251001", "claude-haiku-4.5"],
      ["claude-3-5-haiku-20241022", "claude-3.5-haiku"],
      ["claude-3-5-haiku-latest", "claude-3.5-haiku"],
      ["claude-3-7-sonnet-20250219", "claude-3.7-sonnet"],
      ["claude-sonnet-4-20250514", "claude-sonnet-4"],
      ["claude-sonnet-4-latest", "claude-sonnet-4"],
      ["CLAUDE-SONNET-4-5-20250929", "claude-sonnet-4.5"],
      ["claude-sonnet-4.5-20250929", "claude-sonnet-4.5"],
      ["claude-4.5-sonnet", "claude-sonnet-4.5"],
    ];
    for (const [requested, id] of table) expect(`${requested} → ${catalog.resolve(requested)?.id}`).toBe(`${requested} → ${id}`);
  });

  test("never guesses across families or versions", async () => {
    const catalog = await started();
    for (const name of [
      "claude-opus-4-20250514",
      "claude-sonnet-4-6",
      "claude-sonnet-3-5",
      "claude-haiku-4",
      "claude-3-5-sonnet-20241022",
      "claude",
      "claude-sonnet",
      "gpt-4",
      "gpt-4-1",
      "sonnet",
      "",
    ]) {
      expect(`${name} → ${catalog.resolve(name)?.id}`).toBe(`${name} → undefined`);
    }
  });

  test("name candidates keep family and version", () => {
    expect(anthropicNameCandidates("claude-sonnet-4-5-20250929")).toEqual(["claude-sonnet-4-5", "claude-sonnet-4.5", "claude-4.5-sonnet"]);
    expect(anthropicNameCandidates("claude-3-5-haiku-latest")).toEqual(["claude-3-5-haiku", "claude-3.5-haiku", "claude-haiku-3.5"]);
    expect(anthropicNameCandidates("gpt-4-1")).toEqual([]);
  });
});

describe("endpoints and traits", () => {
  const byId = (id: string) => COPILOT_MODELS.find((e) => e.id === id)!;

  test("supported_endpoints decide; /v1/messages and /messages are the same", () => {
    expect(supports(byId("claude-sonnet-4.5"), "/v1/messages")).toBe(true);
    expect(supports(byId("claude-sonnet-4.5"), "/messages")).toBe(true);
    expect(supports(byId("claude-sonnet-4.5"), "/chat/completions")).toBe(true);
    expect(supports(byId("claude-sonnet-4"), "/v1/messages")).toBe(false);
    expect(supports(byId("claude-sonnet-4"), "/chat/completions")).toBe(true);
    expect(supports(byId("gpt-5.1-codex"), "/chat/completions")).toBe(false);
    expect(supports(byId("gpt-5.1-codex"), "/responses")).toBe(true);
    expect(supports(byId("gpt-5-mini"), "/v1/responses")).toBe(true);
  });

  test("an entry without supported_endpoints takes /chat/completions only (/embeddings for an embeddings model)", () => {
    expect(endpointsOf(byId("gpt-4.1"))).toEqual(["/chat/completions"]);
    expect(supports(byId("gpt-4.1"), "/chat/completions")).toBe(true);
    expect(supports(byId("gpt-4.1"), "/v1/messages")).toBe(false);
    expect(supports(byId("gpt-4.1"), "/responses")).toBe(false);
    expect(supports({ id: "x", supported_endpoints: [] }, "/chat/completions")).toBe(true);
    expect(endpointsOf(byId("text-embedding-3-small"))).toEqual(["/embeddings"]);
  });

  test("reasoning, Claude-ness and the Claude list for a 404 message", async () => {
    expect(hasReasoning(byId("claude-sonnet-4"))).toBe(true);
    expect(hasReasoning(byId("gpt-5-mini"))).toBe(true);
    expect(hasReasoning(byId("gpt-4.1"))).toBe(false);
    expect(hasReasoning({ id: "bare" })).toBe(false);
    expect(isClaude(byId("claude-opus-4.1"))).toBe(true);
    expect(isClaude(byId("gemini-2.5-pro"))).toBe(false);
    expect(claudeModelIds(COPILOT_MODELS)).toEqual(["claude-haiku-4.5", "claude-opus-4.1", "claude-sonnet-4", "claude-sonnet-4.5"]);
    expect((await started()).claudeModelIds()).toEqual(["claude-haiku-4.5", "claude-opus-4.1", "claude-sonnet-4", "claude-sonnet-4.5"]);
  });

  test("the fixture keeps what the catalog needs per model: vendor, limits, supports, billing", () => {
    const opus = byId("claude-opus-4.1");
    expect(opus.vendor).toBe("Anthropic");
    expect(opus.billing).toMatchObject({ is_premium: true, multiplier: 10 });
    expect(byId("claude-sonnet-4.5").billing?.multiplier).toBe(1);
    expect(byId("gpt-4.1").billing?.is_premium).toBe(false);
    expect(opus.capabilities?.limits?.max_output_tokens).toBeGreaterThan(0);
    expect(opus.capabilities?.supports?.tool_calls).toBe(true);
    expect(byId("text-embedding-3-small").capabilities?.type).toBe("embeddings");
  });
});

describe("lifecycle", () => {
  test("constructing starts nothing; start() loads; get/all answer", async () => {
    const { state, load } = loader();
    const catalog = new ModelCatalog(load);
    expect(state.calls).toBe(0);
    expect(catalog.all()).toEqual([]);
    expect(catalog.lastLoadedAt).toBeUndefined();
    catalog.start();
    await catalog.loaded();
    catalog.stop();
    expect(state.calls).toBe(1);
    expect(catalog.all()).toHaveLength(COPILOT_MODELS.length);
    expect(catalog.get("gemini-2.5-pro")?.vendor).toBe("Google");
    expect(catalog.get("GEMINI-2.5-PRO")).toBeUndefined();
    expect(catalog.lastLoadedAt).toBeNumber();
  });

  test("a failed first load is told to onError, and loaded() rejects with it", async () => {
    const { state, load } = loader();
    state.fail = true;
    const errors: unknown[] = [];
    const catalog = new ModelCatalog(load, { onError: (error) => errors.push(error) });
    catalog.start();
    await expect(catalog.loaded()).rejects.toThrow("502");
    expect(errors.map(String)).toEqual([expect.stringContaining("502")]);
    catalog.stop();
  });

  test("the background refresh reloads until stop(); a failed refresh keeps the old catalog", async () => {
    const { state, load } = loader();
    const errors: unknown[] = [];
    const catalog = new ModelCatalog(load, { refreshIntervalMs: 5, onError: (e) => errors.push(e) });
    catalog.start();
    await catalog.loaded();
    state.entries = [...COPILOT_MODELS, { id: "claude-sonnet-5", vendor: "Anthropic" }];
    for (let i = 0; i < 200 && !catalog.get("claude-sonnet-5"); i++) await Bun.sleep(5);
    expect(catalog.get("claude-sonnet-5")?.id).toBe("claude-sonnet-5");

    state.fail = true;
    const failedBefore = errors.length;
    for (let i = 0; i < 200 && errors.length === failedBefore; i++) await Bun.sleep(5);
    expect(errors.length).toBeGreaterThan(failedBefore);
    expect(catalog.get("claude-sonnet-5")?.id).toBe("claude-sonnet-5");

    catalog.stop();
    await Bun.sleep(10);
    const calls = state.calls;
    await Bun.sleep(40);
    expect(state.calls).toBe(calls);
  });

  test("refreshOnce is single-flight and rate limited; resolveOrRefresh finds a model added upstream", async () => {
    let clock = 1_000_000;
    const { state, load } = loader();
    const catalog = new ModelCatalog(load, { now: () => clock, minOnDemandIntervalMs: 30_000 });
    catalog.start();
    await catalog.loaded();
    catalog.stop();
    expect(state.calls).toBe(1);

    // Copilot adds a model: the first request naming it reloads once.
    state.entries = [...COPILOT_MODELS, { id: "claude-opus-4.5", vendor: "Anthropic", supported_endpoints: ["/v1/messages"] }];
    expect(catalog.resolve("claude-opus-4-5-20251101")).toBeUndefined();
    expect((await catalog.resolveOrRefresh("claude-opus-4-5-20251101"))?.id).toBe("claude-opus-4.5");
    expect(state.calls).toBe(2);

    // Within 30 s, unknown names do not reload again.
    expect(await catalog.resolveOrRefresh("no-such-model")).toBeUndefined();
    expect(await catalog.refreshOnce()).toBe(false);
    expect(state.calls).toBe(2);

    // After 30 s, one more; concurrent callers share it.
    clock += 30_000;
    let open!: () => void;
    state.gate = new Promise<void>((r) => (open = r));
    const a = catalog.refreshOnce();
    const b = catalog.refreshOnce();
    const c = catalog.resolveOrRefresh("still-unknown");
    open();
    expect(await Promise.all([a, b, c])).toEqual([true, true, undefined]);
    expect(state.calls).toBe(3);
  });

  test("a failing on-demand refresh resolves false and reports the error", async () => {
    const { state, load } = loader();
    const errors: unknown[] = [];
    const catalog = new ModelCatalog(load, { onError: (e) => errors.push(e) });
    catalog.start();
    await catalog.loaded();
    catalog.stop();
    state.fail = true;
    expect(await catalog.refreshOnce()).toBe(false);
    expect(errors).toHaveLength(1);
    expect(catalog.all()).toHaveLength(COPILOT_MODELS.length);
  });

  test("the refresh timer does not keep the process alive", async () => {
    const dir = mkdtempSync(join(tmpdir(), "catalog-unref-"));
    try {
      const script = join(dir, "run.ts");
      const module = resolve(import.meta.dir, "../../src/upstream/model-catalog.ts");
      writeFileSync(
        script,
        `import { ModelCatalog } from ${JSON.stringify(module)};\nconst c = new ModelCatalog(async () => [{ id: "m" }], { refreshIntervalMs: 60_000 });\nc.start();\nawait c.loaded();\nconsole.log("loaded", c.all().length);\n`,
      );
      const child = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "pipe" });
      expect(await child.exited).toBe(0);
      expect(await new Response(child.stdout).text()).toBe("loaded 1\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
