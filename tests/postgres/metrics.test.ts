// --metrics and --metrics-listen on a gateway serving from PostgreSQL: the series, their key labels from the shared keys, the store gauges that mean something there.
import { afterAll, describe, expect, test } from "bun:test";
import { startFakeUpstream } from "../fake-upstream";
import { chatWithKey, cleanUpAfterFile, cli, createKey, freePort, isolatedEnv, startProcess, startServer, tempDir } from "../helpers";
import { NO_POSTGRES, postgresBin, startPostgres } from "../postgres";

cleanUpAfterFile();

const bin = postgresBin();
if (!bin) console.warn(`tests/postgres/metrics.test.ts: ${NO_POSTGRES}`);
const server = bin ? startPostgres(bin) : undefined;
const fake = startFakeUpstream();
afterAll(() => fake.stop());

const gatewayEnv = (url: string) => isolatedEnv(tempDir(), { ...fake.env(), GH_TOKEN: fake.githubToken, COPILOT_API_DATABASE_URL: url });

/** Scrapes until `check` passes on the body (the metrics count committed events on the next turn, the key mirror reloads within a second). */
async function scrapeUntil(fetchBody: () => Promise<string>, check: (body: string) => boolean): Promise<string> {
  let body = "";
  for (let i = 0; i < 60; i++) {
    body = await fetchBody();
    if (check(body)) break;
    await Bun.sleep(50);
  }
  return body;
}

describe.skipIf(!bin)("metrics on PostgreSQL", () => {
  test("GET /metrics (admin key) and the keyless loopback listener: request series labelled from the shared keys, relabels seen, no SQLite file gauges", async () => {
    const url = await server!.freshDatabase();
    const env = gatewayEnv(url);
    const admin = await createKey(env, "--tier", "admin", "--label", "ops");
    const client = await createKey(env, "--label", "team-a");
    const metricsPort = freePort();
    const gateway = await startServer(["--metrics", "--metrics-listen", `127.0.0.1:${metricsPort}`], env);
    try {
      expect((await chatWithKey(gateway.url, client.secret, "gpt-4.1")).status).toBe(200);
      await (await chatWithKey(gateway.url, client.secret, "made-up-model")).text();

      // A client key may not read them; an admin key may.
      expect((await fetch(`${gateway.url}/metrics`, { headers: { authorization: `Bearer ${client.secret}` } })).status).toBe(403);
      const mainPort = async () => {
        const response = await fetch(`${gateway.url}/metrics`, { headers: { authorization: `Bearer ${admin.secret}` } });
        expect(response.status).toBe(200);
        expect(response.headers.get("content-type")).toContain("text/plain");
        return response.text();
      };
      const ok = `copilot_api_requests_total{route="/chat/completions",protocol="openai",model="gpt-4.1",key="${client.id}",key_label="team-a",status="200"} 1`;
      const body = await scrapeUntil(mainPort, (text) => text.includes(ok));
      expect(body).toContain(ok);
      expect(body).toMatch(new RegExp(`copilot_api_requests_total\\{[^}]*model="other",key="${client.id}",key_label="team-a"`));
      expect(body).not.toContain("made-up-model");
      expect(body).toContain('copilot_api_tokens_total{model="gpt-4.1",kind="input"}');
      expect(body).toContain("copilot_api_store_last_write_failed 0");
      expect(body).toContain("copilot_api_events_dropped_total 0");
      expect(body).toMatch(/copilot_api_catalog_age_seconds \d/);
      // What only a SQLite file has is left out, not reported as zeros.
      expect(body).not.toContain("copilot_api_store_wal_bytes");
      expect(body).not.toContain("copilot_api_store_file_replaced");
      expect(body).not.toContain("copilot_api_replication_lag_seconds");

      // The same series on the keyless loopback listener.
      const listener = async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(await listener()).toContain(ok);

      // Relabelled by the CLI (another connection): the next scrapes name the key by its new label, with no restart.
      expect((await cli(["keys", "update", client.id, "--label", "team-b", "--database-url", url], env)).code).toBe(0);
      const relabelled = await scrapeUntil(listener, (text) => text.includes('key_label="team-b"'));
      expect(relabelled).toContain(`model="gpt-4.1",key="${client.id}",key_label="team-b",status="200"} 1`);
      expect(relabelled).not.toContain('key_label="team-a"');
    } finally {
      await gateway.stop();
    }
  });

  test("a real gateway process on PostgreSQL serves --metrics-listen", async () => {
    const url = await server!.freshDatabase();
    const env = gatewayEnv(url);
    const client = await createKey(env, "--label", "proc");
    const metricsPort = freePort();
    const gateway = await startProcess(["--metrics-listen", `127.0.0.1:${metricsPort}`], env);
    try {
      // Said right after "listening on" (which startProcess waits for): the line may still be on its way.
      for (let i = 0; i < 100 && !gateway.log().includes("metrics on "); i++) await Bun.sleep(10);
      expect(gateway.log()).toContain(`metrics on http://127.0.0.1:${metricsPort}/metrics`);
      expect((await chatWithKey(gateway.url, client.secret, "gpt-4.1")).status).toBe(200);
      const body = await scrapeUntil(
        async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text(),
        (text) => text.includes(`key_label="proc"`),
      );
      expect(body).toContain(
        `copilot_api_requests_total{route="/chat/completions",protocol="openai",model="gpt-4.1",key="${client.id}",key_label="proc",status="200"} 1`,
      );
    } finally {
      expect(await gateway.stop()).toBe(0);
    }
  });
});
