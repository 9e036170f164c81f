import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { diffShapes, shapeOfDatabase, shapeOfSchema } from "~/db/introspect";
import { applyMigrations, loadMigrations, loadPgMigrations } from "~/db/migrations";
import { connectPostgres } from "~/db/pg/connect";
import { shapeOfPgDatabase } from "~/db/pg/introspect";
import { applyPgMigrations } from "~/db/pg/runner";
import * as schema from "~/db/schema";
import { cleanUpAfterFile, tempDir } from "../helpers";
import { NO_POSTGRES, postgresBin, startPostgres } from "../postgres";

cleanUpAfterFile();

const bin = postgresBin();
if (!bin) console.warn(`tests/db/pg-dialect.test.ts: ${NO_POSTGRES}`);
const server = bin ? startPostgres(bin) : undefined;

/** What drizzle/ builds, read back from SQLite itself. */
function sqliteShape() {
  const sqlite = new Database(join(tempDir(), "replay.db"), { strict: true });
  try {
    applyMigrations(sqlite, loadMigrations({}));
    return shapeOfDatabase(sqlite);
  } finally {
    sqlite.close();
  }
}

describe.skipIf(!bin)("the two dialects declare the same store", () => {
  test("drizzle/ on SQLite and drizzle-pg/ on Postgres build the same tables, columns, nullability, defaults, indexes, CHECKs and foreign keys", async () => {
    const conn = await connectPostgres(await server!.freshDatabase());
    try {
      await applyPgMigrations(conn.db, loadPgMigrations({}));
      const fromSqlite = sqliteShape();
      expect(Object.keys(fromSqlite).length).toBeGreaterThan(5);
      expect(diffShapes(fromSqlite, await shapeOfPgDatabase(conn.db))).toEqual([]);
      // And the migrated Postgres is what schema.ts declares: `db verify`'s drift check on Postgres.
      expect(diffShapes(shapeOfSchema(schema), await shapeOfPgDatabase(conn.db))).toEqual([]);
    } finally {
      await conn.close();
    }
  });

  test("a column, a default, a NOT NULL, an index or a CHECK on one dialect only is caught", async () => {
    const conn = await connectPostgres(await server!.freshDatabase());
    try {
      await applyPgMigrations(conn.db, loadPgMigrations({}));
      // The plants: what a migration added to drizzle-pg/ and forgotten in drizzle/ would do.
      for (const plant of [
        'ALTER TABLE "keys" ADD COLUMN "planted" text',
        `ALTER TABLE "keys" ALTER COLUMN "label" SET DEFAULT 'x'`,
        'ALTER TABLE "events" ALTER COLUMN "model" SET NOT NULL',
        'CREATE INDEX "events_key_id_idx" ON "events" ("key_id")',
        'ALTER TABLE "responses" ADD CONSTRAINT "responses_model_set" CHECK ("model" <> \'\')',
        'ALTER TABLE "usage_hourly" ALTER COLUMN "premium_requests" TYPE text',
      ])
        await conn.db.execute(plant as never);
      expect(diffShapes(sqliteShape(), await shapeOfPgDatabase(conn.db))).toEqual([
        "events: column model is declared as text but the database has text not null",
        "events: index events_key_id_idx is declared as (absent) but the database has (key_id)",
        "keys: column label is declared as text not null default '' but the database has text not null default 'x'",
        "keys: column planted is declared as (absent) but the database has text",
        "responses: CHECK constraints are declared as [responses_encoding_known, responses_status_known] but the database has [responses_encoding_known, responses_model_set, responses_status_known]",
        "usage_hourly: column premium_requests is declared as real not null default 0 but the database has text not null default 0",
      ]);
    } finally {
      await conn.close();
    }
  });
});
