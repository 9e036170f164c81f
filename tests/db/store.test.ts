import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { eq, sql } from "drizzle-orm";
import { openStore, preparedFor } from "~/db";
import { migrationLedger, readMigrationFolder } from "~/db/migrations";
import { AppError } from "~/lib/errors";
import { cleanUpAfterFile, tempDir, writeMigrations } from "../helpers";

cleanUpAfterFile();

const ledgerRow = preparedFor((db) =>
  db
    .select()
    .from(migrationLedger)
    .where(eq(migrationLedger.version, sql.placeholder("version")))
    .prepare(),
);

describe("store", () => {
  test("preparedFor builds a statement once per connection and reuses it", () => {
    const a = openStore({ path: join(tempDir(), "a.db") });
    const b = openStore({ path: join(tempDir(), "b.db") });
    expect(ledgerRow(a.db)).toBe(ledgerRow(a.db));
    expect(ledgerRow(a.db)).not.toBe(ledgerRow(b.db));
    expect(ledgerRow(a.db).get({ version: 1 })?.tag).toBe("0000_placeholder");
    expect(ledgerRow(a.db).get({ version: 99 })).toBeUndefined();
    a.close();
    b.close();
  });

  test("transaction() takes the write lock at BEGIN, so another writer waits instead of racing", () => {
    const path = join(tempDir(), "tx.db");
    const store = openStore({ path });
    const other = new Database(path);
    other.run("PRAGMA busy_timeout = 0");
    let otherError = "";
    store.transaction(() => {
      // Nothing written yet: a deferred transaction would hold no lock here.
      try {
        other.run("BEGIN IMMEDIATE");
        other.run("ROLLBACK");
      } catch (error) {
        otherError = (error as { code?: string }).code ?? "";
      }
    });
    expect(otherError).toBe("SQLITE_BUSY");
    other.close();
    store.close();
  });

  test("transaction(): one made inside another is a savepoint (its failure undoes only its own writes); a failing outer one undoes everything", () => {
    const store = openStore({ path: join(tempDir(), "nested.db") });
    store.sqlite.run("CREATE TABLE t (x)");
    const values = () =>
      store.sqlite
        .query<{ x: number }, []>("SELECT x FROM t ORDER BY x")
        .all()
        .map((row) => row.x);
    store.transaction((tx) => {
      tx.run(sql`INSERT INTO t VALUES (1)`);
      expect(() =>
        store.transaction((inner) => {
          inner.run(sql`INSERT INTO t VALUES (2)`);
          throw new Error("inner failed");
        }),
      ).toThrow("inner failed");
      tx.run(sql`INSERT INTO t VALUES (3)`);
    });
    expect(values()).toEqual([1, 3]);
    expect(() =>
      store.transaction((tx) => {
        tx.run(sql`INSERT INTO t VALUES (4)`);
        tx.rollback();
      }),
    ).toThrow();
    expect(values()).toEqual([1, 3]);
    expect(store.sqlite.inTransaction).toBe(false);
    store.close();
  });

  test("backgroundWrite() never waits for the lock (busy timeout 0 inside) and leaves the default busy timeout behind, every time", () => {
    const store = openStore({ path: join(tempDir(), "busy.db") });
    const timeout = () => store.sqlite.query<{ timeout: number }, []>("PRAGMA busy_timeout").get()!.timeout;
    const before = timeout();
    expect(before).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++) {
      expect(store.backgroundWrite(timeout)).toBe(0);
      expect(timeout()).toBe(before);
    }
    store.close();
  });

  test("close() checkpoints and truncates the WAL", () => {
    const path = join(tempDir(), "c.db");
    const store = openStore({ path });
    store.sqlite.run("CREATE TABLE t (x)");
    store.sqlite.run("INSERT INTO t VALUES (1)");
    store.close();
    expect(Bun.file(`${path}-wal`).size).toBe(0);
  });
});

describe("migration folder", () => {
  test("a .sql file the journal does not list is refused, naming it", () => {
    const dir = writeMigrations(join(tempDir(), "m"), [{ tag: "0000_a", sql: "CREATE TABLE a (x);" }]);
    writeFileSync(join(dir, "0001_from_other_branch.sql"), "CREATE TABLE b (x);");
    expect(() => readMigrationFolder(dir)).toThrow(`${dir}/0001_from_other_branch.sql is not listed in ${dir}/meta/_journal.json`);
  });

  test("a journal entry whose file is missing is refused, naming it", () => {
    const dir = writeMigrations(join(tempDir(), "m"), [{ tag: "0000_a", sql: "CREATE TABLE a (x);" }]);
    rmSync(join(dir, "0000_a.sql"));
    expect(() => readMigrationFolder(dir)).toThrow(AppError);
    expect(() => readMigrationFolder(dir)).toThrow(`${dir}/0000_a.sql is listed in`);
  });
});
