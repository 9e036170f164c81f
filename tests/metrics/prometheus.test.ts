import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type FakeUpstream, startFakeUpstream } from "../fake-upstream";
import { type CreatedKey, cleanUpAfterFile, cli, createKey, dbFileOf, freePort, isolatedEnv, type RunningServer, startServer, tempDir } from "../helpers";

cleanUpAfterFile();

let fake: FakeUpstream;
let server: RunningServer;
let home: string;
let env: Record<string, string>;
let admin: CreatedKey;
let client: CreatedKey;
let metricsPort: number;

beforeAll(async () => {
  fake = startFakeUpstream();
  home = tempDir();
  env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
  admin = await createKey(env, "--tier", "admin", "--label", "ops");
  client = await createKey(env, "--label", "team-a");
  metricsPort = freePort();
  server = await startServer(["--metrics-listen", `127.0.0.1:${metricsPort}`], env);
});
afterAll(async () => {
  await server.stop();
  fake.stop();
});

const chat = async (model: string, stream = false) => {
  const response = await fetch(`${server.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${client.secret}` },
    body: JSON.stringify({ model, stream, messages: [{ role: "user", content: "hi" }] }),
  });
  await response.text();
  return response.status;
};

const eventCount = () => {
  const db = new Database(dbFileOf(home), { readonly: true });
  try {
    return (db.query("SELECT count(*) AS n FROM events").get() as { n: number }).n;
  } finally {
    db.close();
  }
};

type Sample = { metric: Record<string, string>; value: [number, string] };

/** Runs the real Prometheus (Debian's `prometheus` package) against the gateway, once for the queries `use` asks, then stops it. */
async function withPrometheus<T>(use: (query: <R>(promql: string, check: (result: Sample[]) => R | undefined) => Promise<R>) => Promise<T>): Promise<T> {
  const binary = Bun.which("prometheus");
  if (!binary) throw new Error("this test needs the real Prometheus: apt-get install prometheus");
  const dir = tempDir("copilot-api-prometheus-");
  const config = join(dir, "prometheus.yml");
  writeFileSync(
    config,
    `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: copilot-api\n    static_configs:\n      - targets: ["127.0.0.1:${metricsPort}"]\n`,
  );
  const webPort = freePort();
  const proc = Bun.spawn(
    [binary, `--config.file=${config}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${webPort}`, "--log.level=warn"],
    { stdout: "ignore", stderr: "pipe" },
  );
  /** Asks PROMQL until `check` accepts an answer (Prometheus starting, then scraping every second). */
  const query = async <R>(promql: string, check: (result: Sample[]) => R | undefined): Promise<R> => {
    const deadline = Date.now() + 45_000;
    let last = "";
    while (Date.now() < deadline) {
      await Bun.sleep(250);
      try {
        const answer = (await (await fetch(`http://127.0.0.1:${webPort}/api/v1/query?query=${encodeURIComponent(promql)}`)).json()) as {
          data?: { result: Sample[] };
        };
        last = JSON.stringify(answer);
        const accepted = answer.data && check(answer.data.result);
        if (accepted !== undefined) return accepted;
      } catch {
        // not listening yet
      }
    }
    throw new Error(`Prometheus never answered ${promql} as expected; last answer: ${last}`);
  };
  try {
    return await use(query);
  } finally {
    proc.kill();
    await proc.exited;
  }
}

describe("GET /metrics scraped by a real Prometheus", () => {
  test("PromQL's request count is the events table's; models come from the catalog, keys from the store", async () => {
    expect(await chat("gpt-4.1")).toBe(200);
    expect(await chat("gpt-4.1", true)).toBe(200);
    await chat("no-such-model-from-a-client");
    const count = eventCount();
    expect(count).toBe(3);
    await withPrometheus(async (query) => {
      const total = await query("sum(copilot_api_requests_total)", (result) =>
        result.length === 1 && Number(result[0]!.value[1]) === count ? Number(result[0]!.value[1]) : undefined,
      );
      expect(total).toBe(count);
      const byModel = await query('sum by (model, key, key_label) (copilot_api_requests_total{route="/chat/completions"})', (result) =>
        result.length >= 2 ? result.map((r) => r.metric) : undefined,
      );
      expect(byModel).toContainEqual({ model: "gpt-4.1", key: client.id, key_label: "team-a" });
      expect(byModel).toContainEqual({ model: "other", key: client.id, key_label: "team-a" });
      expect(JSON.stringify(byModel)).not.toContain("no-such-model");
    });
  });
});

describe("who may read /metrics", () => {
  test("the main port serves it to admin keys only; the loopback listener without a key", async () => {
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${client.secret}` } })).status).toBe(403);
    const asAdmin = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${admin.secret}` } });
    expect(asAdmin.status).toBe(200);
    expect(asAdmin.headers.get("content-type")).toContain("text/plain");
    const text = await asAdmin.text();
    // The latency buckets are usage_hourly's (100 ms … 30 s).
    for (const le of ["0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "+Inf"])
      expect(text).toContain(`copilot_api_request_duration_seconds_bucket{le="${le}"`);
    expect(text).toMatch(/copilot_api_tokens_total\{model="gpt-4.1",kind="input"\} \d+/);
    expect(text).toContain("copilot_api_store_wal_bytes");
    expect(text).toContain("copilot_api_catalog_age_seconds");
    expect(text).toContain("process_resident_memory_bytes");
    const keyless = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(keyless.status).toBe(200);
    expect(await keyless.text()).toContain("copilot_api_requests_total");
  });

  test("--metrics-listen refuses an address other machines can reach, before anything starts", async () => {
    const result = await cli(["start", "--port", "0", "--metrics-listen", "0.0.0.0:9464"], env);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("--metrics-listen 0.0.0.0:9464 is not a loopback address");
  });

  test("without --metrics there is no /metrics", async () => {
    const plain = await startServer([], isolatedEnv(tempDir(), { ...fake.env(), GH_TOKEN: fake.githubToken }));
    try {
      expect((await fetch(`${plain.url}/metrics`)).status).toBe(404);
    } finally {
      await plain.stop();
    }
  });
});
