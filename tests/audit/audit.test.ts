import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { userInfo } from "node:os";
import { osUser } from "~/db";
import { appendAudit, auditRetention, readAudit, sqliteAuditLog } from "~/features/audit";
import { RetentionJob } from "~/features/events";
import { createKey } from "~/features/keys";
import { type DashboardServer, postForm, postSignIn, signIn, startDashboard } from "../dashboard/harness";
import { cleanUpAfterFile, cli, createKey as createKeyCli, isolatedEnv, tempDir } from "../helpers";

cleanUpAfterFile();

interface Entry {
  action: string;
  actorKind: string;
  actor: string;
  address: string | null;
  userAgent: string | null;
  target: string | null;
  before: Record<string, unknown> | null;
  after: unknown;
}

describe("audit log from the CLI", () => {
  test("keys create / update / revoke, migrations and backups: once each, as the OS user, before and after without secrets", async () => {
    const env = isolatedEnv(tempDir());
    const key = await createKeyCli(env, "--label", "team-a");
    expect((await cli(["keys", "update", key.id, "--rate-limit", "5", "--premium-quota", "100"], env)).code).toBe(0);
    expect((await cli(["keys", "revoke", key.id], env)).code).toBe(0);
    expect((await cli(["db", "backup"], env)).code).toBe(0);
    const listed = await cli(["audit", "--json"], env);
    expect(listed.code).toBe(0);
    const entries = JSON.parse(listed.stdout) as Entry[];
    expect(entries.map((e) => e.action).toReversed()).toEqual(["db.migrations_applied", "key.created", "key.updated", "key.revoked", "db.backup"]);
    for (const e of entries) expect({ kind: e.actorKind, actor: e.actor }).toEqual({ kind: "cli", actor: userInfo().username });
    const updated = entries.find((e) => e.action === "key.updated")!;
    expect(updated.target).toBe(key.id);
    expect(updated.before).toMatchObject({ rateLimit: null, premiumQuota: null, label: "team-a" });
    expect(updated.after).toMatchObject({ rateLimit: 5, premiumQuota: 100 });
    expect(entries.find((e) => e.action === "key.revoked")!.after).toMatchObject({ revokedAt: expect.any(Number) });
    expect(listed.stdout).not.toContain(key.secret);
    expect(listed.stdout).not.toContain("hash");
    // Filters.
    const revokes = JSON.parse((await cli(["audit", "--json", "--action", "key.revoked", "--key", key.id, "--since", "1h"], env)).stdout) as Entry[];
    expect(revokes.map((e) => e.action)).toEqual(["key.revoked"]);
    const wrong = await cli(["audit", "--action", "key.deleted"], env);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain("key.deleted is not an audit action");
    const table = await cli(["audit", "--since", "1d"], env);
    expect(table.stdout).toContain("key.updated");
  });
});

describe("audit log from the dashboard", () => {
  let dash: DashboardServer;
  beforeAll(() => {
    dash = startDashboard();
  });
  afterAll(() => dash.stop());

  test("sign-ins (failed too), key changes, sessions ended by a revoke and sign-out carry the session's key, address and User-Agent", async () => {
    expect((await postSignIn(dash.url, "cpk_not_a_real_key_at_all_0000000000000000")).status).toBe(401);
    expect((await postSignIn(dash.url, dash.client.secret)).status).toBe(403);
    const session = await signIn(dash.url, dash.admin.secret);
    const other = createKey(dash.store.db, { tier: "admin", label: "other admin", allowedModels: ["*"], rateLimit: null });
    await signIn(dash.url, other.secret);
    // Create, edit and revoke through the forms.
    expect((await postForm(dash.url, "/dashboard/keys", session.cookie, { csrf: session.csrf, tier: "client", label: "made here" })).status).toBe(200);
    const edited = await postForm(dash.url, `/dashboard/keys/${dash.client.id}/edit`, session.cookie, {
      csrf: session.csrf,
      label: "ci bot",
      models: "*",
      rateLimit: "30",
      premiumQuota: "",
      expires: "",
    });
    expect(edited.status).toBe(303);
    expect((await postForm(dash.url, `/dashboard/keys/${other.row.id}/revoke`, session.cookie, { csrf: session.csrf })).status).toBe(303);
    expect((await postForm(dash.url, "/dashboard/logout", session.cookie, { csrf: session.csrf })).status).toBe(303);

    const answer = await fetch(`${dash.url}/admin/audit?since=1h`, { headers: { authorization: `Bearer ${dash.admin.secret}` } });
    expect(answer.status).toBe(200);
    // The harness opened a new store: its migrations come first.
    const entries = ((await answer.json()) as { entries: Entry[] }).entries.toReversed().filter((e) => e.action !== "db.migrations_applied");
    expect(entries.map((e) => e.action)).toEqual([
      "dashboard.sign_in_failed",
      "dashboard.sign_in_failed",
      "dashboard.sign_in",
      "dashboard.sign_in",
      "key.created",
      "key.updated",
      "key.revoked",
      "dashboard.session_ended",
      "dashboard.sign_out",
    ]);
    for (const e of entries) {
      expect(e.address).toBe("127.0.0.1");
      expect(e.userAgent).toContain("Bun");
    }
    expect(entries[1]).toMatchObject({ actorKind: "key", actor: dash.client.id });
    for (const e of entries.slice(4)) expect({ kind: e.actorKind, actor: e.actor }).toEqual({ kind: "session", actor: dash.admin.id });
    expect(entries[5]!.before).toMatchObject({ rateLimit: null });
    expect(entries[5]!.after).toMatchObject({ rateLimit: 30 });
    expect(entries[7]).toMatchObject({ target: other.row.id, after: { sessions: 1 } });
    expect(JSON.stringify(entries)).not.toContain(other.secret);
    // Admin keys only.
    expect((await fetch(`${dash.url}/admin/audit`, { headers: { authorization: `Bearer ${dash.client.secret}` } })).status).toBe(403);
    const bad = await fetch(`${dash.url}/admin/audit?action=nope`, { headers: { authorization: `Bearer ${dash.admin.secret}` } });
    expect(bad.status).toBe(400);
  });
});

describe("audit retention", () => {
  test("--audit-retention-days deletes entries older than the window and nothing newer", async () => {
    const dash = startDashboard();
    try {
      const now = Date.now();
      appendAudit(dash.store.db, { action: "key.created", actorKind: "cli", actor: osUser(), target: "old", ts: now - 400 * 86_400_000 });
      appendAudit(dash.store.db, { action: "key.created", actorKind: "cli", actor: osUser(), target: "new", ts: now - 10 * 86_400_000 });
      const runs: unknown[] = [];
      const job = new RetentionJob(dash.store, { days: 365, target: auditRetention, onPurged: (run) => runs.push(run) });
      expect(await job.purge(now)).toBe(1);
      expect((await readAudit(sqliteAuditLog(dash.store.db), { action: "key.created" }, now)).map((r) => r.target)).toEqual(["new"]);
      expect(runs).toEqual([expect.objectContaining({ what: "audit entries", deleted: 1, days: 365 })]);
    } finally {
      dash.stop();
    }
  });
});
