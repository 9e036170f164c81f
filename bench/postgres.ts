// PostgreSQL (`start --database-url`) against SQLite, in the same run: events per second through
// the recorder (one write per event-loop turn, as the server does) and the latency a request
// gains through a gateway on each store (key check, quota and event recording on).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, type PgStore, type Store } from "~/db";
import { openPgStore } from "~/db/postgres";
import { EventRecorder } from "~/features/events/recorder";
import { startFakeUpstream } from "../tests/fake-upstream";
import { sampleEvent } from "../tests/fixtures/sample-event";
import { launchPostgres, postgresBin } from "../tests/postgres";
import { recordPerTurn } from "./events";
import { startGateway, timeRequests } from "./gateway";
import { printTable, summarize } from "./lib";

const REQUESTS = 1000;

/** Events/s through a recorder on `store`, as the server records them. */
async function perTurn(store: Store | PgStore, events: number, turns: number): Promise<number[]> {
  const recorder = new EventRecorder(store);
  const rates = await recordPerTurn(recorder, events, turns, sampleEvent);
  if (recorder.dropped > 0) throw new Error(`${recorder.dropped} events dropped: ${recorder.problems().join("; ")}`);
  await recorder.stop();
  return rates;
}

export async function benchPostgres(): Promise<void> {
  const bin = postgresBin();
  if (!bin) {
    console.log("\n(PostgreSQL benchmarks skipped: no initdb/pg_ctl; `apt-get install postgresql`)");
    return;
  }
  const server = launchPostgres(bin);
  const folder = mkdtempSync(join(tmpdir(), "copilot-api-bench-pg-"));
  const fake = startFakeUpstream();
  try {
    const sqlite = openStore({ path: join(folder, "bench.db") });
    const pg = await openPgStore(await server.freshDatabase());
    const rows = [];
    for (const [events, turns] of [
      [1, 1000],
      [50, 100],
      [2000, 5],
    ] as const) {
      rows.push(
        summarize(`SQLite, ${events} per turn`, await perTurn(sqlite, events, turns)),
        summarize(`PostgreSQL (loopback), ${events} per turn`, await perTurn(pg, events, turns)),
      );
    }
    sqlite.close();
    await pg.close();
    printTable("Events recorded, one write per event-loop turn, awaited (what an answer waits for)", "events/s", rows[0]!, rows.slice(1));

    const body = JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "hello" }] });
    const latency = async (extraArgs: string[], env: Record<string, string>) => {
      const gateway = await startGateway(fake, extraArgs, { env });
      try {
        return await timeRequests(
          () =>
            fetch(`${gateway.url}/v1/chat/completions`, {
              method: "POST",
              body,
              headers: { authorization: `Bearer ${gateway.secret}`, "content-type": "application/json" },
            }),
          REQUESTS,
        );
      } finally {
        await gateway.stop();
      }
    };
    const onSqlite = summarize("gateway on SQLite", await latency([], {}));
    const onPostgres = summarize("gateway on PostgreSQL (loopback)", await latency([], { COPILOT_API_DATABASE_URL: await server.freshDatabase() }));
    printTable(`Non-streaming chat completion through the gateway, ${REQUESTS} sequential requests`, "ms", onSqlite, [onPostgres]);
    console.log(`\nadded by PostgreSQL at the median: ${((onPostgres.median - onSqlite.median) * 1000).toFixed(0)} µs per request`);
  } finally {
    fake.stop();
    server.stop();
    rmSync(folder, { recursive: true, force: true });
  }
}

if (import.meta.main) await benchPostgres();
