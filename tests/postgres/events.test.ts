import { describe, expect, test } from "bun:test";
import { openPgStore } from "~/db";
import { EventRecorder, type RecordedEvent } from "~/features/events";
import { cleanUpAfterFile } from "../helpers";
import { NO_POSTGRES, pgRows, postgresBin, startPostgres } from "../postgres";

cleanUpAfterFile();

const bin = postgresBin();
if (!bin) console.warn(`tests/postgres/events.test.ts: ${NO_POSTGRES}`);
const server = bin ? startPostgres(bin) : undefined;

const HOUR = 3_600_000;
const event = (i: number, extra: Partial<RecordedEvent> = {}): RecordedEvent => ({
  ts: 1_800_000_000_000 + (i % 3) * HOUR,
  keyId: `key_${i % 4}`,
  route: "/chat/completions",
  model: `model-${i % 2}`,
  status: 200,
  latencyMs: i % 700,
  promptTokens: 10,
  completionTokens: i,
  costNanoAiu: 1000 + i,
  ...extra,
});

describe.skipIf(!bin)("the event recorder on PostgreSQL", () => {
  test("several gateways' recorders writing the same hours at once: every event stored, the hourly totals exact, no deadlock", async () => {
    const url = await server!.freshDatabase();
    const stores = await Promise.all([openPgStore(url), openPgStore(url), openPgStore(url)]);
    const recorders = stores.map((store) => new EventRecorder(store));
    const perRecorder = 3000;
    // Each recorder writes in turns of 50, all three at once, all onto the same 24 (hour, key, model) rows.
    await Promise.all(
      recorders.map(async (recorder, r) => {
        for (let i = 0; i < perRecorder; i++) {
          recorder.record(event(r * perRecorder + i));
          if (i % 50 === 49) await recorder.committed();
        }
        await recorder.stop();
      }),
    );
    for (const recorder of recorders) expect(recorder.dropped).toBe(0);
    await Promise.all(stores.map((store) => store.close()));

    const all = Array.from({ length: 3 * perRecorder }, (_, i) => event(i));
    const [stored] = await pgRows<{ n: number; completion: string }>(url, "SELECT count(*)::int AS n, sum(completion_tokens) AS completion FROM events");
    expect(stored?.n).toBe(all.length);
    const [hours] = await pgRows<{ rows: number; requests: string; completion: string; cost: string; max: string; buckets: string }>(
      url,
      `SELECT count(*)::int AS rows, sum(requests) AS requests, sum(completion_tokens) AS completion, sum(cost_nano_aiu) AS cost,
              max(latency_ms_max) AS max, sum(latency_le_100 + latency_le_250 + latency_le_500 + latency_le_1000) AS buckets FROM usage_hourly`,
    );
    // 3 hours × 4 keys × 2 models, of which i % 3, i % 4 and i % 2 meet in 12 combinations.
    expect(hours?.rows).toBe(12);
    expect(Number(hours?.requests)).toBe(all.length);
    expect(Number(hours?.completion)).toBe(all.reduce((sum, e) => sum + (e.completionTokens ?? 0), 0));
    expect(Number(stored?.completion)).toBe(Number(hours?.completion));
    expect(Number(hours?.cost)).toBe(all.reduce((sum, e) => sum + (e.costNanoAiu ?? 0), 0));
    expect(Number(hours?.max)).toBe(699);
    expect(Number(hours?.buckets)).toBe(all.length);
  });

  test("a request's web searches are stored as its children, linked to its row's id", async () => {
    const url = await server!.freshDatabase();
    const store = await openPgStore(url);
    const recorder = new EventRecorder(store);
    recorder.record(event(1, { model: "plain" }));
    recorder.record(event(2, { model: "parent", children: [event(3, { model: "search-a" }), event(4, { model: "search-b" })] }));
    recorder.record(event(5, { model: "refused", rowless: true }));
    await recorder.committed();
    expect(recorder.problems()).toEqual([]);
    recorder.record(event(6, { model: "after" }));
    await recorder.stop();
    await store.close();
    const rows = await pgRows<{ id: string; model: string; parent: string | null }>(url, "SELECT id, model, parent_event_id AS parent FROM events ORDER BY id");
    const parent = rows.find((row) => row.model === "parent")!;
    expect(rows.map((row) => row.model)).toEqual(["plain", "parent", "search-a", "search-b", "after"]);
    expect(rows.filter((row) => row.parent !== null).map((row) => [row.model, row.parent])).toEqual([
      ["search-a", parent.id],
      ["search-b", parent.id],
    ]);
    // A rowless event still counts in the hourly totals.
    const [hours] = await pgRows<{ requests: string }>(url, "SELECT sum(requests) AS requests FROM usage_hourly");
    expect(Number(hours?.requests)).toBe(6);
  });
});
