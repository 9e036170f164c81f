// The per-key cap on stored responses' bytes on a PostgreSQL store that several gateways write: held on the database's total.
import { describe, expect, test } from "bun:test";
import { openPgStore } from "~/db/postgres";
import { type StoredResponse, StoredResponses } from "~/features/responses";
import { cleanUpAfterFile } from "../helpers";
import { NO_POSTGRES, pgRows, postgresBin, startPostgres } from "../postgres";

cleanUpAfterFile();

const bin = postgresBin();
if (!bin) console.warn(`tests/postgres/responses-cap.test.ts: ${NO_POSTGRES}`);
const server = bin ? startPostgres(bin) : undefined;

const NOW = 1_800_000_000_000;
/** Random text does not compress: each body takes about 3 KB in the table. */
const noise = (n: number) => Array.from({ length: n }, () => Math.random().toString(36).slice(2, 3)).join("");

const stored = (id: string, keyId: string, createdAt: number): StoredResponse => ({
  id,
  keyId,
  model: "gpt-4.1",
  createdAt,
  status: "completed",
  previousResponseId: null,
  input: [{ role: "user", content: noise(3000) }],
  response: { id, object: "response", status: "completed", output: [] },
});

const bytesOf = async (url: string, keyId: string) =>
  Number((await pgRows<{ n: string | null }>(url, `SELECT sum(octet_length(body)) AS n FROM responses WHERE key_id = '${keyId}'`))[0]?.n ?? 0);
const idsOf = async (url: string, keyId: string) =>
  (await pgRows<{ id: string }>(url, `SELECT id FROM responses WHERE key_id = '${keyId}' ORDER BY created_at, id`)).map((row) => row.id);

describe.skipIf(!bin)("the per-key cap on stored responses on PostgreSQL", () => {
  test("two gateways writing one key at once: the database's total stays within the cap, the newest kept; other keys keep theirs", async () => {
    const url = await server!.freshDatabase();
    const stores = await Promise.all([openPgStore(url), openPgStore(url)]);
    const gateways = stores.map((store) => new StoredResponses(store, { maxKeyBytes: 20_000 }));
    gateways[0]!.save(stored("resp_other", "key_b", NOW - 100));
    await gateways[0]!.flush();
    // 12 rounds, each gateway writing one response of key_a at the same moment: ~72 KB written, 20 KB allowed.
    for (let round = 0; round < 12; round++) {
      for (const [g, gateway] of gateways.entries()) gateway.save(stored(`resp_${String(round).padStart(2, "0")}_${g}`, "key_a", NOW + round));
      await Promise.all(gateways.map((gateway) => gateway.flush()));
      // Each gateway alone wrote no more than ~3 KB a round: only the database's total passes the cap.
      expect(await bytesOf(url, "key_a")).toBeLessThanOrEqual(20_000);
    }
    const kept = await idsOf(url, "key_a");
    expect(kept.length).toBeGreaterThanOrEqual(4);
    expect(kept.length).toBeLessThan(24);
    // The newest are the ones kept (oldest first out, whichever gateway wrote them).
    const written = Array.from({ length: 12 }, (_, round) => [0, 1].map((g) => `resp_${String(round).padStart(2, "0")}_${g}`)).flat();
    expect(kept).toEqual(written.slice(-kept.length));
    expect(await idsOf(url, "key_b")).toEqual(["resp_other"]);
    // The running total agrees with the table once trimmed (an upper bound otherwise).
    const [count] = await pgRows<{ bytes: string }>(url, "SELECT bytes FROM response_bytes WHERE key_id = 'key_a'");
    expect(Number(count?.bytes)).toBeGreaterThanOrEqual(await bytesOf(url, "key_a"));
    for (const gateway of gateways) await gateway.stop();
    await Promise.all(stores.map((store) => store.close()));
  });

  test("responses stored before the count began (an older build, migrate-to) are counted on the key's next write", async () => {
    const url = await server!.freshDatabase();
    const store = await openPgStore(url);
    const first = new StoredResponses(store, { maxKeyBytes: 1_000_000 });
    for (let i = 0; i < 8; i++) first.save(stored(`resp_old_${i}`, "key_a", NOW + i));
    await first.flush();
    // As if written by a build that kept no count.
    await pgRows(url, "DELETE FROM response_bytes");
    const capped = new StoredResponses(store, { maxKeyBytes: 10_000 });
    capped.save(stored("resp_new", "key_a", NOW + 100));
    await capped.flush();
    expect(await bytesOf(url, "key_a")).toBeLessThanOrEqual(10_000);
    expect((await idsOf(url, "key_a")).at(-1)).toBe("resp_new");
    await first.stop();
    await capped.stop();
    await store.close();
  });
});
