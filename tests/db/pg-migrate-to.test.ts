import { afterAll, describe, expect, test } from "bun:test";
import { getTableName } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { openStore } from "~/db";
import { pgTables } from "~/db/postgres";
import * as schema from "~/db/schema";
import { startFakeUpstream } from "../fake-upstream";
import { chatWithKey, cleanUpAfterFile, cli, createKey, dbFileOf, isolatedEnv, startServer, tempDir } from "../helpers";
import { NO_POSTGRES, postgresBin, startPostgres } from "../postgres";

cleanUpAfterFile();

const bin = postgresBin();
if (!bin) console.warn(`tests/db/pg-migrate-to.test.ts: ${NO_POSTGRES}`);
const server = bin ? startPostgres(bin) : undefined;
const fake = startFakeUpstream();
afterAll(() => fake.stop());

const TABLES = [
  "credentials",
  "keys",
  "sessions",
  "sign_in_links",
  "events",
  "usage_hourly",
  "responses",
  "audit_log",
  "limit_holds",
  "rate_buckets",
  "response_bytes",
] as const;
/** A row as JSON with every object's keys sorted (jsonb keeps its own key order): the same row reads the same from either dialect. */
const canonical = (row: Record<string, unknown>) =>
  JSON.stringify(row, (_k, v) =>
    typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && v.type !== "Buffer"
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );

describe.skipIf(!bin)("db migrate-to postgres://…", () => {
  test("copies every row of a used SQLite store into an empty PostgreSQL database, which then serves; a second copy is refused", async () => {
    const home = tempDir();
    const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
    // A store with a bit of everything: keys (one revoked, one with a budget), events of several protocols, a stored response, audit entries.
    const gateway = await startServer([], env);
    const key = await createKey(env, "--budget", "5usd", "--label", "alice");
    const gone = await createKey(env, "--tier", "admin");
    expect((await chatWithKey(gateway.url, key.secret, "gpt-4.1")).status).toBe(200);
    const answer = await fetch(`${gateway.url}/v1/responses`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key.secret}` },
      body: JSON.stringify({ model: "gpt-5-mini", input: "x".repeat(5000) }),
    });
    expect(answer.status).toBe(200);
    expect((await chatWithKey(gateway.url, "cpk_nope", "gpt-4.1")).status).toBe(401);
    expect((await gateway.stop()) === 0).toBe(true);
    expect((await cli(["keys", "revoke", gone.id], env)).code).toBe(0);

    const url = await server!.freshDatabase();
    const copied = await cli(["db", "migrate-to", url], env);
    expect(copied.code).toBe(0);

    const store = openStore({ path: dbFileOf(home) });
    const client = postgres(url, { max: 1, onnotice: () => {} });
    const pg = drizzle({ client });
    try {
      const sqliteTables = Object.values(schema).filter((t) => typeof t === "object" && t !== null && "getSQL" in t) as Parameters<typeof getTableName>[0][];
      for (const name of TABLES) {
        const from = sqliteTables.find((t) => getTableName(t) === name)!;
        const to = Object.values(pgTables).find((t) => typeof t === "object" && t !== null && "getSQL" in t && getTableName(t as never) === name)!;
        const sqliteRows = (
          store.db
            .select()
            .from(from as never)
            .all() as Record<string, unknown>[]
        )
          .map(canonical)
          .sort();
        const all = (await pg.select().from(to as never)) as Record<string, unknown>[];
        // The target's own audit entry for the migrations that made it: kept, after every copied entry.
        const own = (row: Record<string, unknown>) =>
          name === "audit_log" && row.action === "db.migrations_applied" && String(row.target).startsWith("postgres://");
        const pgRows = all
          .filter((row) => !own(row))
          .map(canonical)
          .sort();
        expect(pgRows).toEqual(sqliteRows);
        if (name === "audit_log") {
          const ownIds = all.filter(own).map((row) => Number(row.id));
          expect(ownIds).toHaveLength(1);
          expect(ownIds[0]).toBeGreaterThan(Math.max(...all.filter((row) => !own(row)).map((row) => Number(row.id))));
        }
      }
      const [events] = await client<{ n: number }[]>`SELECT count(*)::int AS n FROM events`;
      expect(events?.n).toBe(3);
    } finally {
      store.close();
      await client.end();
    }

    // The copy serves: the key and its stored response are there, and new events get new ids.
    const onPg = await startServer(["--database-url", url], { ...env });
    try {
      expect((await chatWithKey(onPg.url, key.secret, "gpt-4.1")).status).toBe(200);
      expect((await chatWithKey(onPg.url, gone.secret, "gpt-4.1")).status).toBe(401);
    } finally {
      await onPg.stop();
    }

    const again = await cli(["db", "migrate-to", url], env);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain("already holds data");
  });
});
