// The hot-path pattern: a Drizzle query prepared once per connection with
// placeholders, against the same lookup as a raw bun:sqlite prepared statement.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq, sql } from "drizzle-orm";
import { openStore, preparedFor } from "~/db";
import { migrationLedger } from "~/db/migrations";
import { perCallNs, printTable, summarize } from "./lib";

const byVersion = preparedFor((db) =>
  db
    .select()
    .from(migrationLedger)
    .where(eq(migrationLedger.version, sql.placeholder("version")))
    .prepare(),
);

export function benchLookup(): void {
  const home = mkdtempSync(join(tmpdir(), "copilot-api-bench-"));
  const store = openStore({ path: join(home, "bench.db") });
  try {
    // Enough rows that the lookup is a real B-tree probe. The raw statements run
    // the SQL Drizzle writes from the ledger's one declaration.
    const insert = store.sqlite.query(store.db.insert(migrationLedger).values({ version: 0, tag: "", sha256: "", appliedAt: 0 }).toSQL().sql);
    store.sqlite.transaction(() => {
      for (let v = 1000; v < 101_000; v++) insert.run(v, `tag_${v}`, "0".repeat(64), v);
    })();
    const raw = store.sqlite.query(store.db.select().from(migrationLedger).where(eq(migrationLedger.version, 0)).toSQL().sql);
    let k = 0;
    const next = () => {
      k += 7919;
      return 1000 + (k % 100_000);
    };
    const check = byVersion(store.db).get({ version: 5000 });
    if (check?.tag !== "tag_5000") throw new Error("typed lookup returned the wrong row");

    const baseline = summarize(
      "raw bun:sqlite prepared statement",
      perCallNs(() => raw.get(next())),
    );
    const typed = summarize(
      "Drizzle, prepared once per connection",
      perCallNs(() => byVersion(store.db).get({ version: next() })),
    );
    const unprepared = summarize(
      "Drizzle, built on every call (what not to do)",
      perCallNs(() => store.db.select().from(migrationLedger).where(eq(migrationLedger.version, next())).get(), { perBatch: 2_000 }),
    );
    printTable("Point lookup by primary key (100,000 rows)", "ns/op", baseline, [typed, unprepared]);
  } finally {
    store.close();
    rmSync(home, { recursive: true, force: true });
  }
}
