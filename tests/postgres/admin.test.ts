import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { compose } from "~/compose";
import { composeOnPostgres } from "~/compose-pg";
import { openStore } from "~/db";
import { openPgStore, pgTables } from "~/db/postgres";
import { auditLog } from "~/db/schema";
import { type AuditEntry, sqliteAuditLog } from "~/features/audit";
import { pgAuditLog } from "~/features/audit/pg";
import { writeEventsPg } from "~/features/events/pg";
import { writeEvents } from "~/features/events/queries";
import { createKey } from "~/features/keys";
import { listen } from "~/listen";
import { seedBatch, signIn } from "../dashboard/harness";
import { appOptions, cleanUpAfterFile, cli, isolatedEnv, tempDir } from "../helpers";
import { captureLog } from "../log-capture";
import { NO_POSTGRES, pgRows, postgresBin, startPostgres } from "../postgres";

cleanUpAfterFile();

const bin = postgresBin();
if (!bin) console.warn(`tests/postgres/admin.test.ts: ${NO_POSTGRES}`);
const server = bin ? startPostgres(bin) : undefined;

const HOUR = 3_600_000;
/** One wall clock for both gateways: windows, sessions and audit times are the same millisecond on each. */
// Mid-hour, and always in the past: a sign-in link the CLI makes (real clock, 10 minutes to live) is then still in time for this clock.
const NOW = Math.floor(Date.now() / HOUR) * HOUR - HOUR + 37 * 60_000 + 12_345;
const clock = () => NOW;

/**
 * The same gateway twice, in this process: over a SQLite file and over a fresh PostgreSQL
 * database, holding the same keys and fed the same events and audit entries, each on a real
 * HTTP server on loopback.
 */
async function bothStores() {
  const dbPath = join(tempDir(), "copilot-api.db");
  const store = openStore({ path: dbPath });
  const admin = createKey(store.db, { tier: "admin", label: "ops laptop", allowedModels: ["*"], rateLimit: null }, NOW - 90 * 86_400_000);
  const client = createKey(store.db, { tier: "client", label: "ci bot", allowedModels: ["*"], rateLimit: null }, NOW - 90 * 86_400_000);
  const url = await server!.freshDatabase();
  const pg = await openPgStore(url);
  await pg.db.insert(pgTables.keys).values([admin.row, client.row]);
  // Both logs start empty, numbered from 1 again: what opening each store recorded (its migrations, a temp path) differs by nature.
  store.db.delete(auditLog).run();
  await pgRows(url, "TRUNCATE audit_log RESTART IDENTITY");

  // 300 events over the last 9 days: whole hours from usage_hourly, the slice before the first from events.
  const batch = seedBatch([admin.row.id, client.row.id, "key_other00"], 300, 9 * 24, NOW);
  writeEvents(store, batch);
  await writeEventsPg(pg, batch);
  const entries: AuditEntry[] = [
    { action: "key.created", actorKind: "cli", actor: "ops", target: client.row.id, after: { label: "ci bot" }, ts: NOW - 3 * 86_400_000 },
    { action: "key.updated", actorKind: "cli", actor: "ops", target: client.row.id, before: { rateLimit: null }, after: { rateLimit: 60 }, ts: NOW - HOUR },
    { action: "retention.run", actorKind: "gateway", actor: "gateway", ts: NOW - 20 * 86_400_000 },
  ];
  for (const entry of entries) {
    await sqliteAuditLog(store.db).append(entry);
    await pgAuditLog(pg.db).append(entry);
  }

  const quiet = captureLog();
  const options = { ...appOptions(), env: {}, now: clock };
  const onSqlite = compose(store, options);
  const onPostgres = await composeOnPostgres(pg, options);
  quiet.release();
  const serve = (app: { fetch: (request: Request) => Response | Promise<Response> }) => {
    const listener = listen({ port: 0, hostname: "127.0.0.1", fetch: app.fetch });
    return { url: `http://127.0.0.1:${listener.port}`, stop: () => listener.stop(true) };
  };
  const sqlite = serve(onSqlite.app);
  const postgres = serve(onPostgres.app);
  afterAll(async () => {
    sqlite.stop();
    postgres.stop();
    await onSqlite.close();
    await onPostgres.close();
  });
  return { sqlite: sqlite.url, postgres: postgres.url, pgUrl: url, dbPath, admin, client };
}

const asAdmin = (secret: string) => ({ headers: { authorization: `Bearer ${secret}` } });
/** A page as both gateways render it, but for what is each session's own: its CSRF token. */
const samePage = (html: string) => html.replaceAll(/name="csrf" value="[^"]+"/g, 'name="csrf" value="…"');

describe.skipIf(!bin)("the admin plane on PostgreSQL answers what it answers on SQLite", () => {
  test("/admin/usage (every grouping, a key filter), /admin/events.csv and /admin/audit: the same answers from both stores fed the same rows", async () => {
    const { sqlite, postgres, admin, client } = await bothStores();
    const both = async (path: string) => {
      const [a, b] = await Promise.all([fetch(`${sqlite}${path}`, asAdmin(admin.secret)), fetch(`${postgres}${path}`, asAdmin(admin.secret))]);
      expect([a.status, b.status, path]).toEqual([200, 200, path]);
      return [await a.text(), await b.text()] as const;
    };
    for (const since of ["24h", "90m", "7d"]) {
      for (const by of ["key", "model", "day", "credential"]) {
        const [a, b] = await both(`/admin/usage?since=${since}&by=${by}`);
        expect(JSON.parse(b)).toEqual(JSON.parse(a));
      }
    }
    const [filtered, filteredPg] = await both(`/admin/usage?since=7d&by=model&key=${client.row.id}`);
    expect(JSON.parse(filteredPg)).toEqual(JSON.parse(filtered));
    // The report is not empty: the comparison compares something.
    expect(JSON.parse(filtered).totals.requests).toBeGreaterThan(50);

    const [csv, csvPg] = await both("/admin/events.csv?since=48h");
    expect(csvPg).toBe(csv);
    expect(csv.split("\r\n").length).toBeGreaterThan(60);
    const [oneKey, oneKeyPg] = await both(`/admin/events.csv?since=7d&key=${client.row.id}`);
    expect(oneKeyPg).toBe(oneKey);

    for (const query of ["", "?since=7d", `?key=${client.row.id}`, "?action=key.updated", "?limit=1&before=3"]) {
      const [audit, auditPg] = await both(`/admin/audit${query}`);
      expect(JSON.parse(auditPg)).toEqual(JSON.parse(audit));
    }
    expect(JSON.parse((await both("/admin/audit"))[0]).entries).toHaveLength(3);
    // A bad filter is refused the same way.
    const bad = await fetch(`${postgres}/admin/audit?action=nope`, asAdmin(admin.secret));
    expect(bad.status).toBe(400);
  });

  test("the dashboard: an admin key signs in on each; usage, charts, events and audit pages are the same; keys created, edited and revoked there are audited", async () => {
    const { sqlite, postgres, pgUrl, admin, client } = await bothStores();
    const [onSqlite, onPostgres] = [await signIn(sqlite, admin.secret), await signIn(postgres, admin.secret)];
    const page = async (path: string) => {
      const [a, b] = await Promise.all([
        fetch(`${sqlite}${path}`, { headers: { cookie: onSqlite.cookie } }),
        fetch(`${postgres}${path}`, { headers: { cookie: onPostgres.cookie } }),
      ]);
      expect([a.status, b.status, path]).toEqual([200, 200, path]);
      return [await a.text(), await b.text()] as const;
    };
    for (const window of ["24h", "48h", "7d", "30d"]) {
      const [usage, usagePg] = await page(`/dashboard?window=${window}`);
      expect(samePage(usagePg)).toBe(samePage(usage));
      const [series, seriesPg] = await page(`/dashboard/api/usage?window=${window}&key=${client.row.id}`);
      expect(JSON.parse(seriesPg)).toEqual(JSON.parse(series));
    }
    const [usage] = await page("/dashboard?window=7d");
    expect(usage).toContain("ci bot");
    for (const path of ["/dashboard/events", "/dashboard/events?status=5xx", `/dashboard/events?key=${client.row.id}&error=none`, "/dashboard/audit"]) {
      const [html, htmlPg] = await page(path);
      expect(samePage(htmlPg)).toBe(samePage(html));
    }
    const [csv, csvPg] = await page("/dashboard/events.csv?since=7d");
    expect(csvPg).toBe(csv);
    // The sign-in itself is in both logs, as the session of the admin key.
    const [audit] = await page("/dashboard/audit?action=dashboard.sign_in");
    expect(audit).toContain(admin.row.id);

    // A key created, edited and revoked from the dashboard on PostgreSQL.
    const form = (path: string, fields: Record<string, string>) =>
      fetch(`${postgres}${path}`, {
        method: "POST",
        redirect: "manual",
        headers: { cookie: onPostgres.cookie, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ csrf: onPostgres.csrf, ...fields }),
      });
    const created = await form("/dashboard/keys", { tier: "client", label: "made on pg", rateLimit: "30" });
    expect(created.status).toBe(200);
    expect(await created.text()).toMatch(/cpk_[0-9A-Za-z]{49}/);
    const [made] = await pgRows<{ id: string; rate_limit: string }>(pgUrl, "SELECT id, rate_limit FROM keys WHERE label = 'made on pg'");
    expect(Number(made?.rate_limit)).toBe(30);
    const edited = await form(`/dashboard/keys/${made!.id}/edit`, { label: "renamed on pg", models: "gpt-4.1", rateLimit: "30" });
    expect(edited.headers.get("location")).toBe(`/dashboard/keys?updated=${made!.id}`);
    const refused = await form(`/dashboard/keys/${made!.id}/edit`, { label: "x", rateLimit: "-1" });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("--rate-limit -1 is not a positive whole number");
    const revoked = await form(`/dashboard/keys/${made!.id}/revoke`, {});
    expect(revoked.headers.get("location")).toBe(`/dashboard/keys?revoked=${made!.id}`);
    const [row] = await pgRows<{ label: string; revoked_at: string | null }>(pgUrl, `SELECT label, revoked_at FROM keys WHERE id = '${made!.id}'`);
    expect(row).toEqual({ label: "renamed on pg", revoked_at: String(NOW) });
    const trail = await pgRows<{ action: string; actor_kind: string; actor: string; after: { label: string; allowedModels: string[] } }>(
      pgUrl,
      `SELECT action, actor_kind, actor, after FROM audit_log WHERE target = '${made!.id}' ORDER BY id`,
    );
    expect(trail.map((entry) => [entry.action, entry.actor_kind, entry.actor])).toEqual([
      ["key.created", "session", admin.row.id],
      ["key.updated", "session", admin.row.id],
      ["key.revoked", "session", admin.row.id],
    ]);
    expect(trail[1]?.after).toMatchObject({ label: "renamed on pg", allowedModels: ["gpt-4.1"] });
    // The list shows it revoked; a revoked key cannot be edited.
    const list = await fetch(`${postgres}/dashboard/keys?all=1`, { headers: { cookie: onPostgres.cookie } });
    expect(await list.text()).toContain("renamed on pg");
    expect((await form(`/dashboard/keys/${made!.id}/edit`, { label: "again" })).status).toBe(409);

    // Signing out deletes the session's row.
    const out = await form("/dashboard/logout", {});
    expect(out.headers.get("location")).toBe("/dashboard/login?notice=signed-out");
    expect(await pgRows(pgUrl, "SELECT 1 FROM sessions")).toEqual([]);
  });

  test("`usage`, `audit` and `dashboard` take --database-url: the same report and log as from the SQLite file, and a link any gateway on the database takes", async () => {
    const { postgres, pgUrl, dbPath, admin } = await bothStores();
    const env = isolatedEnv(tempDir());
    const since = new Date(NOW - 5 * 86_400_000).toISOString().slice(0, 10);
    const both = async (...args: string[]) => {
      const [a, b] = [await cli([...args, "--db-path", dbPath], env), await cli([...args], { ...env, COPILOT_API_DATABASE_URL: pgUrl })];
      expect([a.code, b.code, a.stderr]).toEqual([0, 0, ""]);
      return [JSON.parse(a.stdout), JSON.parse(b.stdout)];
    };
    const withoutUntil = ({ until: _until, ...report }: { until: string }) => report;
    for (const by of ["key", "day"]) {
      const [report, reportPg] = await both("usage", "--since", since, "--by", by, "--json");
      expect(withoutUntil(reportPg)).toEqual(withoutUntil(report));
      expect(report.totals.requests).toBeGreaterThan(100);
    }
    const [log, logPg] = await both("audit", "--since", "30d", "--json");
    expect(logPg).toEqual(log);
    expect(log).toHaveLength(3);

    const link = await cli(["dashboard", "--base-url", postgres, "--database-url", pgUrl], env);
    expect(link.code).toBe(0);
    const opened = await fetch(link.stdout.trim(), { redirect: "manual" });
    expect(opened.headers.get("location")).toBe("/dashboard");
    expect(opened.headers.getSetCookie().some((cookie) => cookie.startsWith("copilot_api_session="))).toBe(true);
    const [signedIn] = await pgRows<{ actor: string }>(pgUrl, "SELECT actor FROM audit_log WHERE action = 'dashboard.sign_in'");
    expect(signedIn?.actor).toBe(admin.row.id);
    // The key revoked by the CLI: its session ends at its next use, audited once by the gateway.
    const cookie = opened.headers
      .getSetCookie()
      .find((c) => c.startsWith("copilot_api_session="))!
      .split(";")[0]!;
    expect((await cli(["keys", "revoke", admin.row.id], { ...env, COPILOT_API_DATABASE_URL: pgUrl })).code).toBe(0);
    const ended = await fetch(`${postgres}/dashboard/keys`, { redirect: "manual", headers: { cookie } });
    expect(ended.headers.get("location")).toBe("/dashboard/login?notice=ended");
    expect(await pgRows(pgUrl, "SELECT actor_kind, after FROM audit_log WHERE action = 'dashboard.session_ended'")).toEqual([
      { actor_kind: "gateway", after: { sessions: 1, reason: "key revoked" } },
    ]);
    const refused = await cli(["dashboard", "--key", "key_missing000", "--database-url", pgUrl], env);
    expect(refused.stderr).toContain("key_missing000 is not an active admin key");
    // No active admin key left: without --create-key said with the remedy; with it, one is made in the shared store (audited) and the link signs in.
    const noAdmin = await cli(["dashboard", "--database-url", pgUrl], env);
    expect(noAdmin.code).not.toBe(0);
    expect(noAdmin.stderr).toContain("rerun with --create-key");
    const created = await cli(["dashboard", "--create-key", "--base-url", postgres, "--database-url", pgUrl], env);
    expect(created.code).toBe(0);
    const [made] = await pgRows<{ id: string; tier: string; label: string }>(pgUrl, "SELECT id, tier, label FROM keys WHERE label = 'dashboard'");
    expect(made).toMatchObject({ tier: "admin", label: "dashboard" });
    expect(created.stderr).toContain(`created admin key ${made!.id} (dashboard)`);
    expect(await pgRows(pgUrl, `SELECT actor_kind FROM audit_log WHERE action = 'key.created' AND target = '${made!.id}'`)).toEqual([{ actor_kind: "cli" }]);
    const second = await fetch(created.stdout.trim(), { redirect: "manual" });
    expect(second.headers.get("location")).toBe("/dashboard");
  });
});
