// Dashboard: server time of its pages and the charts' JSON over 1,000,000 events
// (the whole app in process, `app.request`, no socket), and the CSV export's
// rate and memory.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "~/db";
import { type NewEvent, writeEvents } from "~/features/events/queries";
import { createKey } from "~/features/keys";
import { inProcessApp } from "../tests/in-process-app";
import { printTable, summarize } from "./lib";

const DAY = 86_400_000;
const DAYS = 90;
const KEYS = 20;
const MODELS = ["gpt-4o", "claude-sonnet-4", "o3-mini", "gpt-4.1"];

export async function benchDashboard(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "copilot-api-bench-dashboard-"));
  const store = openStore({ path: join(dir, "bench.db") });
  try {
    const admin = createKey(store.db, { tier: "admin", label: "bench", allowedModels: ["*"], rateLimit: null });
    const now = Date.now();
    const total = 1_000_000;
    // Spread evenly over 90 days, 20 keys and 4 models: every hour holds every key and model (172,800 hourly rows).
    for (let i = 0; i < total; i += 10_000) {
      const batch: NewEvent[] = [];
      for (let k = i; k < i + 10_000; k++) {
        batch.push({
          ts: now - DAYS * DAY + Math.floor((k * DAYS * DAY) / total),
          keyId: `key_${String(k % KEYS).padStart(10, "0")}`,
          route: "/chat/completions",
          model: MODELS[k % 4]!,
          upstreamModel: MODELS[k % 4]!,
          stream: k % 2 === 0,
          promptTokens: 100 + (k % 50),
          completionTokens: 20 + (k % 30),
          cacheReadTokens: k % 3 === 0 ? 64 : 0,
          premiumRequests: k % 4 === 1 ? 1 : 0,
          usageUnknown: false,
          status: k % 50 === 0 ? 502 : 200,
          latencyMs: 50 + (k % 400),
          error: k % 50 === 0 ? "upstream_error" : null,
        });
      }
      writeEvents(store, batch);
    }
    const hourly = store.sqlite.query<{ n: number }, []>("SELECT count(*) AS n FROM usage_hourly").get()!.n;

    const { recorder } = inProcessApp(store, { bodyLimitBytes: 1 << 20 });
    const makeApp = () => inProcessApp(store, { bodyLimitBytes: 1 << 20 }, { recorder }).app;
    const app = makeApp();
    const login = await app.request("/dashboard/login");
    const signInCookie = login.headers.getSetCookie()[0]!.split(";")[0]!;
    const token = (await login.text()).match(/name="csrf" value="([^"]+)"/)![1]!;
    const signed = await app.request("/dashboard/login", {
      method: "POST",
      headers: { cookie: signInCookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf: token, key: admin.secret }),
    });
    const cookie = signed.headers
      .getSetCookie()
      .find((c) => c.startsWith("copilot_api_session="))!
      .split(";")[0]!;

    const serverMs = async (path: string, headers: Record<string, string> = { cookie }) => {
      const samples: number[] = [];
      for (let r = 0; r < 9; r++) {
        const start = performance.now();
        const response = await app.request(path, { headers });
        await response.arrayBuffer();
        samples.push(performance.now() - start);
        if (response.status !== 200) throw new Error(`${path} answered ${response.status}`);
      }
      return samples.slice(2); // the first two warm the statement caches and the settled days' sums
    };
    /** A new app each time: nothing kept yet (the first page after a start). */
    const firstLoadMs = async (path: string) => {
      const samples: number[] = [];
      for (let r = 0; r < 5; r++) {
        const fresh = makeApp();
        const start = performance.now();
        const response = await fresh.request(path, { headers: { cookie } });
        await response.arrayBuffer();
        samples.push(performance.now() - start);
      }
      return samples;
    };
    const key = "key_0000000003";
    printTable(
      `Dashboard server time over ${total.toLocaleString("en")} events (${DAYS} days, ${KEYS} keys, 4 models: ${hourly.toLocaleString("en")} hourly rows)`,
      "ms",
      summarize("GET /admin/usage?since=7d (the usage report JSON)", await serverMs("/admin/usage?since=7d", { authorization: `Bearer ${admin.secret}` })),
      [
        summarize("GET /dashboard?window=24h (page)", await serverMs("/dashboard?window=24h")),
        summarize("GET /dashboard?window=7d (page)", await serverMs("/dashboard?window=7d")),
        summarize("GET /dashboard?window=30d (page)", await serverMs("/dashboard?window=30d")),
        summarize("GET /dashboard?window=90d (page)", await serverMs("/dashboard?window=90d")),
        summarize("GET /dashboard?window=90d (page, first load after a start)", await firstLoadMs("/dashboard?window=90d")),
        summarize(`GET /dashboard?window=90d&key=…&model=… (page)`, await serverMs(`/dashboard?window=90d&key=${key}&model=gpt-4o`)),
        summarize("GET /dashboard/api/usage?window=48h (charts JSON, hourly)", await serverMs("/dashboard/api/usage?window=48h")),
        summarize("GET /dashboard/api/usage?window=90d (charts JSON, daily)", await serverMs("/dashboard/api/usage?window=90d")),
        summarize("GET /dashboard/events (newest 50)", await serverMs("/dashboard/events")),
        summarize("GET /dashboard/events?status=5xx (newest 50 failures)", await serverMs("/dashboard/events?status=5xx")),
      ],
    );

    // The export: every event of the last 90 days, read as fast as the reader takes it.
    const rates: number[] = [];
    let peakRss = 0;
    Bun.gc(true);
    const rssBefore = process.memoryUsage().rss;
    let bytes = 0;
    for (let r = 0; r < 3; r++) {
      const start = performance.now();
      const response = await app.request("/admin/events.csv?since=91d", { headers: { authorization: `Bearer ${admin.secret}` } });
      const reader = response.body!.getReader();
      let chunks = 0;
      bytes = 0;
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        bytes += chunk.value.byteLength;
        if (++chunks % 50 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
      }
      rates.push(total / ((performance.now() - start) / 1000));
    }
    printTable(
      `CSV export of ${total.toLocaleString("en")} events (${(bytes / 1e6).toFixed(0)} MB): peak RSS ${((peakRss - rssBefore) / 1e6).toFixed(0)} MB above the ${(rssBefore / 1e6).toFixed(0)} MB before it`,
      "rows/s",
      summarize("GET /admin/events.csv?since=91d", rates, 0),
      [],
      "slowest",
    );
    recorder.stop();
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
