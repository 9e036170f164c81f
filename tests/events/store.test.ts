import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openStore, type Store } from "~/db";
import { loadMigrations } from "~/db/migrations";
import { bucketIndex, HOUR_MS, LATENCY_BUCKETS, type NewEvent, writeEvents } from "~/features/events/queries";
import { EventRecorder } from "~/features/events/recorder";
import { RetentionJob } from "~/features/events/retention";
import { percentile, usageReport } from "~/features/usage/read-model";
import { cleanUpAfterFile, tempDir } from "../helpers";
import { captureLog } from "../log-capture";

cleanUpAfterFile();

const DAY = 86_400_000;
// 2026-03-10 12:00:00 UTC: a fixed "now" so the fixtures below are hand-computable.
const NOW = Date.UTC(2026, 2, 10, 12, 0, 0);

function store(): Store {
  return openStore({ path: join(tempDir(), "events.db") });
}

const event = (ts: number, over: Partial<NewEvent> = {}): NewEvent => ({
  ts,
  keyId: "key_a",
  route: "/chat/completions",
  model: "gpt-4o",
  upstreamModel: "gpt-4o-2024",
  stream: false,
  promptTokens: 10,
  completionTokens: 5,
  usageUnknown: false,
  status: 200,
  latencyMs: 100,
  error: null,
  ...over,
});

const count = (s: Store, table: string) => (s.sqlite.query(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

describe("usage report", () => {
  // Hand-made fixture. Window 24h back from NOW starts at 2026-03-09 12:00 exactly (an hour boundary);
  // the 90m window starts at 10:30, in the middle of an hour.
  const fixture: NewEvent[] = [
    event(NOW - 30 * 60_000, { cacheReadTokens: 4, initiator: "user", premiumMultiplier: 1, premiumRequests: 1 }), // 11:30 key_a gpt-4o 10/5 100ms, 4 cached, 1 premium
    event(NOW - 45 * 60_000, { latencyMs: 300 }), //               11:15 key_a gpt-4o  10/5   300ms
    event(NOW - 80 * 60_000, {
      keyId: "key_b",
      model: "claude-sonnet-4",
      promptTokens: 7,
      completionTokens: 3,
      cacheReadTokens: 2,
      cacheCreationTokens: 1,
      reasoningTokens: 3,
      initiator: "user",
      premiumMultiplier: 0.33,
      premiumRequests: 0.33,
      latencyMs: 50,
    }), // 10:40, 2 cached, 1 written to the cache, 3 thinking, 0.33 premium
    event(NOW - 100 * 60_000, { keyId: "key_b", status: 429, error: "rate_limited", promptTokens: null, completionTokens: null, latencyMs: 2 }), // 10:20, outside 90m
    event(NOW - 20 * 3_600_000, { usageUnknown: true, promptTokens: null, completionTokens: null, status: 500, error: "upstream_error", latencyMs: 900 }), // 2026-03-09 16:00
    event(NOW - 30 * 3_600_000, { model: null, route: "/models", promptTokens: null, completionTokens: null }), // 2026-03-09 06:00, outside 24h
    event(NOW - 3 * DAY, { keyId: "key_c", initiator: "user", premiumMultiplier: 10, premiumRequests: 10 }), // 2026-03-07, only in the 7d window, 10 premium
  ];

  test.each([
    [
      "24h",
      "key",
      [
        {
          group: "key_a",
          requests: 3,
          errors: 1,
          promptTokens: 20,
          completionTokens: 10,
          cacheReadTokens: 4,
          cacheCreationTokens: 0,
          reasoningTokens: 0,
          premiumRequests: 1,
          usageUnknown: 1,
          avgLatencyMs: 433,
          maxLatencyMs: 900,
          p50LatencyMs: 500,
          p95LatencyMs: 900,
        },
        {
          group: "key_b",
          requests: 2,
          errors: 1,
          promptTokens: 7,
          completionTokens: 3,
          cacheReadTokens: 2,
          cacheCreationTokens: 1,
          reasoningTokens: 3,
          premiumRequests: 0.33,
          usageUnknown: 0,
          avgLatencyMs: 26,
          maxLatencyMs: 50,
          p50LatencyMs: 50,
          p95LatencyMs: 50,
        },
      ],
    ],
    [
      "24h",
      "model",
      [
        {
          group: "gpt-4o",
          requests: 4,
          errors: 2,
          promptTokens: 20,
          completionTokens: 10,
          cacheReadTokens: 4,
          cacheCreationTokens: 0,
          reasoningTokens: 0,
          premiumRequests: 1,
          usageUnknown: 1,
          avgLatencyMs: 326,
          maxLatencyMs: 900,
          p50LatencyMs: 100,
          p95LatencyMs: 900,
        },
        {
          group: "claude-sonnet-4",
          requests: 1,
          errors: 0,
          promptTokens: 7,
          completionTokens: 3,
          cacheReadTokens: 2,
          cacheCreationTokens: 1,
          reasoningTokens: 3,
          premiumRequests: 0.33,
          usageUnknown: 0,
          avgLatencyMs: 50,
          maxLatencyMs: 50,
          p50LatencyMs: 50,
          p95LatencyMs: 50,
        },
      ],
    ],
    [
      "7d",
      "day",
      [
        {
          group: "2026-03-07",
          requests: 1,
          errors: 0,
          promptTokens: 10,
          completionTokens: 5,
          cacheReadTokens: 0,
          cacheCreationTokens: 0,
          reasoningTokens: 0,
          premiumRequests: 10,
          usageUnknown: 0,
          avgLatencyMs: 100,
          maxLatencyMs: 100,
          p50LatencyMs: 100,
          p95LatencyMs: 100,
        },
        {
          group: "2026-03-09",
          requests: 2,
          errors: 1,
          promptTokens: 0,
          completionTokens: 0,
          cacheReadTokens: 0,
          cacheCreationTokens: 0,
          reasoningTokens: 0,
          premiumRequests: 0,
          usageUnknown: 1,
          avgLatencyMs: 500,
          maxLatencyMs: 900,
          p50LatencyMs: 100,
          p95LatencyMs: 900,
        },
        {
          group: "2026-03-10",
          requests: 4,
          errors: 1,
          promptTokens: 27,
          completionTokens: 13,
          cacheReadTokens: 6,
          cacheCreationTokens: 1,
          reasoningTokens: 3,
          premiumRequests: 1.33,
          usageUnknown: 0,
          avgLatencyMs: 113,
          maxLatencyMs: 300,
          p50LatencyMs: 100,
          p95LatencyMs: 300,
        },
      ],
    ],
    [
      "90m",
      "key",
      [
        {
          group: "key_a",
          requests: 2,
          errors: 0,
          promptTokens: 20,
          completionTokens: 10,
          cacheReadTokens: 4,
          cacheCreationTokens: 0,
          reasoningTokens: 0,
          premiumRequests: 1,
          usageUnknown: 0,
          avgLatencyMs: 200,
          maxLatencyMs: 300,
          p50LatencyMs: 100,
          p95LatencyMs: 300,
        },
        {
          group: "key_b",
          requests: 1,
          errors: 0,
          promptTokens: 7,
          completionTokens: 3,
          cacheReadTokens: 2,
          cacheCreationTokens: 1,
          reasoningTokens: 3,
          premiumRequests: 0.33,
          usageUnknown: 0,
          avgLatencyMs: 50,
          maxLatencyMs: 50,
          p50LatencyMs: 50,
          p95LatencyMs: 50,
        },
      ],
    ],
  ] as const)("over %s by %s matches the hand-computed totals", (window, by, expected) => {
    const s = store();
    writeEvents(s, fixture);
    const since = NOW - { "24h": DAY, "7d": 7 * DAY, "90m": 90 * 60_000 }[window];
    // The fixture's events carry no cost (an older backend): nothing summed, none counted as unknown in whole hours.
    const rows = usageReport(s.db, { since, by }).rows.map(({ costNanoAiu, credits, usd, costUnknown, ...rest }) => {
      expect({ costNanoAiu, credits, usd }).toEqual({ costNanoAiu: 0, credits: 0, usd: 0 });
      return rest;
    });
    expect(rows).toEqual(expected as never);
    s.close();
  });

  test("a key filter keeps only that key, across the partial hour and whole hours", () => {
    const s = store();
    writeEvents(s, fixture);
    const { rows } = usageReport(s.db, { since: NOW - 105 * 60_000, by: "model", keyId: "key_b" });
    expect(rows.map((r) => [r.group, r.requests])).toEqual([
      ["claude-sonnet-4", 1],
      ["gpt-4o", 1],
    ]);
    s.close();
  });

  test("hourly totals agree with the raw events they summarise", () => {
    const s = store();
    const many = Array.from({ length: 5000 }, (_, i) =>
      event(NOW - i * 61_000, { keyId: `key_${i % 7}`, model: ["a", "b", "c"][i % 3]!, promptTokens: i % 13, completionTokens: i % 5, latencyMs: i % 997 }),
    );
    for (let i = 0; i < many.length; i += 700) writeEvents(s, many.slice(i, i + 700));
    const fromEvents = s.sqlite
      .query<{ g: string; n: number; p: number; c: number; l: number }, []>(
        "SELECT key_id AS g, count(*) AS n, sum(prompt_tokens) AS p, sum(completion_tokens) AS c, max(latency_ms) AS l FROM events GROUP BY key_id ORDER BY key_id",
      )
      .all();
    const report = usageReport(s.db, { since: 0, by: "key" }).rows.sort((a, b) => a.group.localeCompare(b.group));
    expect(report.map((r) => ({ g: r.group, n: r.requests, p: r.promptTokens, c: r.completionTokens, l: r.maxLatencyMs }))).toEqual(fromEvents);
    // Percentiles from the hourly histograms equal those of the same histogram built from the raw events.
    for (const row of report) {
      const mine = many.filter((e) => e.keyId === row.group);
      const buckets = LATENCY_BUCKETS.map(() => 0);
      for (const e of mine) buckets[bucketIndex(e.latencyMs)]! += 1;
      const max = Math.max(...mine.map((e) => e.latencyMs));
      expect([row.p50LatencyMs, row.p95LatencyMs]).toEqual([percentile(buckets, 0.5, max), percentile(buckets, 0.95, max)]);
    }
    s.close();
  });
});

describe("event recorder", () => {
  test("writes batches in one transaction each and counts nothing as dropped", () => {
    const s = store();
    const recorder = new EventRecorder(s, { batchSize: 100 });
    for (let i = 0; i < 250; i++) recorder.record(event(NOW + i));
    recorder.stop();
    expect(count(s, "events")).toBe(250);
    expect([recorder.written, recorder.dropped]).toEqual([250, 0]);
    s.close();
  });

  test("a locked database is retried later, without waiting and without losing events", () => {
    const s = store();
    const other = new Database(s.path);
    other.run("BEGIN IMMEDIATE"); // another process holds the write lock
    const recorder = new EventRecorder(s);
    recorder.record(event(NOW));
    const started = performance.now();
    recorder.flush();
    expect(performance.now() - started).toBeLessThan(1000); // busy_timeout (5 s) was not waited for
    expect([recorder.written, recorder.dropped]).toEqual([0, 0]);
    other.run("ROLLBACK");
    other.close();
    recorder.flush();
    expect(recorder.written).toBe(1);
    recorder.stop();
    s.close();
  });

  test("a full buffer or an unwritable table drops events, counted", () => {
    const s = store();
    const recorder = new EventRecorder(s, { maxBuffered: 10, batchSize: 1000 });
    for (let i = 0; i < 15; i++) recorder.record(event(NOW + i));
    expect(recorder.dropped).toBe(5);
    s.sqlite.run("CREATE TRIGGER no_events BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk says no'); END");
    recorder.flush();
    expect(recorder.dropped).toBe(15);
    expect(count(s, "events")).toBe(0);
    expect(count(s, "usage_hourly")).toBe(0); // rolled back together
    recorder.stop();
    s.close();
  });
});

describe("failed authentication and health", () => {
  test("past the per-minute cap, failed authentication is counted in usage_hourly but gets no event row", () => {
    const s = store();
    const recorder = new EventRecorder(s, { refusedRowsPerMinute: 3 });
    const refused = {
      keyId: "__unauthenticated__",
      status: 401,
      error: "unauthorized" as const,
      model: null,
      upstreamModel: null,
      promptTokens: null,
      completionTokens: null,
    };
    for (let i = 0; i < 10; i++) recorder.record(event(NOW + i, refused));
    recorder.record(event(NOW + 20)); // an answered request is never capped
    recorder.flush();
    expect(count(s, "events")).toBe(4);
    expect(s.sqlite.query("SELECT count(*) AS n FROM events WHERE error = 'unauthorized'").get()).toEqual({ n: 3 });
    expect(s.sqlite.query("SELECT sum(requests) AS n, sum(errors) AS e FROM usage_hourly WHERE key_id = '__unauthenticated__'").get()).toEqual({
      n: 10,
      e: 10,
    });
    expect(recorder.notStored).toBe(7);
    expect(recorder.problems()).toEqual([]); // not storing them is the policy, not a failure
    recorder.stop();
    s.close();
  });

  test("problems() names a failing store, and clears once writes succeed and the window has passed", () => {
    const s = store();
    const recorder = new EventRecorder(s, { degradedForMs: 50 });
    s.sqlite.run("CREATE TRIGGER no_events BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk says no'); END");
    recorder.record(event(NOW));
    recorder.flush();
    const now = performance.now();
    expect(recorder.problems(now)).toEqual([
      "the last event write failed: disk says no",
      expect.stringContaining("events were dropped 0 s ago (disk says no); 1 dropped since start"),
    ]);
    s.sqlite.run("DROP TRIGGER no_events");
    recorder.record(event(NOW));
    recorder.flush();
    expect(recorder.problems(now)).toEqual([expect.stringContaining("events were dropped")]); // writable again, dropped recently
    expect(recorder.problems(now + 60)).toEqual([]);
    recorder.stop();
    s.close();
  });
});

describe("retention", () => {
  test("deletes events older than N days in batches, keeps the rest, and drops old hourly totals", async () => {
    const s = store();
    const cutoff = NOW - 90 * DAY;
    const old = Array.from({ length: 25 }, (_, i) => event(cutoff - 1 - i * 1000));
    writeEvents(s, [...old, event(cutoff), event(cutoff + 1), event(NOW)]);
    const job = new RetentionJob(s, { days: 90, batchSize: 10 });
    expect(await job.purge(NOW)).toBe(25);
    expect(s.sqlite.query("SELECT ts FROM events ORDER BY ts").all()).toEqual([{ ts: cutoff }, { ts: cutoff + 1 }, { ts: NOW }]);
    const hours = s.sqlite
      .query<{ hour: number }, []>("SELECT hour FROM usage_hourly ORDER BY hour")
      .all()
      .map((r) => r.hour);
    expect(hours.every((h) => h >= cutoff - (cutoff % HOUR_MS))).toBe(true);
    expect(hours).toHaveLength(2);
    s.close();
  });

  test("stopped within its first second, no pass runs later over the closed store", async () => {
    const s = store();
    writeEvents(s, [event(0)]);
    const job = new RetentionJob(s, { days: 90 });
    const logged = captureLog();
    try {
      job.start();
      await job.stop();
      s.close();
      // Past the first pass's time (1 s after start): it was cleared with the rest.
      await Bun.sleep(1300);
      expect(logged.text()).not.toContain("retention");
    } finally {
      logged.release();
    }
  });

  test("0 days keeps everything", async () => {
    const s = store();
    writeEvents(s, [event(0), event(NOW - 1000 * DAY)]);
    expect(await new RetentionJob(s, { days: 0 }).purge(NOW)).toBe(0);
    expect(count(s, "events")).toBe(2);
    s.close();
  });
});

describe("latency percentiles", () => {
  test("come from the bucket holding the rank, capped by the max", () => {
    // buckets: <=100, <=250, <=500, ... ; 10 requests: 6 fast, 3 at most 500 ms, 1 slow
    const buckets = [6, 0, 3, 0, 0, 0, 0, 0, 1];
    expect(percentile(buckets, 0.5, 40_000)).toBe(100);
    expect(percentile(buckets, 0.9, 40_000)).toBe(500);
    expect(percentile(buckets, 0.95, 40_000)).toBe(40_000); // the overflow bucket reports the max
    expect(percentile([1, 0, 0, 0, 0, 0, 0, 0, 0], 0.5, 42)).toBe(42);
    expect(
      percentile(
        LATENCY_BUCKETS.map(() => 0),
        0.5,
        0,
      ),
    ).toBeNull();
  });

  test("migration 0003 fills the histogram of hours recorded before it from their events", () => {
    const path = join(tempDir(), "upgrade.db");
    const app = loadMigrations({});
    const before = app.findIndex((m) => m.tag === "0003_latency_histogram");
    openStore({ path, migrations: app.slice(0, before) }).close();
    // What the recorder of that schema wrote: events and hourly totals without a histogram.
    const old = new Database(path);
    const hour = Date.UTC(2026, 2, 10, 9);
    const latencies = [20, 90, 240, 800, 45_000];
    for (const [i, ms] of latencies.entries()) {
      old.run("INSERT INTO events (ts, key_id, route, model, status, latency_ms) VALUES (?, 'key_a', '/chat/completions', 'gpt-4o', 200, ?)", [hour + i, ms]);
    }
    old.run("INSERT INTO usage_hourly (hour, key_id, model, requests, latency_ms_sum, latency_ms_max) VALUES (?, 'key_a', 'gpt-4o', 5, 46150, 45000)", [hour]);
    old.close();

    const s = openStore({ path, migrations: app });
    expect(s.sqlite.query("SELECT latency_le_100, latency_le_250, latency_le_500, latency_le_1000, latency_over_30000 FROM usage_hourly").get()).toEqual({
      latency_le_100: 2,
      latency_le_250: 1,
      latency_le_500: 0,
      latency_le_1000: 1,
      latency_over_30000: 1,
    });
    const { rows } = usageReport(s.db, { since: hour, by: "key" });
    expect([rows[0]!.p50LatencyMs, rows[0]!.p95LatencyMs]).toEqual([250, 45_000]);
    s.close();
  });
});
