// Key resolution on the hot path, cached and uncached, against a raw
// bun:sqlite prepared lookup of the same row in the same run.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "~/db";
import { CreditBudget } from "~/features/keys/budget";
import { monthOf, PremiumUsage } from "~/features/keys/premium-quota";
import { insertKey } from "~/features/keys/queries";
import { KeyResolver } from "~/features/keys/resolver";
import { generateSecret, hashSecret, newKeyId } from "~/features/keys/secret";
import { perCallNs, printTable, summarize } from "./lib";

const KEYS = 20_000;

export async function benchKeys(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), "copilot-api-bench-"));
  const store = openStore({ path: join(home, "keys.db") });
  try {
    const secrets = Array.from({ length: KEYS }, generateSecret);
    store.transaction((tx) => {
      for (const secret of secrets)
        insertKey(tx as never, { id: newKeyId(), hash: hashSecret(secret), tier: "client", label: "", allowedModels: ["*"], rateLimit: null });
    });
    const hashes = secrets.map(hashSecret);
    const raw = store.sqlite.query("SELECT * FROM keys WHERE hash = ?");
    let i = 0;
    const nextIndex = () => (i = (i + 7919) % 1000);

    const baseline = summarize(
      "raw bun:sqlite prepared lookup by hash (hash precomputed)",
      perCallNs(() => raw.get(hashes[nextIndex()]!)),
    );
    const hashed = summarize(
      "SHA-256 of the secret + the same raw lookup",
      perCallNs(() => raw.get(hashSecret(secrets[nextIndex()]!))),
    );

    const resolver = new KeyResolver(store, { authDisabled: false, loopbackListener: false });
    for (let k = 0; k < 1000; k++) resolver.resolve(secrets[k]); // warm the cache for the first 1000
    const cached = summarize(
      "resolver, cached, within one event-loop turn (change counter + hash + map)",
      perCallNs(() => resolver.resolve(secrets[nextIndex()]!)),
    );
    // A request usually starts a turn of its own: the first resolution of a turn reads data_version.
    const turnSamples: number[] = [];
    for (let batch = 0; batch < 30; batch++) {
      let total = 0;
      for (let r = 0; r < 200; r++) {
        await new Promise((resolve) => setImmediate(resolve));
        const start = Bun.nanoseconds();
        resolver.resolve(secrets[nextIndex()]!);
        total += Bun.nanoseconds() - start;
      }
      turnSamples.push(total / 200);
    }
    const firstOfTurn = summarize("resolver, cached, first resolution of an event-loop turn (reads data_version)", turnSamples);
    // The worst case: this connection wrote a row before every request (the counter moves, the cache is dropped).
    // (A row in a temporary table: it moves total_changes() like any write, without a commit to disk.)
    store.sqlite.run("CREATE TEMP TABLE bench_touch (x)");
    const touch = store.sqlite.query("INSERT INTO bench_touch VALUES (1)");
    const writeAlone = summarize(
      "  the write alone (to subtract from the row below)",
      perCallNs(() => touch.run(), { batches: 10, perBatch: 200 }),
    );
    const afterWrite = summarize(
      "resolver after a write on this connection each time (cache dropped, the row read again)",
      perCallNs(
        () => {
          touch.run();
          resolver.resolve(secrets[nextIndex()]!);
        },
        { batches: 10, perBatch: 200 },
      ),
    );

    // Uncached: every secret resolved for the first time by a fresh resolver.
    const samples: number[] = [];
    for (let round = 0; round < 10; round++) {
      const cold = new KeyResolver(store, { authDisabled: false, loopbackListener: false });
      cold.resolve(undefined); // let it read data_version and count keys once, outside the timing
      const start = Bun.nanoseconds();
      for (let k = 1000 + round * 1900; k < 1000 + (round + 1) * 1900; k++) cold.resolve(secrets[k]);
      samples.push((Bun.nanoseconds() - start) / 1900);
    }
    const uncached = summarize("resolver, uncached (checksum + hash + prepared Drizzle lookup)", samples);
    printTable(`Key resolution per request (${KEYS.toLocaleString("en")} keys)`, "ns/op", baseline, [
      hashed,
      cached,
      firstOfTurn,
      writeAlone,
      afterWrite,
      uncached,
    ]);

    benchPremiumQuota(store, cached);
  } finally {
    store.close();
    rmSync(home, { recursive: true, force: true });
  }
}

const QUOTA_KEYS = 50;
const MODELS = 4;

/**
 * The --premium-quota check per request: premium requests used this month,
 * from usage_hourly (a whole month of hourly rows for 50 keys and 4 models),
 * cached per key; against the cached key resolution every request already pays.
 */
function benchPremiumQuota(store: ReturnType<typeof openStore>, resolution: ReturnType<typeof summarize>): void {
  const now = Date.now();
  const month = monthOf(now);
  const hours = Math.floor((now - month.start) / 3_600_000) + 1;
  const insert = store.sqlite.query("INSERT INTO usage_hourly (hour, key_id, model, requests, premium_requests) VALUES (?, ?, ?, 10, 2.5)");
  store.transaction(() => {
    for (let h = 0; h < hours; h++)
      for (let k = 0; k < QUOTA_KEYS; k++) for (let m = 0; m < MODELS; m++) insert.run(month.start + h * 3_600_000, `key_${k}`, `model-${m}`);
  });
  let k = 0;
  const nextKey = () => {
    k = (k + 7) % QUOTA_KEYS;
    return `key_${k}`;
  };
  const usage = new PremiumUsage(store);
  const cached = summarize(
    "quota check, cached (the usual case)",
    perCallNs(() => usage.used(nextKey(), now)),
  );
  const cold = new PremiumUsage(store, { ttlMs: 0 });
  const uncached = summarize(
    `quota check, uncached: SUM over the key's month (${hours * MODELS} of ${hours * MODELS * QUOTA_KEYS} rows)`,
    perCallNs(() => cold.used(nextKey(), now), { batches: 10, perBatch: 200 }),
  );
  // What a request under a quota adds to the check: the in-flight sum read, a hold taken, resized before sending, released after its event.
  let holds = 0;
  const reserved = summarize(
    "quota check, cached + in-flight hold: reserved() + reserve() + resize() + release()",
    perCallNs(() => {
      const key = nextKey();
      holds += usage.used(key, now) + usage.inFlight.reserved(key);
      const hold = usage.inFlight.reserve(key, 1);
      hold.resize(0.33);
      hold.release();
    }),
  );
  // --budget: the same ledger in nano-AIU, the model's estimate read (16 recent costs per model), and the refusal check.
  const budget = new CreditBudget(store);
  for (let m = 0; m < MODELS; m++) for (let i = 0; i < 16; i++) budget.estimates.observe(`model-${m}`, 100_000_000 + i * 1_000);
  let m = 0;
  const budgetHold = summarize(
    "budget reservation: used() cached + reserved() + estimate(model) + reserve() + release()",
    perCallNs(() => {
      const key = nextKey();
      m = (m + 1) % MODELS;
      holds += budget.used(key, now) + budget.inFlight.reserved(key);
      const hold = budget.inFlight.reserve(key, budget.estimates.estimate(`model-${m}`));
      hold.release();
    }),
  );
  if (Number.isNaN(holds)) throw new Error("unreachable: keeps the loop from being optimized away");
  printTable(
    `Premium quota and budget checks per request (${QUOTA_KEYS} keys x ${MODELS} models x ${hours} hours this month)`,
    "ns/op",
    { ...resolution, name: "resolver, cached: what every request pays already" },
    [cached, reserved, budgetHold, uncached],
  );
}
