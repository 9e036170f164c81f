import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openStore, type Store } from "~/db";
import { RetentionJob } from "~/features/events";
import { expandChain, responsesRetention, type StoredResponse, StoredResponses } from "~/features/responses";
import { COMPRESS_FROM_BYTES, decodeBody, encodeBody } from "~/features/responses/codec";
import { cleanUpAfterFile, tempDir } from "../helpers";

cleanUpAfterFile();

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 2, 10, 12, 0, 0);

function store(): Store {
  return openStore({ path: join(tempDir(), "responses.db") });
}

const count = (s: Store) => (s.sqlite.query("SELECT count(*) AS n FROM responses").get() as { n: number }).n;

let serial = 0;
function stored(over: Partial<StoredResponse> = {}): StoredResponse {
  const id = over.id ?? `resp_${++serial}`;
  return {
    id,
    keyId: "key_a",
    model: "gpt-4.1",
    createdAt: NOW,
    status: "completed",
    previousResponseId: null,
    input: [{ role: "user", content: `question ${id}` }],
    response: {
      id,
      object: "response",
      status: "completed",
      output: [{ type: "message", role: "assistant", content: [{ type: "output_text", text: `answer ${id}` }] }],
    },
    ...over,
  };
}

describe("stored responses", () => {
  test("save() costs a map insert: found at once (read your own writes), written on the next timer turn", async () => {
    const s = store();
    const responses = new StoredResponses(s);
    const r = stored();
    responses.save(r);
    expect(count(s)).toBe(0);
    expect(responses.find(r.id, "key_a")).toEqual(r);
    await new Promise((resolve) => setImmediate(resolve));
    expect(count(s)).toBe(0); // not in this turn: the answer leaves first
    await Bun.sleep(5);
    expect(count(s)).toBe(1);
    expect(responses.waiting).toBe(0);
    // Now read back from the table: the same response, and the size of its JSON.
    expect(responses.find(r.id, "key_a")).toEqual({ ...r, bodyBytes: JSON.stringify({ input: r.input, response: r.response }).length });
    responses.stop();
    s.close();
  });

  test("another key finds nothing, and cannot delete it", () => {
    const s = store();
    const responses = new StoredResponses(s);
    const r = stored();
    responses.save(r);
    expect(responses.find(r.id, "key_b")).toBeUndefined();
    expect(responses.delete(r.id, "key_b")).toBe(false);
    responses.flush();
    expect(responses.find(r.id, "key_b")).toBeUndefined();
    expect(responses.delete(r.id, "key_b")).toBe(false);
    expect(responses.delete(r.id, "key_a")).toBe(true);
    expect(responses.find(r.id, "key_a")).toBeUndefined();
    expect(count(s)).toBe(0);
    responses.stop();
    s.close();
  });

  test("a pending response deleted before its write is never written; saved again under its id, only the latest is", async () => {
    const s = store();
    const responses = new StoredResponses(s);
    const gone = stored();
    responses.save(gone);
    expect(responses.delete(gone.id, "key_a")).toBe(true);
    const first = stored({ status: "incomplete" });
    const latest: StoredResponse = { ...first, status: "completed" };
    responses.save(first);
    responses.save(latest);
    expect(responses.waiting).toBe(1);
    await Bun.sleep(5);
    expect([count(s), responses.written, responses.dropped]).toEqual([1, 1, 0]);
    expect(responses.find(gone.id, "key_a")).toBeUndefined();
    expect(responses.find(first.id, "key_a")?.status).toBe("completed");
    responses.stop();
    s.close();
  });

  test("a locked database is retried later, never waited for, while lookups still find the response", () => {
    const s = store();
    const other = new Database(s.path);
    other.run("BEGIN IMMEDIATE"); // another process holds the write lock
    const responses = new StoredResponses(s);
    const r = stored();
    responses.save(r);
    const started = performance.now();
    responses.flush();
    expect(performance.now() - started).toBeLessThan(1000); // busy_timeout (5 s) was not waited for
    expect(responses.written).toBe(0);
    expect(responses.find(r.id, "key_a")?.id).toBe(r.id);
    other.run("ROLLBACK");
    other.close();
    responses.flush();
    expect([responses.written, responses.dropped, count(s)]).toEqual([1, 0, 1]);
    responses.stop();
    s.close();
  });

  test("stop() writes everything still pending, in batches; a save after stop is written at once", () => {
    const s = store();
    const responses = new StoredResponses(s, { batchSize: 7 });
    for (let i = 0; i < 30; i++) responses.save(stored());
    responses.stop();
    expect(count(s)).toBe(30);
    responses.save(stored());
    expect(count(s)).toBe(31);
    s.close();
  });

  test("large bodies are stored zstd-compressed, small ones as JSON, and read back the same", () => {
    const s = store();
    const responses = new StoredResponses(s);
    const image = `data:image/png;base64,${Buffer.from(new Uint8Array(200_000).map((_, i) => (i * 7) % 13)).toString("base64")}`;
    const big = stored({ input: [{ role: "user", content: [{ type: "input_image", image_url: image }] }] });
    const small = stored();
    responses.save(big);
    responses.save(small);
    responses.flush();
    const rows = s.sqlite.query("SELECT id, encoding, length(body) AS bytes FROM responses ORDER BY id").all() as {
      id: string;
      encoding: string;
      bytes: number;
    }[];
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get(big.id)!.encoding).toBe("zstd");
    expect(byId.get(big.id)!.bytes).toBeLessThan(image.length / 4);
    expect(byId.get(small.id)!.encoding).toBe("json");
    expect(responses.find(big.id, "key_a")).toEqual({ ...big, bodyBytes: expect.any(Number) });
    expect(responses.find(small.id, "key_a")).toEqual({ ...small, bodyBytes: expect.any(Number) });
    responses.stop();
    s.close();
  });

  test("the codec round-trips either way, compressing from its threshold", () => {
    const short = { a: "x" };
    const long = { a: "x".repeat(COMPRESS_FROM_BYTES) };
    expect(encodeBody(short).encoding).toBe("json");
    expect(encodeBody(long).encoding).toBe("zstd");
    for (const value of [short, long]) {
      const { encoding, body } = encodeBody(value);
      expect(decodeBody(encoding, body)).toEqual(value);
    }
  });
});

describe("previous_response_id expansion", () => {
  test("the chain's inputs and outputs, oldest first; reasoning without encrypted_content is left out", () => {
    const s = store();
    const responses = new StoredResponses(s);
    const one = stored({ id: "resp_one" });
    const two = stored({
      id: "resp_two",
      previousResponseId: "resp_one",
      response: {
        id: "resp_two",
        output: [
          { type: "reasoning", id: "rs_1", summary: [] },
          { type: "reasoning", id: "rs_2", summary: [], encrypted_content: "enc" },
          { type: "function_call", call_id: "c", name: "f", arguments: "{}" },
        ],
      },
    });
    const three = stored({ id: "resp_three", previousResponseId: "resp_two", input: [{ type: "function_call_output", call_id: "c", output: "ok" }] });
    responses.save(one);
    responses.save(two);
    responses.flush(); // two on disk, the third still in memory: both are read
    responses.save(three);
    const expansion = expandChain(responses, "key_a", "resp_three");
    expect(expansion).toEqual({
      turns: 3,
      credentialId: null,
      items: [
        ...one.input,
        ...(one.response.output as unknown[]),
        ...two.input,
        { type: "reasoning", id: "rs_2", summary: [], encrypted_content: "enc" },
        { type: "function_call", call_id: "c", name: "f", arguments: "{}" },
        ...three.input,
        ...(three.response.output as unknown[]),
      ],
    });
    responses.stop();
    s.close();
  });

  test("a missing link, or one that is another key's, is named", () => {
    const s = store();
    const responses = new StoredResponses(s);
    responses.save(stored({ id: "resp_theirs", keyId: "key_b" }));
    responses.save(stored({ id: "resp_mine", previousResponseId: "resp_theirs" }));
    responses.save(stored({ id: "resp_orphan", previousResponseId: "resp_deleted" }));
    expect(expandChain(responses, "key_a", "resp_nothing")).toEqual({ missing: "resp_nothing" });
    expect(expandChain(responses, "key_a", "resp_theirs")).toEqual({ missing: "resp_theirs" });
    expect(expandChain(responses, "key_a", "resp_mine")).toEqual({ missing: "resp_theirs" });
    expect(expandChain(responses, "key_a", "resp_orphan")).toEqual({ missing: "resp_deleted" });
    responses.stop();
    s.close();
  });
});

describe("limits on what is stored and expanded (issue 18, point 2)", () => {
  const sized = (id: string, bytes: number, over: Partial<StoredResponse> = {}) =>
    stored({ id, input: [{ role: "user", content: "x".repeat(bytes) }], ...over });
  const keyRows = (s: Store, keyId: string) => s.sqlite.query("SELECT id FROM responses WHERE key_id = ? ORDER BY created_at").all(keyId) as { id: string }[];

  test("a response past the per-response limit keeps only a note of its size; expanding through it says so", () => {
    const s = store();
    const responses = new StoredResponses(s, { maxResponseBytes: 10_000 });
    responses.save(sized("resp_big", 20_000));
    responses.save(sized("resp_next", 10, { previousResponseId: "resp_big" }));
    responses.flush();
    const row = s.sqlite.query("SELECT length(body) AS bytes FROM responses WHERE id = 'resp_big'").get() as { bytes: number };
    expect(row.bytes).toBeLessThan(200);
    const found = responses.find("resp_big", "key_a");
    expect(found?.omittedBytes).toBeGreaterThan(20_000);
    expect(expandChain(responses, "key_a", "resp_next")).toEqual({ notStored: { id: "resp_big", bytes: found!.omittedBytes! } });
    responses.stop();
    s.close();
  });

  test("expansion stops reading links once the budget is passed (an older missing link is never reached)", () => {
    const s = store();
    const responses = new StoredResponses(s);
    let previous: string | null = "resp_gone";
    for (let i = 0; i < 10; i++) {
      responses.save(sized(`resp_${i}`, 1000, { previousResponseId: previous }));
      previous = `resp_${i}`;
    }
    responses.flush();
    expect(expandChain(responses, "key_a", "resp_9")).toEqual({ missing: "resp_gone" });
    const cut = expandChain(responses, "key_a", "resp_9", 3500);
    expect(cut).toMatchObject({ tooLarge: { turns: 3 } }); // about 1,200 bytes a link: the third passes 3,500
    expect((cut as { tooLarge: { bytes: number } }).tooLarge.bytes).toBeGreaterThan(3500);
    responses.stop();
    s.close();
  });

  test("past the per-key limit a key's oldest responses are deleted; other keys keep theirs", () => {
    const s = store();
    // Bodies of random text do not compress: each takes about 3 KB in the table.
    const noise = (n: number) => Array.from({ length: n }, () => Math.random().toString(36).slice(2, 3)).join("");
    const responses = new StoredResponses(s, { maxKeyBytes: 10_000 });
    responses.save(stored({ id: "resp_other", keyId: "key_b", createdAt: NOW - 100, input: [{ role: "user", content: noise(3000) }] }));
    for (let i = 0; i < 8; i++) {
      responses.save(stored({ id: `resp_${i}`, createdAt: NOW + i, input: [{ role: "user", content: noise(3000) }] }));
      responses.flush();
    }
    const kept = keyRows(s, "key_a").map((r) => r.id);
    expect(kept.length).toBeGreaterThanOrEqual(2);
    expect(kept.length).toBeLessThan(8);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => `resp_${8 - kept.length + i}`)); // the newest, in order
    const bytes = (s.sqlite.query("SELECT sum(length(body)) AS n FROM responses WHERE key_id = 'key_a'").get() as { n: number }).n;
    expect(bytes).toBeLessThanOrEqual(10_000);
    expect(keyRows(s, "key_b")).toEqual([{ id: "resp_other" }]);
    responses.stop();
    s.close();
  });

  test("a response past the retention window is gone for every lookup at once, before any purge", () => {
    const s = store();
    const responses = new StoredResponses(s, { retentionDays: 2, now: () => NOW });
    responses.save(stored({ id: "resp_stale", createdAt: NOW - 3 * DAY }));
    responses.save(stored({ id: "resp_fresh", createdAt: NOW - DAY, previousResponseId: "resp_stale" }));
    expect(responses.find("resp_stale", "key_a")).toBeUndefined(); // pending
    responses.flush();
    expect(count(s)).toBe(2); // still in the table: the purge has not run
    expect(responses.find("resp_stale", "key_a")).toBeUndefined();
    expect(responses.find("resp_fresh", "key_a")?.id).toBe("resp_fresh");
    expect(expandChain(responses, "key_a", "resp_fresh")).toEqual({ missing: "resp_stale" });
    responses.stop();
    s.close();
  });
});

describe("retention of stored responses", () => {
  test("deletes responses older than the window in batches, keeps newer ones and the events; 0 days keeps all", async () => {
    const s = store();
    const responses = new StoredResponses(s);
    for (let i = 0; i < 120; i++) responses.save(stored({ createdAt: NOW - 40 * DAY + i }));
    for (let i = 0; i < 5; i++) responses.save(stored({ createdAt: NOW - DAY }));
    responses.flush();
    s.sqlite.run("INSERT INTO events (ts, key_id, route, status, latency_ms) VALUES (?, 'k', '/responses', 200, 1)", [NOW - 40 * DAY]);

    expect(await new RetentionJob(s, { days: 0, target: responsesRetention }).purge(NOW)).toBe(0);
    expect(count(s)).toBe(125);
    expect(await new RetentionJob(s, { days: 30, target: responsesRetention, batchSize: 50 }).purge(NOW)).toBe(120);
    expect(count(s)).toBe(5);
    expect((s.sqlite.query("SELECT count(*) AS n FROM events").get() as { n: number }).n).toBe(1);
    responses.stop();
    s.close();
  });
});
