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
    // Now read back from the table: the same response.
    expect(responses.find(r.id, "key_a")).toEqual(r);
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
    expect(responses.find(big.id, "key_a")).toEqual(big);
    expect(responses.find(small.id, "key_a")).toEqual(small);
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
