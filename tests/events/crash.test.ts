import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { startFakeUpstream } from "../fake-upstream";
import { cleanUpAfterFile, dbFileOf, isolatedEnv, startProcess, tempDir } from "../helpers";

cleanUpAfterFile();

// Bounds of the load: loopback only, at most this many requests and this long (the kill comes at
// 1500 answers, within a second or two alone; the bound leaves room for a machine running other tests).
const WORKERS = 48;
const MAX_REQUESTS = 6000;
const MAX_MS = 15_000;

test("kill -9 under load: every request the client saw answered has its event row", async () => {
  const fake = startFakeUpstream();
  const home = tempDir();
  const server = await startProcess([], isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken }));
  const acknowledged: string[] = [];
  let sent = 0;
  let killed = false;
  const deadline = Date.now() + MAX_MS;

  // Each request names its own model, so its event row can be found again; every fourth streams.
  const worker = async () => {
    while (!killed && sent < MAX_REQUESTS && Date.now() < deadline) {
      const n = sent++;
      const model = `m-${n}`;
      try {
        const response = await fetch(`${server.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model, stream: n % 4 === 0, messages: [{ role: "user", content: "hi" }] }),
        });
        await response.text(); // answered completely: the client has seen it
        if (response.status < 500) acknowledged.push(model);
      } catch {
        // in flight when the server died
      }
    }
  };
  const workers = Array.from({ length: WORKERS }, worker);
  // Kill once the server is busy, while requests are in flight.
  while (acknowledged.length < 1500 && Date.now() < deadline - 500) await Bun.sleep(10);
  server.proc.kill("SIGKILL");
  killed = true;
  await server.proc.exited;
  await Promise.all(workers);
  fake.stop();

  const db = new Database(dbFileOf(home));
  const stored = new Set(
    db
      .query<{ model: string }, []>("SELECT model FROM events")
      .all()
      .map((r) => r.model),
  );
  db.close();
  const missing = acknowledged.filter((m) => !stored.has(m));
  console.log(`kill -9 after ${acknowledged.length} answered requests (${sent} sent): ${missing.length} answered without an event row`);
  expect(acknowledged.length).toBeGreaterThan(500);
  expect(missing.length).toBeLessThanOrEqual(3);
});
