// Events: the request-path cost of recording, sustained write rate, usage
// reports over a million events, and event-loop lag while purging them.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { openStore, type Store } from "~/db";
import { events } from "~/db/schema";
import { type NewEvent, writeEvents } from "~/features/events/queries";
import { EventRecorder } from "~/features/events/recorder";
import { RetentionJob } from "~/features/events/retention";
import { usageReport } from "~/features/usage/read-model";
import { printTable, summarize } from "./lib";

const DAY = 86_400_000;
const MODELS = ["gpt-4o", "claude-sonnet-4", "o3-mini", "gpt-4.1"];

/** The i-th of `total` events spread evenly, in arrival order, over the 30 days before now. */
function sampleEvent(i: number, now: number, total = 1): NewEvent {
  return {
    ts: total === 1 ? now : now - 30 * DAY + Math.floor((i * 30 * DAY) / total),
    keyId: `key_${i % 20}`,
    route: "/chat/completions",
    model: MODELS[i % 4]!,
    upstreamModel: MODELS[i % 4]!,
    stream: i % 2 === 0,
    promptTokens: 100 + (i % 50),
    completionTokens: 20 + (i % 30),
    usageUnknown: false,
    status: i % 50 === 0 ? 500 : 200,
    latencyMs: 50 + (i % 400),
    error: i % 50 === 0 ? "upstream_error" : null,
  };
}

function benchRecordCost(store: Store): void {
  const recorder = new EventRecorder(store, { batchSize: 1_000_000, maxBuffered: 2_000_000 });
  const now = Date.now();
  const plain: NewEvent[] = [];
  const recordNs: number[] = [];
  const pushNs: number[] = [];
  for (let round = 0; round < 40; round++) {
    let start = Bun.nanoseconds();
    for (let i = 0; i < 1000; i++) plain.push(sampleEvent(i, now));
    pushNs.push((Bun.nanoseconds() - start) / 1000);
    start = Bun.nanoseconds();
    for (let i = 0; i < 1000; i++) recorder.record(sampleEvent(i, now));
    recordNs.push((Bun.nanoseconds() - start) / 1000);
    recorder.flush(); // the write itself happens off the request path, untimed here
    plain.length = 0;
  }
  recorder.stop();
  printTable("Recording one event on the request path", "ns/event", summarize("build the event and push it to an array", pushNs), [
    summarize("build the event and recorder.record() it", recordNs),
  ]);
}

/** Events/s: `events` recorded per event-loop turn and their commit awaited, `turns` times, five rounds: what an answer waits for. */
export async function recordPerTurn(recorder: EventRecorder, events: number, turns: number, sample: (i: number) => NewEvent): Promise<number[]> {
  const rates: number[] = [];
  for (let round = 0; round < 5; round++) {
    const start = Bun.nanoseconds();
    for (let t = 0; t < turns; t++) {
      for (let i = 0; i < events; i++) recorder.record(sample(i));
      await recorder.committed();
    }
    rates.push((events * turns) / ((Bun.nanoseconds() - start) / 1e9));
  }
  return rates;
}

async function benchWriteRate(store: Store): Promise<void> {
  const now = Date.now();
  const single = store.sqlite.query(
    "INSERT INTO events (ts, key_id, route, model, upstream_model, stream, prompt_tokens, completion_tokens, usage_unknown, status, latency_ms, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
  );
  const autocommit: number[] = [];
  for (let round = 0; round < 5; round++) {
    const start = Bun.nanoseconds();
    for (let i = 0; i < 1000; i++) {
      const e = sampleEvent(i, now);
      single.run(
        e.ts,
        e.keyId,
        e.route,
        e.model!,
        e.upstreamModel!,
        e.stream ? 1 : 0,
        e.promptTokens!,
        e.completionTokens!,
        0,
        e.status,
        e.latencyMs,
        e.error ?? null,
      );
    }
    autocommit.push(1000 / ((Bun.nanoseconds() - start) / 1e9));
  }
  const batched: number[] = [];
  for (let round = 0; round < 20; round++) {
    const batch = Array.from({ length: 10_000 }, (_, i) => sampleEvent(round * 10_000 + i, now));
    const start = Bun.nanoseconds();
    for (let i = 0; i < batch.length; i += 2000) writeEvents(store, batch.slice(i, i + 2000));
    batched.push(batch.length / ((Bun.nanoseconds() - start) / 1e9));
  }
  // What the server does: record() during a turn, one commit at its end (setImmediate), awaited before answering.
  const recorder = new EventRecorder(store);
  const perTurn = (events: number, turns: number) => recordPerTurn(recorder, events, turns, (i) => sampleEvent(i, now));
  const turns1 = await perTurn(1, 2000);
  const turns50 = await perTurn(50, 200);
  const turns2000 = await perTurn(2000, 10);
  recorder.stop();
  printTable("Sustained event writes to disk (WAL, synchronous=NORMAL)", "events/s", summarize("single-row autocommit INSERTs", autocommit), [
    summarize("recorder batches: 2,000 events + hourly totals per transaction", batched),
    summarize("recorder, one commit per event-loop turn: 1 request per turn", turns1),
    summarize("recorder, one commit per event-loop turn: 50 requests per turn", turns50),
    summarize("recorder, one commit per event-loop turn: 2,000 requests per turn", turns2000),
  ]);
}

async function benchReportsAndPurge(store: Store): Promise<void> {
  const now = Date.now();
  const total = 1_000_000;
  for (let i = 0; i < total; i += 5000)
    writeEvents(
      store,
      Array.from({ length: 5000 }, (_, k) => sampleEvent(i + k, now, total)),
    );
  const count = store.db.select({ n: sql<number>`count(*)` }).from(events).get()!.n;

  const timeMs = (fn: () => unknown) => {
    const samples: number[] = [];
    for (let r = 0; r < 7; r++) {
      const start = performance.now();
      fn();
      samples.push(performance.now() - start);
    }
    return samples;
  };
  const naive = store.sqlite.query(
    "SELECT model, count(*), sum(prompt_tokens), sum(completion_tokens), sum(error IS NOT NULL), avg(latency_ms), max(latency_ms) FROM events WHERE ts >= ? GROUP BY model",
  );
  const since30 = now - 30 * DAY;
  printTable(
    `Usage report over ${count.toLocaleString("en")} events (30 days, 20 keys, 4 models)`,
    "ms",
    summarize(
      "GROUP BY over the raw events table",
      timeMs(() => naive.all(since30)),
    ),
    [
      summarize(
        "usage --since 30d --by model",
        timeMs(() => usageReport(store.db, { since: since30 + 1234, by: "model" })),
      ),
      summarize(
        "usage --since 30d --by key",
        timeMs(() => usageReport(store.db, { since: since30 + 1234, by: "key" })),
      ),
      summarize(
        "usage --since 30d --by day",
        timeMs(() => usageReport(store.db, { since: since30 + 1234, by: "day" })),
      ),
      summarize(
        "usage --since 24h --by key --key key_3",
        timeMs(() => usageReport(store.db, { since: now - DAY + 1234, by: "key", keyId: "key_3" })),
      ),
    ],
  );

  // Event-loop lag: a timer that should fire every 1 ms, watched while idle and while purging everything.
  const watchLag = async (work: () => Promise<unknown>) => {
    const lags: number[] = [];
    let last = performance.now();
    let watching = true;
    const tick = () => {
      const t = performance.now();
      lags.push(Math.max(0, t - last - 1));
      last = t;
      if (watching) setTimeout(tick, 1);
    };
    setTimeout(tick, 1);
    await work();
    watching = false;
    await Bun.sleep(5);
    return lags;
  };
  const idle = await watchLag(() => Bun.sleep(1000));
  const purgeStart = performance.now();
  let deleted = 0;
  const purging = await watchLag(async () => {
    deleted = await new RetentionJob(store, { days: 1 }).purge(now + 31 * DAY);
  });
  const purgeMs = performance.now() - purgeStart;
  printTable(
    `Event-loop lag while purging ${deleted.toLocaleString("en")} events (${(purgeMs / 1000).toFixed(1)} s, batches sized to about 4 ms)`,
    "ms",
    summarize("idle event loop", idle, 0.99),
    [summarize("during the purge", purging, 0.99)],
    "p99",
  );
}

export async function benchEvents(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), "copilot-api-bench-"));
  const store = openStore({ path: join(home, "events.db") });
  try {
    benchRecordCost(store);
    await benchWriteRate(store);
    store.sqlite.run("DELETE FROM events");
    store.sqlite.run("DELETE FROM usage_hourly");
    await benchReportsAndPurge(store);
  } finally {
    store.close();
    rmSync(home, { recursive: true, force: true });
  }
}
