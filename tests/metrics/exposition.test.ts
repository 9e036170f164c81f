// The request series as /metrics writes them (counted from committed events, text made at scrape).
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openStore } from "~/db";
import { createKey, keyLabels, updateKey } from "~/features/keys";
import { GatewayMetrics } from "~/features/metrics/kit";
import { cleanUpAfterFile, tempDir } from "../helpers";

cleanUpAfterFile();

const store = openStore({ path: join(tempDir(), "copilot-api.db") });
afterAll(() => store.close());

const metricsFor = () =>
  new GatewayMetrics({
    keyLabels: () => keyLabels(store.db),
    sqlite: store,
    recorder: { dropped: 0, notStored: 0, lastWriteError: undefined },
    catalog: { resolve: (name) => (name === "gpt-4.1" ? { id: "gpt-4.1" } : undefined), lastLoadedAt: 1 },
    replicating: false,
    protocols: { openai: { usage: ["/chat/completions"], other: [] } },
  });

const event = (keyId: string, model: string | null, latencyMs: number, extra: Record<string, number> = {}) => ({
  ts: Date.now(),
  keyId,
  route: "/chat/completions",
  model,
  status: 200,
  latencyMs,
  ...extra,
});

describe("request series in the exposition", () => {
  test("counts, cumulative buckets, tokens and premium per label set; models bounded; key labels escaped and read at each scrape", async () => {
    const key = createKey(store.db, { tier: "client", label: 'team "a"\\ops', allowedModels: ["*"], rateLimit: null });
    const metrics = metricsFor();
    metrics.committed([
      event(key.row.id, "gpt-4.1", 50, { promptTokens: 10, completionTokens: 2, premiumRequests: 1 }),
      event(key.row.id, "gpt-4.1", 300, { promptTokens: 5 }),
      event(key.row.id, "made-up-by-a-client", 40_000),
      event(key.row.id, null, 10),
    ]);
    const { body } = await metrics.render();
    const id = key.row.id;
    const labelled = `key="${id}",key_label="team \\"a\\"\\\\ops"`;
    expect(body).toContain(`copilot_api_requests_total{route="/chat/completions",protocol="openai",model="gpt-4.1",${labelled},status="200"} 2`);
    expect(body).toContain(`copilot_api_requests_total{route="/chat/completions",protocol="openai",model="other",${labelled},status="200"} 1`);
    expect(body).toContain(`copilot_api_requests_total{route="/chat/completions",protocol="openai",model="none",${labelled},status="200"} 1`);
    expect(body).not.toContain("made-up-by-a-client");
    const gpt = 'route="/chat/completions",protocol="openai",model="gpt-4.1"';
    expect(body).toContain(`copilot_api_request_duration_seconds_bucket{le="0.1",${gpt}} 1`);
    expect(body).toContain(`copilot_api_request_duration_seconds_bucket{le="0.25",${gpt}} 1`);
    expect(body).toContain(`copilot_api_request_duration_seconds_bucket{le="0.5",${gpt}} 2`);
    expect(body).toContain(`copilot_api_request_duration_seconds_bucket{le="30",route="/chat/completions",protocol="openai",model="other"} 0`);
    expect(body).toContain(`copilot_api_request_duration_seconds_bucket{le="+Inf",route="/chat/completions",protocol="openai",model="other"} 1`);
    expect(body).toContain(`copilot_api_request_duration_seconds_sum{${gpt}} 0.35`);
    expect(body).toContain('copilot_api_tokens_total{model="gpt-4.1",kind="input"} 15');
    expect(body).toContain('copilot_api_tokens_total{model="gpt-4.1",kind="output"} 2');
    expect(body).toContain(`copilot_api_premium_requests_total{model="gpt-4.1",${labelled}} 1`);
    expect(body).toContain("# TYPE copilot_api_request_duration_seconds histogram");
    expect(body).toContain("process_resident_memory_bytes");
    // A relabelled key: the next scrape names it by its new label.
    updateKey(store, id, { label: "team b" }, Date.now());
    metrics.committed([event(id, "gpt-4.1", 50)]);
    const again = (await metrics.render()).body;
    expect(again).toContain(
      `copilot_api_requests_total{route="/chat/completions",protocol="openai",model="gpt-4.1",key="${id}",key_label="team b",status="200"} 3`,
    );
  });
});
