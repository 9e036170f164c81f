import { describe, expect, test } from "bun:test";
import { openPgStore } from "~/db/postgres";
import { EventRecorder, type RecordedEvent } from "~/features/events";
import { PgRetentionJob } from "~/features/events/pg-retention";
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

describe.skipIf(!bin)("retention on PostgreSQL", () => {
  test("old events, hourly totals, stored responses, audit entries and dead gateways' holds go; two gateways purging at once delete each row once", async () => {
    const url = await server!.freshDatabase();
    const stores = await Promise.all([openPgStore(url), openPgStore(url)]);
    const now = Date.UTC(2026, 11, 6, 12);
    const day = 86_400_000;
    const recorder = new EventRecorder(stores[0]!);
    // 1,200 events 100 days old and 300 from today.
    for (let i = 0; i < 1500; i++) recorder.record({ ...event(i), ts: i < 1200 ? now - 100 * day - i : now - i });
    await recorder.stop();
    await pgRows(
      url,
      `INSERT INTO responses (id, key_id, model, created_at, status, encoding, body) VALUES
         ('resp_old', 'k', 'm', ${now - 40 * day}, 'completed', 'json', '\\x7b7d'), ('resp_new', 'k', 'm', ${now - day}, 'completed', 'json', '\\x7b7d');
       INSERT INTO audit_log (ts, action, actor_kind, actor) VALUES (${now - 400 * day}, 'key.created', 'cli', 'me'), (${now}, 'key.created', 'cli', 'me');
       INSERT INTO limit_holds (id, key_id, cost_nano_aiu, expires_at) VALUES ('dead', 'k', 5, ${now - 1}), ('live', 'k', 5, ${now + day});`,
    );
    const jobs = stores.map((store) => new PgRetentionJob(store, { eventsDays: 90, responsesDays: 30, auditDays: 365 }));
    const deleted = await Promise.all(jobs.map((job) => job.purge(now)));
    // Whatever the interleaving, every old row went once (a batch the other gateway held was skipped, not repeated).
    const left = async (table: string) => (await pgRows<{ n: number }>(url, `SELECT count(*)::int AS n FROM ${table}`))[0]?.n;
    expect(await left("events")).toBe(300);
    expect((await pgRows<{ id: string }>(url, "SELECT id FROM responses")).map((r) => r.id)).toEqual(["resp_new"]);
    // The old key.created went; the new one stays (the migrations' own entry is of today too).
    expect((await pgRows<{ ts: string }>(url, "SELECT ts FROM audit_log WHERE action = 'key.created'")).map((r) => Number(r.ts))).toEqual([now]);
    expect((await pgRows<{ id: string }>(url, "SELECT id FROM limit_holds")).map((r) => r.id)).toEqual(["live"]);
    const [oldHours] = await pgRows<{ n: number }>(url, `SELECT count(*)::int AS n FROM usage_hourly WHERE hour < ${now - 90 * day}`);
    expect(oldHours?.n).toBe(0);
    expect(deleted.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1200 + 1 + 1);
    // A later pass finds nothing left to delete.
    expect(await jobs[0]!.purge(now)).toBe(0);
    await Promise.all(stores.map((store) => store.close()));
  });
});
