// The audit log's remaining sources (a sign-in by one-time link, sessions ended by a
// revoke from the CLI) and its dashboard page and CSV export.
import { afterAll, describe, expect, test } from "bun:test";
import { userInfo } from "node:os";
import { appendAudit, readAudit, sqliteAuditLog } from "~/features/audit";
import { createSignInLink } from "~/features/dashboard/sign-in-link";
import { createKey } from "~/features/keys";
import { sessionCookie, signIn, startDashboard } from "../dashboard/harness";
import { cleanUpAfterFile, cli, isolatedEnv, tempDir } from "../helpers";

cleanUpAfterFile();

const dash = startDashboard();
afterAll(() => dash.stop());

describe("audit: sign-in by link, sessions ended by a CLI revoke", () => {
  test("a one-time link's sign-in is audited once, as that key's session, with the browser's address and User-Agent", async () => {
    const token = createSignInLink(dash.store.db, dash.admin.id);
    const opened = await fetch(`${dash.url}/dashboard/link?token=${token}`, { redirect: "manual", headers: { "user-agent": "link-browser/1" } });
    expect(sessionCookie(opened)).toBeDefined();
    // A second use opens nothing and adds nothing.
    await fetch(`${dash.url}/dashboard/link?token=${token}`, { redirect: "manual" });
    const entries = await readAudit(sqliteAuditLog(dash.store.db), { action: "dashboard.sign_in", key: dash.admin.id }, Date.now());
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      actorKind: "session",
      actor: dash.admin.id,
      target: dash.admin.id,
      address: "127.0.0.1",
      userAgent: "link-browser/1",
      after: { via: "one-time link" },
    });
  });

  test("`keys revoke` from the CLI ends the key's dashboard sessions at their next use: one entry, however many requests follow", async () => {
    const doomed = createKey(dash.store.db, { tier: "admin", label: "leaving admin", allowedModels: ["*"], rateLimit: null });
    const first = await signIn(dash.url, doomed.secret);
    const second = await signIn(dash.url, doomed.secret);
    const env = isolatedEnv(tempDir());
    const revoked = await cli(["keys", "revoke", doomed.row.id, "--db-path", dash.dbPath], env);
    expect(revoked.code).toBe(0);
    for (const browser of [first, second, first]) {
      const page = await fetch(`${dash.url}/dashboard/keys`, { redirect: "manual", headers: { cookie: browser.cookie } });
      expect(page.headers.get("location")).toBe("/dashboard/login?notice=ended");
    }
    const ended = await readAudit(sqliteAuditLog(dash.store.db), { action: "dashboard.session_ended", key: doomed.row.id }, Date.now());
    expect(ended).toHaveLength(1);
    expect(ended[0]).toMatchObject({ actorKind: "gateway", target: doomed.row.id, after: { sessions: 2, reason: "key revoked" } });
    const revokes = await readAudit(sqliteAuditLog(dash.store.db), { action: "key.revoked", key: doomed.row.id }, Date.now());
    expect(revokes.map((r) => ({ kind: r.actorKind, actor: r.actor }))).toEqual([{ kind: "cli", actor: userInfo().username }]);
  });
});

describe("audit: the dashboard page and its CSV", () => {
  test("the page lists entries newest first, filtered by since, key and action; the CSV holds the same filtered entries", async () => {
    const now = Date.now();
    const cli = { actorKind: "cli" as const, actor: "ops" };
    appendAudit(dash.store.db, { ...cli, action: "key.updated", target: "key_pageAAAAAA", after: { label: "=cmd|calc" }, ts: now - 2000 });
    appendAudit(dash.store.db, { ...cli, action: "key.revoked", target: "key_pageAAAAAA", ts: now - 1000 });
    appendAudit(dash.store.db, { ...cli, action: "key.updated", target: "key_pageBBBBBB", ts: now - 500 });
    appendAudit(dash.store.db, { ...cli, action: "key.updated", target: "key_pageAAAAAA", ts: now - 30 * 86_400_000 });
    const session = await signIn(dash.url, dash.admin.secret);
    const get = (path: string) => fetch(`${dash.url}${path}`, { headers: { cookie: session.cookie } });

    const all = await (await get("/dashboard/audit")).text();
    expect(all).toContain('aria-current="page">Audit');
    expect(all).toContain("key_pageBBBBBB");
    const page = await get("/dashboard/audit?key=key_pageAAAAAA&action=key.updated&since=7d");
    expect(page.status).toBe(200);
    const html = await page.text();
    const rows = html.split("<tbody>")[1]!.split("</tbody>")[0]!.split("<tr>").slice(1);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toContain("key.updated");
    expect(rows[0]).toContain("cli:ops");
    expect(html).toContain('href="/dashboard/audit.csv?since=7d&amp;key=key_pageAAAAAA&amp;action=key.updated"');

    const csv = await get("/dashboard/audit.csv?key=key_pageAAAAAA&since=7d");
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-disposition")).toMatch(/^attachment; filename="copilot-api-audit-\d{8}-\d{6}\.csv"$/);
    const lines = (await csv.text()).trimEnd().split("\r\n");
    expect(lines[0]).toBe("time,action,actor_kind,actor,address,user_agent,target,before,after");
    expect(lines.slice(1).map((l) => l.split(",")[1])).toEqual(["key.revoked", "key.updated"]);
    // JSON in a cell is quoted, and text a spreadsheet would run stays text.
    expect(lines[2]).toContain('"{""label"":""=cmd|calc""}"');

    const bad = await get("/dashboard/audit?action=key.deleted");
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("key.deleted is not an audit action");
    expect((await get("/dashboard/audit.csv?since=yesterday")).status).toBe(400);
    // Signed-out: no log.
    expect((await fetch(`${dash.url}/dashboard/audit.csv`)).status).toBe(401);
  });

  test("the CSV pages through every matching entry (more than one export page)", async () => {
    const now = Date.now();
    for (let i = 0; i < 1205; i++) appendAudit(dash.store.db, { actorKind: "gateway", actor: "gateway", action: "retention.run", target: `run-${i}`, ts: now });
    const session = await signIn(dash.url, dash.admin.secret);
    const csv = await fetch(`${dash.url}/dashboard/audit.csv?action=retention.run&since=1h`, { headers: { cookie: session.cookie } });
    const lines = (await csv.text()).trimEnd().split("\r\n").slice(1);
    expect(lines).toHaveLength(1205);
    expect(new Set(lines.map((l) => l.split(",")[6])).size).toBe(1205);
  });
});
