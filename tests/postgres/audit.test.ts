// The store's own admin actions on PostgreSQL, audited as on SQLite: migrations applied (at start or by `db migrate`), retention passes that deleted rows.
import { afterAll, describe, expect, test } from "bun:test";
import { userInfo } from "node:os";
import { openPgStore } from "~/db/postgres";
import { startFakeUpstream } from "../fake-upstream";
import { cleanUpAfterFile, cli, isolatedEnv, startServer, tempDir } from "../helpers";
import { NO_POSTGRES, pgRows, postgresBin, startPostgres } from "../postgres";

cleanUpAfterFile();

const bin = postgresBin();
if (!bin) console.warn(`tests/postgres/audit.test.ts: ${NO_POSTGRES}`);
const server = bin ? startPostgres(bin) : undefined;
const fake = startFakeUpstream();
afterAll(() => fake.stop());

interface Entry {
  action: string;
  actor_kind: string;
  actor: string;
  target: string | null;
  after: unknown;
}
const entries = (url: string, action: string) =>
  pgRows<Entry>(url, `SELECT action, actor_kind, actor, target, after FROM audit_log WHERE action = '${action}' ORDER BY id`);

describe.skipIf(!bin)("audited on PostgreSQL", () => {
  test("migrations applied: once, by whoever applied them, as the OS user, naming the files and the database (never its password)", async () => {
    const url = await server!.freshDatabase();
    const withPassword = url.replace("postgres@", "postgres:s3cret-pw@");
    const first = await openPgStore(withPassword);
    const second = await openPgStore(url); // nothing left to apply: nothing audited
    await Promise.all([first.close(), second.close()]);
    const applied = await entries(url, "db.migrations_applied");
    expect(applied).toHaveLength(1);
    expect(applied[0]).toMatchObject({ actor_kind: "cli", actor: userInfo().username });
    expect(applied[0]?.target).toContain("127.0.0.1");
    expect(applied[0]?.target).not.toContain("s3cret-pw");
    const files = applied[0]?.after as string[];
    expect(files[0]).toBe("drizzle-pg/0000_baseline.sql");
    expect(files.at(-1)).toMatch(/^drizzle-pg\/\d{4}_\w+\.sql$/);

    // `db migrate --database-url` on a fresh database audits what it applied too.
    const other = await server!.freshDatabase();
    const migrated = await cli(["db", "migrate", "--database-url", other], isolatedEnv(tempDir()));
    expect(migrated.code).toBe(0);
    const byCli = await entries(other, "db.migrations_applied");
    expect(byCli).toHaveLength(1);
    expect(byCli[0]?.after).toEqual(files);
  });

  test("a retention pass of a running gateway that deleted rows is audited as the gateway, per table", async () => {
    const url = await server!.freshDatabase();
    const day = 86_400_000;
    const now = Date.now();
    const store = await openPgStore(url);
    await store.close();
    await pgRows(
      url,
      `INSERT INTO events (ts, key_id, route, status, latency_ms) VALUES (${now - 100 * day}, 'k', '/chat/completions', 200, 5), (${now}, 'k', '/chat/completions', 200, 5);
       INSERT INTO responses (id, key_id, model, created_at, status, encoding, body) VALUES ('resp_old', 'k', 'm', ${now - 40 * day}, 'completed', 'json', '\\x7b7d');`,
    );
    const env = isolatedEnv(tempDir(), { ...fake.env(), GH_TOKEN: fake.githubToken, COPILOT_API_DATABASE_URL: url });
    const gateway = await startServer(["--events-retention-days", "90", "--responses-retention-days", "30"], env);
    try {
      // The first pass runs a second after the start.
      let purged: Entry[] = [];
      for (let i = 0; i < 100 && purged.length < 2; i++) {
        purged = await entries(url, "retention.run");
        if (purged.length < 2) await Bun.sleep(50);
      }
      expect(purged.map((e) => [e.target, e.actor_kind, e.actor])).toEqual([
        ["events", "gateway", "gateway"],
        ["stored responses", "gateway", "gateway"],
      ]);
      expect(purged[0]?.after).toMatchObject({ deleted: 1, olderThanDays: 90 });
      expect(purged[1]?.after).toMatchObject({ deleted: 1, olderThanDays: 30 });
    } finally {
      await gateway.stop();
    }
  });
});
