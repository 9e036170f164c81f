import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SignInLimiter } from "~/features/dashboard/auth";
import { deleteOldHours, writeEvents } from "~/features/events/queries";
import { QuotaSource } from "~/features/quota/quota";
import { upstreamUrls } from "~/upstream/config";
import { type FakeUpstream, startFakeUpstream } from "../fake-upstream";
import { cleanUpAfterFile, cli, isolatedEnv, tempDir } from "../helpers";
import { type DashboardServer, hiddenCsrf, postForm, postSignIn, seedEvents, signIn, startDashboard } from "./harness";

cleanUpAfterFile();

const HOUR = 3_600_000;
const sha256 = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex");
const page = (url: string, path: string, cookie?: string) => fetch(`${url}${path}`, { redirect: "manual", headers: cookie ? { cookie } : {} });

describe("dashboard sign-in and sessions", () => {
  let s: DashboardServer;
  beforeAll(() => {
    s = startDashboard();
  });
  afterAll(() => s.stop());

  test("without a session, pages send the browser to the sign-in page and data answers 401 with the remedy", async () => {
    const home = await page(s.url, "/dashboard");
    expect(home.status).toBe(303);
    expect(home.headers.get("location")).toBe("/dashboard/login");
    const data = await page(s.url, "/dashboard/api/usage");
    expect(data.status).toBe(401);
    expect(((await data.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: "not_signed_in" });
  });

  test("an admin key signs in: the cookie is HttpOnly, SameSite=Strict, Path=/dashboard, not Secure over plain http, and only its SHA-256 is stored", async () => {
    const signed = await signIn(s.url, s.admin.secret);
    expect(signed.setCookie).toContain("HttpOnly");
    expect(signed.setCookie).toContain("SameSite=Strict");
    expect(signed.setCookie).toContain("Path=/dashboard");
    expect(signed.setCookie).toContain(`Max-Age=${8 * 3600}`);
    expect(signed.setCookie).not.toContain("Secure");
    const rows = s.store.sqlite.query<{ id_hash: string; key_id: string }, []>("SELECT id_hash, key_id FROM sessions").all();
    expect(rows).toContainEqual({ id_hash: sha256(signed.sessionId), key_id: s.admin.id });
    expect(JSON.stringify(rows)).not.toContain(signed.sessionId);
    const home = await page(s.url, "/dashboard", signed.cookie);
    expect(home.status).toBe(200);
    expect(await home.text()).toContain("ops laptop");
  });

  test("behind a TLS-terminating proxy (X-Forwarded-Proto: https) the cookie is Secure", async () => {
    const response = await postSignIn(s.url, s.admin.secret, { "x-forwarded-proto": "https" });
    expect(response.status).toBe(303);
    expect(response.headers.getSetCookie().find((c) => c.startsWith("copilot_api_session="))).toContain("Secure");
  });

  test("a client key and a wrong key are refused with a page that says what to do; no session is made", async () => {
    const before = s.store.sqlite.query("SELECT count(*) AS n FROM sessions").get();
    const client = await postSignIn(s.url, s.client.secret);
    expect(client.status).toBe(403);
    const clientPage = await client.text();
    expect(clientPage).toContain("Client keys cannot sign in");
    expect(clientPage).toContain("keys create --tier admin");
    const wrong = await postSignIn(s.url, "cpk_not-a-key");
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain("Not a valid key");
    expect(client.headers.getSetCookie().some((c) => c.startsWith("copilot_api_session="))).toBe(false);
    expect(s.store.sqlite.query("SELECT count(*) AS n FROM sessions").get()).toEqual(before);
  });

  test("the sign-in form needs its own token (another site cannot sign a browser in)", async () => {
    const response = await fetch(`${s.url}/dashboard/login`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ key: s.admin.secret }),
    });
    expect(response.status).toBe(403);
    expect(response.headers.getSetCookie().some((c) => c.startsWith("copilot_api_session="))).toBe(false);
  });

  test("sliding expiry: use within 8 hours keeps a session, 8 hours without use ends it and deletes its row", async () => {
    const signed = await signIn(s.url, s.admin.secret);
    s.clock.offset = 7 * HOUR;
    const used = await page(s.url, "/dashboard", signed.cookie);
    expect(used.status).toBe(200);
    expect(used.headers.getSetCookie().some((c) => c.startsWith("copilot_api_session="))).toBe(true); // the cookie slides too
    s.clock.offset = 14 * HOUR; // 7 h after the last use
    expect((await page(s.url, "/dashboard", signed.cookie)).status).toBe(200);
    s.clock.offset = 22 * HOUR + 1000; // 8 h and a second after the last use
    const expired = await page(s.url, "/dashboard", signed.cookie);
    expect(expired.status).toBe(303);
    expect(expired.headers.get("location")).toBe("/dashboard/login?notice=ended");
    expect(s.store.sqlite.query("SELECT count(*) AS n FROM sessions WHERE id_hash = ?").get(sha256(signed.sessionId))).toEqual({ n: 0 });
    s.clock.offset = 0;
  });

  test("an expired session met first by the page's background data request: 401, the cookie is left, and the next page says the session ended", async () => {
    const signed = await signIn(s.url, s.admin.secret);
    s.clock.offset = 8 * HOUR + 1000;
    const data = await page(s.url, "/dashboard/api/usage", signed.cookie);
    expect(data.status).toBe(401);
    expect(data.headers.getSetCookie().some((c) => c.startsWith("copilot_api_session="))).toBe(false);
    const next = await page(s.url, "/dashboard", signed.cookie);
    expect(next.status).toBe(303);
    expect(next.headers.get("location")).toBe("/dashboard/login?notice=ended");
    expect(next.headers.getSetCookie().some((c) => c.startsWith("copilot_api_session=;") || /copilot_api_session=[^;]*;.*Max-Age=0/.test(c))).toBe(true);
    s.clock.offset = 0;
  });

  test("sign-out needs the CSRF token, deletes the row and clears the cookie", async () => {
    const signed = await signIn(s.url, s.admin.secret);
    const refused = await postForm(s.url, "/dashboard/logout", signed.cookie, {});
    expect(refused.status).toBe(403);
    expect((await page(s.url, "/dashboard", signed.cookie)).status).toBe(200);
    const out = await postForm(s.url, "/dashboard/logout", signed.cookie, { csrf: signed.csrf });
    expect(out.status).toBe(303);
    expect(out.headers.get("location")).toBe("/dashboard/login?notice=signed-out");
    expect(out.headers.getSetCookie().find((c) => c.startsWith("copilot_api_session="))).toContain("Max-Age=0");
    expect(s.store.sqlite.query("SELECT count(*) AS n FROM sessions WHERE id_hash = ?").get(sha256(signed.sessionId))).toEqual({ n: 0 });
    expect((await page(s.url, "/dashboard", signed.cookie)).status).toBe(303);
  });

  test("revoking the admin key with the CLI ends its sessions at their next request", async () => {
    const other = await postForm(s.url, "/dashboard/keys", (await signIn(s.url, s.admin.secret)).cookie, {});
    expect(other.status).toBe(403); // (no token: nothing created)
    const signed = await signIn(s.url, s.admin.secret);
    const created = await postForm(s.url, "/dashboard/keys", signed.cookie, { csrf: signed.csrf, tier: "admin", label: "second admin" });
    const secret = (await created.text()).match(/id="new-secret">(cpk_[0-9A-Za-z]+)</)![1]!;
    const second = await signIn(s.url, secret);
    const secondId = s.store.sqlite.query<{ key_id: string }, [string]>("SELECT key_id FROM sessions WHERE id_hash = ?").get(sha256(second.sessionId))!.key_id;
    const revoked = await cli(["keys", "revoke", secondId, "--db-path", s.dbPath], isolatedEnv(tempDir()));
    expect(revoked.code).toBe(0);
    const after = await page(s.url, "/dashboard", second.cookie);
    expect(after.status).toBe(303);
    expect(s.store.sqlite.query("SELECT count(*) AS n FROM sessions WHERE key_id = ?").get(secondId)).toEqual({ n: 0 });
    expect((await page(s.url, "/dashboard", signed.cookie)).status).toBe(200); // the other admin key's session lives on
  });

  test("every page, asset and refusal carries a strict CSP; the HTML has no inline script, style or handler", async () => {
    const signed = await signIn(s.url, s.admin.secret);
    for (const path of ["/dashboard", "/dashboard/keys", "/dashboard/events", "/dashboard/login", "/dashboard/nowhere"]) {
      const response = await page(s.url, path, path === "/dashboard/login" ? undefined : signed.cookie);
      const csp = response.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
      expect(response.headers.get("x-frame-options")).toBe("DENY");
      const html = await response.text();
      for (const script of html.match(/<script\b[^>]*>/g) ?? []) expect(script).toMatch(/ src="\/dashboard\/assets\//);
      expect(html).not.toMatch(/<script\b[^>]*>[^<]+<\/script>/);
      expect(html).not.toMatch(/\sstyle="|<style|\son[a-z]+="/i);
    }
    expect((await page(s.url, "/dashboard/nowhere", signed.cookie)).status).toBe(404); // a page, not the key pipeline's 401
  });

  test("failed sign-ins are rate limited per address: after 10 in a minute, the next failure gets 429 with Retry-After; the right admin key is never refused", async () => {
    const limited = startDashboard();
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 11; i++) statuses.push((await postSignIn(limited.url, "cpk_wrong")).status);
      expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
      expect(statuses[10]).toBe(429);
      const refused = await postSignIn(limited.url, limited.client.secret); // a client key is a failure too
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(await refused.text()).toContain("Too many sign-in attempts");
      expect((await postSignIn(limited.url, limited.admin.secret)).status).toBe(303); // the right key never waits
      limited.clock.offset = 61_000;
      expect((await postSignIn(limited.url, "cpk_wrong")).status).toBe(401);
    } finally {
      await limited.stop();
    }
  });
});

describe("dashboard keys, CSRF and data", () => {
  let s: DashboardServer;
  let signed: Awaited<ReturnType<typeof signIn>>;
  let fake: FakeUpstream;
  beforeAll(async () => {
    fake = startFakeUpstream();
    s = startDashboard({ quota: new QuotaSource(upstreamUrls("individual", { env: fake.env() }), fake.githubToken) });
    seedEvents(s.store, [s.admin.id, s.client.id], 600);
    signed = await signIn(s.url, s.admin.secret);
  });
  afterAll(async () => {
    await s.stop();
    fake.stop();
  });

  const keyCount = () => (s.store.sqlite.query("SELECT count(*) AS n FROM keys").get() as { n: number }).n;

  test("a state-changing request without the CSRF token, or with another session's, changes nothing (403)", async () => {
    const before = keyCount();
    const missing = await postForm(s.url, "/dashboard/keys", signed.cookie, { tier: "client" });
    expect(missing.status).toBe(403);
    expect(await missing.text()).toContain("security token (CSRF)");
    const other = await signIn(s.url, s.admin.secret);
    expect((await postForm(s.url, "/dashboard/keys", signed.cookie, { csrf: other.csrf, tier: "client" })).status).toBe(403);
    expect((await postForm(s.url, `/dashboard/keys/${s.client.id}/revoke`, signed.cookie, { csrf: "x" })).status).toBe(403);
    expect(keyCount()).toBe(before);
    expect(s.store.sqlite.query("SELECT revoked_at FROM keys WHERE id = ?").get(s.client.id)).toEqual({ revoked_at: null });
  });

  test("create shows the secret once; the key works on the API; revoke (same code path as the CLI) refuses it from its next request", async () => {
    const created = await postForm(s.url, "/dashboard/keys", signed.cookie, {
      csrf: signed.csrf,
      tier: "admin",
      label: "made in the browser",
      models: "gpt-4o, claude-*",
      rateLimit: "30",
    });
    expect(created.status).toBe(200);
    expect(created.headers.get("cache-control")).toBe("no-store");
    const html = await created.text();
    const secret = html.match(/id="new-secret">(cpk_[0-9A-Za-z]+)</)![1]!;
    const id = html.match(/Created admin key (key_[0-9A-Za-z]+)/)![1]!;
    const row = s.store.sqlite.query("SELECT label, allowed_models, rate_limit, hash FROM keys WHERE id = ?").get(id);
    expect(row).toEqual({ label: "made in the browser", allowed_models: '["gpt-4o","claude-*"]', rate_limit: 30, hash: sha256(secret) });
    const list = await (await page(s.url, "/dashboard/keys", signed.cookie)).text();
    expect(list).toContain(id);
    expect(list).not.toContain(secret);
    expect((await fetch(`${s.url}/admin/usage`, { headers: { authorization: `Bearer ${secret}` } })).status).toBe(200);

    const confirm = await page(s.url, `/dashboard/keys/${id}/revoke`, signed.cookie);
    expect(await confirm.text()).toContain(`Revoke ${id}?`);
    const revoked = await postForm(s.url, `/dashboard/keys/${id}/revoke`, signed.cookie, { csrf: signed.csrf });
    expect(revoked.status).toBe(303);
    expect(revoked.headers.get("location")).toBe(`/dashboard/keys?revoked=${id}`);
    const refused = await fetch(`${s.url}/admin/usage`, { headers: { authorization: `Bearer ${secret}` } });
    expect(refused.status).toBe(401);
  });

  test("a bad create form is answered with what was wrong and the values kept; nothing is created", async () => {
    const before = keyCount();
    const response = await postForm(s.url, "/dashboard/keys", signed.cookie, { csrf: signed.csrf, tier: "client", label: "x", rateLimit: "-3" });
    expect(response.status).toBe(400);
    const html = await response.text();
    expect(html).toContain("--rate-limit -3 is not a positive whole number"); // the keys feature's parseKeySettings, as `keys create` says it
    expect(html).toContain('value="-3"');
    expect(keyCount()).toBe(before);
  });

  test("the usage JSON sums usage_hourly by hour, honours window, key and model, and the page lists both splits", async () => {
    const all = (await (await page(s.url, "/dashboard/api/usage?window=48h", signed.cookie)).json()) as { series: Record<string, number[]> & { step: string } };
    expect(all.series.step).toBe("hour");
    expect(all.series.t).toHaveLength(48);
    const sum = (values: (number | null)[]) => values.reduce<number>((n, v) => n + (v ?? 0), 0);
    expect(sum(all.series.requests!)).toBe(600);
    expect(sum(all.series.errors!)).toBe(60);
    expect(sum(all.series.promptTokens!)).toBe(60_000);
    expect(sum(all.series.cacheReadTokens!)).toBe(6000);
    expect(sum(all.series.premiumRequests!)).toBe(300);
    expect(all.series.p95LatencyMs!.some((v) => v !== null && v > 0)).toBe(true);
    const filtered = (await (await page(s.url, `/dashboard/api/usage?window=48h&key=${s.client.id}&model=gpt-4o`, signed.cookie)).json()) as typeof all;
    expect(sum(filtered.series.requests!)).toBe(100); // 300 of the client key, a third of them gpt-4o
    const daily = (await (await page(s.url, "/dashboard/api/usage?window=90d", signed.cookie)).json()) as typeof all;
    expect(daily.series.step).toBe("day");
    expect(daily.series.t).toHaveLength(90);
    expect(sum(daily.series.requests!)).toBe(600);

    const html = await (await page(s.url, `/dashboard?window=24h&ks=name`, signed.cookie)).text();
    expect(html).toContain('data-table="ks"');
    expect(html).toContain('data-table="ms"');
    expect(html).toContain("claude-sonnet-4");
    const order = [s.admin.id, s.client.id].sort((a, b) => a.localeCompare(b));
    expect(html.indexOf(`(${order[0]})</th>`)).toBeLessThan(html.indexOf(`(${order[1]})</th>`));
    const reversed = await (await page(s.url, `/dashboard?window=24h&ks=-name`, signed.cookie)).text();
    expect(reversed.indexOf(`(${order[0]})</th>`)).toBeGreaterThan(reversed.indexOf(`(${order[1]})</th>`));
  });

  test("daily sums of settled days are kept between pages, and dropped when another process writes or retention removes hours", async () => {
    const requests = async () => {
      const body = (await (await page(s.url, "/dashboard/api/usage?window=7d", signed.cookie)).json()) as { series: { requests: number[] } };
      return body.series.requests.reduce((n, v) => n + v, 0);
    };
    const before = await requests();
    const day = 86_400_000;
    const fourDaysAgo = Date.now() - (Date.now() % day) - 4 * day;
    const other = new Database(s.dbPath);
    try {
      other.run("INSERT INTO usage_hourly (hour, key_id, model, requests) VALUES (?, ?, 'gpt-4o', 5)", [fourDaysAgo, s.client.id]);
    } finally {
      other.close();
    }
    expect(await requests()).toBe(before + 5);
    deleteOldHours(s.store, fourDaysAgo + 3_600_000); // retention, in the server's own connection
    expect(await requests()).toBe(before);
  });

  test("Copilot's own counters from the quota feature are on the usage page", async () => {
    const html = await (await page(s.url, "/dashboard", signed.cookie)).text();
    expect(html).toContain("Copilot quota");
    expect(html).toMatch(/Plan [a-z_]+/);
    expect(html).toContain("<meter");
  });

  test("recent events: newest first, 50 a page with an older link, filtered by key, status class and error tag", async () => {
    const first = await (await page(s.url, "/dashboard/events", signed.cookie)).text();
    expect(first.match(/<tr( class="failed")?><td class="nowrap">/g)).toHaveLength(50);
    const older = first.match(/href="\/dashboard\/events\?before=([0-9.]+)"/)![1]!;
    const second = await (await page(s.url, `/dashboard/events?before=${older}`, signed.cookie)).text();
    const times = (html: string) => [...html.matchAll(/<td class="nowrap">([^<]+)</g)].map((m) => m[1]!);
    expect(times(second)[0]! <= times(first).at(-1)!).toBe(true);
    const failed = await (await page(s.url, "/dashboard/events?status=5xx&error=upstream_error", signed.cookie)).text();
    const rows = failed.match(/<tr class="failed">/g) ?? [];
    expect(rows).toHaveLength(50);
    expect(failed).not.toContain('<td class="num">200</td>');
    const none = await (await page(s.url, `/dashboard/events?key=${s.client.id}&error=none&status=4xx`, signed.cookie)).text();
    expect(none).toContain("No events match.");
  });
});

describe("CSV export", () => {
  let s: DashboardServer;
  beforeAll(() => {
    s = startDashboard();
  });
  afterAll(() => s.stop());

  const event = (ts: number, model: string, keyId = "key_export000") => ({
    ts,
    keyId,
    route: "/chat/completions",
    model,
    upstreamModel: null,
    stream: false,
    status: 200,
    latencyMs: 100,
    usageUnknown: false,
    promptTokens: 1,
    completionTokens: 2,
  });

  test("cells a spreadsheet would run as a formula are neutralised, the rest quoted per RFC 4180", async () => {
    const now = Date.now();
    writeEvents(
      s.store,
      ['=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)", 'plain,with "quotes"'].map((m, i) => event(now - 1000 + i, m)),
    );
    const response = await fetch(`${s.url}/admin/events.csv?since=1h`, { headers: { authorization: `Bearer ${s.admin.secret}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/csv");
    expect(response.headers.get("content-disposition")).toMatch(/^attachment; filename="copilot-api-events-/);
    const lines = (await response.text()).trimEnd().split("\r\n");
    expect(lines[0]).toStartWith("time,key_id,route,model,");
    const models = lines.slice(1).map((l) => l.split(",").slice(3, 4)[0]);
    expect(models.slice(0, 4)).toEqual(['"\'=HYPERLINK(""http://x"")"', "'+1", "'-2+3", "'@SUM(A1)"]);
    expect(lines[5]).toContain('"plain,with ""quotes"""');
  });

  test("admin key or session: a client key gets 403, no credentials 401, a session reads /dashboard/events.csv", async () => {
    expect((await fetch(`${s.url}/admin/events.csv`, { headers: { authorization: `Bearer ${s.client.secret}` } })).status).toBe(403);
    expect((await fetch(`${s.url}/admin/events.csv`)).status).toBe(401);
    expect((await fetch(`${s.url}/dashboard/events.csv`)).status).toBe(401);
    const signed = await signIn(s.url, s.admin.secret);
    const viaSession = await fetch(`${s.url}/dashboard/events.csv?since=1h`, { headers: { cookie: signed.cookie } });
    expect(viaSession.status).toBe(200);
    expect((await viaSession.text()).split("\r\n").length).toBeGreaterThan(5);
    const bad = await fetch(`${s.url}/admin/events.csv?since=soon`, { headers: { authorization: `Bearer ${s.admin.secret}` } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain("since=24h");
  });

  test("the export is read a page at a time as the client reads: rows written after it began still arrive, every row once", async () => {
    const base = Date.now() - 30 * 60_000;
    writeEvents(
      s.store,
      Array.from({ length: 5000 }, (_, i) => event(base + i, "gpt-4o", "key_paged00000")),
    );
    // In-process: no socket buffers between, so the body is produced only as it is read.
    const response = await s.request("/admin/events.csv?since=1h&key=key_paged00000", { headers: { authorization: `Bearer ${s.admin.secret}` } });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value);
    // Written after the export began: a query run up front could not see it.
    writeEvents(s.store, [event(Date.now(), "late-model", "key_paged00000")]);
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += decoder.decode(chunk.value);
    const lines = text.trimEnd().split("\r\n");
    expect(lines).toHaveLength(1 + 5000 + 1);
    expect(lines.at(-1)).toContain("late-model");
    expect(new Set(lines).size).toBe(lines.length);
  });

  test("a large export keeps memory bounded: the live heap while streaming 150,000 rows stays far below the export's size", async () => {
    const base = Date.now() - 50 * 60_000;
    const total = 150_000;
    for (let from = 0; from < total; from += 10_000) {
      writeEvents(
        s.store,
        Array.from({ length: 10_000 }, (_, i) => event(base + from + i, "gpt-4o", "key_bulk000000")),
      );
    }
    Bun.gc(true);
    const baseline = process.memoryUsage().heapUsed;
    const response = await s.request("/admin/events.csv?since=1h&key=key_bulk000000", { headers: { authorization: `Bearer ${s.admin.secret}` } });
    const reader = response.body!.getReader();
    let bytes = 0;
    let chunks = 0;
    let peak = 0;
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      bytes += chunk.value.byteLength;
      if (++chunks % 15 === 0) {
        Bun.gc(true);
        peak = Math.max(peak, process.memoryUsage().heapUsed - baseline);
      }
    }
    expect(chunks).toBeGreaterThan(100); // a page per chunk, not one body
    expect(bytes).toBeGreaterThan(10_000_000);
    expect(peak).toBeLessThan(bytes / 4);
  });

  test("the sessions table keeps no secret: a copy of the database signs nobody in", async () => {
    const signed = await signIn(s.url, s.admin.secret);
    const copy = new Database(s.dbPath, { readonly: true });
    try {
      const dump = JSON.stringify(copy.query("SELECT * FROM sessions").all());
      expect(dump).not.toContain(signed.sessionId);
      expect(hiddenCsrf(await (await page(s.url, "/dashboard/keys", signed.cookie)).text())).toBe(signed.csrf);
    } finally {
      copy.close();
    }
  });
});

describe("a flood of failed sign-ins cannot lock the admins out", () => {
  test("10,000 failed sign-ins from distinct addresses, and 10 more from the admin's own (a proxy in front): the admin still signs in; every failure is recorded", async () => {
    const s = startDashboard();
    try {
      const page = await s.request("/dashboard/login");
      const csrf = hiddenCsrf(await page.text())!;
      const cookie = page.headers.getSetCookie()[0]!.split(";")[0]!;
      const from = (address: string) => ({ requestIP: () => ({ address }) });
      const post = (key: string, address: string) =>
        s.request(
          "/dashboard/login",
          { method: "POST", headers: { cookie, "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ csrf, key }) },
          from(address),
        );
      const statuses = new Map<number, number>();
      for (let i = 0; i < 10_000; i++) {
        const answer = await post(`cpk_wrong_${i}`, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      }
      expect([...statuses]).toEqual([[401, 10_000]]);
      // The admin's address (a reverse proxy's) is past its limit: wrong keys from it get 429, the right one gets in.
      for (let i = 0; i < 10; i++) expect((await post("cpk_wrong", "192.0.2.1")).status).toBe(401);
      expect((await post("cpk_wrong", "192.0.2.1")).status).toBe(429);
      expect((await post(s.client.secret, "192.0.2.1")).status).toBe(429);
      const admin = await post(s.admin.secret, "192.0.2.1");
      expect(admin.status).toBe(303);
      expect(admin.headers.get("location")).toBe("/dashboard");
      expect(admin.headers.getSetCookie().some((c) => c.startsWith("copilot_api_session="))).toBe(true);
      // Recorded: rows capped per minute per key, every failure counted in usage_hourly.
      await Bun.sleep(10);
      const counted = s.store.sqlite
        .query<{ n: number }, [string]>("SELECT sum(requests) AS n FROM usage_hourly WHERE key_id IN ('__unauthenticated__', ?1)")
        .get(s.client.id);
      expect(counted).toEqual({ n: 10_012 });
      const rows = s.store.sqlite
        .query<{ error: string; n: number }, []>("SELECT error, count(*) AS n FROM events WHERE route = '/dashboard/login' GROUP BY error ORDER BY error")
        .all();
      expect(rows).toEqual([
        { error: "rate_limited", n: 1 }, // the client key's; the keyless one is past __unauthenticated__'s 60 rows this minute
        { error: "unauthorized", n: 60 },
      ]);
    } finally {
      s.stop();
    }
  });
});

test("the sign-in limiter forgets the address that failed longest ago past its bound, never more than its bound", () => {
  const limiter = new SignInLimiter(2, 60_000, 100);
  const now = 1_000_000;
  limiter.failed("early", now);
  limiter.failed("early", now);
  expect(limiter.blocked("early", now)).toBe(60);
  for (let i = 0; i < 10_000; i++) limiter.failed(`10.0.${i >> 8}.${i & 255}`, now);
  expect(limiter.size).toBe(100);
  expect(limiter.blocked("early", now)).toBeUndefined(); // evicted: the flood's own addresses went first
  expect(limiter.blocked("10.0.39.15", now)).toBeUndefined(); // one failure: may try again
  limiter.failed("10.0.39.15", now);
  expect(limiter.blocked("10.0.39.15", now + 1000)).toBe(59);
});
