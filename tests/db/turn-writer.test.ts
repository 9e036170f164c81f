import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openStore, type Store, TurnWriter } from "~/db";
import { cleanUpAfterFile, tempDir } from "../helpers";

cleanUpAfterFile();

/** A store with a scratch table, and a writer into it that notes each transaction's size. */
function setup(options: { batchSize?: number; after?: "immediate" | "timer"; failWhen?: (n: number) => boolean } = {}) {
  const store: Store = openStore({ path: join(tempDir(), "writer.db") });
  store.sqlite.run("CREATE TABLE items (n INTEGER NOT NULL)");
  const insert = store.sqlite.query("INSERT INTO items (n) VALUES (?)");
  const transactions: number[] = [];
  const committed: number[][] = [];
  const failed: number[][] = [];
  const writer = new TurnWriter<number>(store, {
    write: (batch) =>
      store.transaction(() => {
        for (const n of batch) {
          if (options.failWhen?.(n)) throw new Error(`no room for ${n}`);
          insert.run(n);
        }
        transactions.push(batch.length);
      }),
    batchSize: options.batchSize ?? 1000,
    after: options.after,
    warning: (dropped, reason) => `test writer dropped ${dropped} (${reason})`,
    onWritten: (batch) => committed.push([...batch]),
    onFailed: (batch) => failed.push([...batch]),
  });
  const rows = () => (store.sqlite.query("SELECT n FROM items ORDER BY rowid").all() as { n: number }[]).map((r) => r.n);
  return { store, writer, transactions, committed, failed, rows };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe("TurnWriter", () => {
  test("what one turn adds is written at its end, in batches of batchSize, one transaction each; settled() waits for it", async () => {
    const { store, writer, transactions, committed, rows } = setup({ batchSize: 10 });
    for (let n = 0; n < 25; n++) writer.add(n);
    expect([writer.size, rows().length]).toEqual([25, 0]);
    await writer.settled();
    expect(transactions).toEqual([10, 10, 5]);
    expect(committed.flat()).toEqual(Array.from({ length: 25 }, (_, n) => n));
    expect(rows()).toHaveLength(25);
    expect([writer.size, writer.written, writer.dropped]).toEqual([0, 25, 0]);
    await writer.settled(); // nothing scheduled: resolves at once
    writer.stop();
    store.close();
  });

  test('"timer" writes after the turn\'s setImmediate callbacks, "immediate" before the next turn', async () => {
    const late = setup({ after: "timer" });
    const early = setup();
    late.writer.add(1);
    early.writer.add(1);
    await nextTurn();
    expect([early.rows(), late.rows()]).toEqual([[1], []]);
    await Bun.sleep(5);
    expect(late.rows()).toEqual([1]);
    for (const { writer, store } of [late, early]) {
      writer.stop();
      store.close();
    }
  });

  test("a locked database is not waited for: retried about 10 ms later by itself, nothing lost", async () => {
    const { store, writer, rows } = setup();
    const other = new Database(store.path);
    other.run("BEGIN IMMEDIATE"); // another process holds the write lock
    writer.add(7);
    const started = performance.now();
    writer.flush();
    expect(performance.now() - started).toBeLessThan(1000); // the store's busy timeout (5 s) was not waited for
    await writer.settled(); // a retry pending: settles at once rather than waiting for the lock
    expect([writer.written, writer.dropped, writer.size, writer.lastWriteError]).toEqual([0, 0, 1, undefined]);
    other.run("ROLLBACK");
    other.close();
    for (let i = 0; i < 100 && writer.written === 0; i++) await Bun.sleep(5);
    expect([writer.written, rows()]).toEqual([1, [7]]);
    writer.stop();
    store.close();
  });

  test("a batch that fails is dropped, counted, told and remembered until a write succeeds; the others are written", async () => {
    const { store, writer, failed, rows } = setup({ batchSize: 2, failWhen: (n) => n === 3 });
    for (let n = 1; n <= 5; n++) writer.add(n);
    await writer.settled();
    expect(failed).toEqual([[3, 4]]);
    expect(rows()).toEqual([1, 2, 5]);
    expect([writer.written, writer.dropped, writer.size]).toEqual([3, 2, 0]);
    expect(writer.lastDropReason).toBe("no room for 3");
    writer.add(3);
    await writer.settled();
    expect(writer.lastWriteError).toBe("no room for 3");
    writer.add(6);
    await writer.settled();
    expect(writer.lastWriteError).toBeUndefined();
    writer.stop();
    store.close();
  });

  test("a removed item is never written; stop() writes what is left and an add() after it is written at once", () => {
    const { store, writer, rows } = setup();
    writer.add(1);
    writer.add(2);
    expect([writer.remove(1), writer.remove(9)]).toEqual([true, false]);
    writer.stop();
    expect(rows()).toEqual([2]);
    writer.add(3);
    expect(rows()).toEqual([2, 3]);
    store.close();
  });
});
