import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { csrfTokenFor } from "~/features/dashboard/auth";
import { hashSessionId, newSessionId, sqliteSessions } from "~/features/dashboard/sessions";
import { writeEvents } from "~/features/events/queries";
import { createKey } from "~/features/keys";
import { cleanUpAfterFile, cli, isolatedEnv, tempDir } from "../helpers";
import { type DashboardServer, postForm, type Signed, signIn, startDashboard } from "./harness";

cleanUpAfterFile();

const DAY = 86_400_000;
const page = (url: string, path: string, cookie: string) => fetch(`${url}${path}`, { redirect: "manual", headers: { cookie } });

interface Row {
  label: string;
  allowed_models: string;
  rate_limit: number | null;
  premium_quota: number | null;
  expires_at: number | null;
}

/** What a page marks as invalid: each such input's name and the text of the element its aria-describedby names. */
async function invalidInputs(html: string): Promise<{ name: string; describedBy: string | null; says: string | undefined }[]> {
  const marked: { name: string; describedBy: string | null }[] = [];
  const texts = new Map<string, string>();
  let open: string | undefined;
  await new HTMLRewriter()
    .on("input[aria-invalid], select[aria-invalid]", {
      element(el) {
        marked.push({ name: el.getAttribute("name") ?? "", describedBy: el.getAttribute("aria-describedby") });
      },
    })
    .on("[id]", {
      element(el) {
        if (!el.canHaveContent) return; // an <input id> holds no text
        const id = el.getAttribute("id")!;
        open = id;
        texts.set(id, "");
        el.onEndTag(() => {
          open = undefined;
        });
      },
      text(chunk) {
        if (open) texts.set(open, texts.get(open)! + chunk.text);
      },
    })
    .transform(new Response(html))
    .text();
  return marked.map((m) => ({ ...m, says: m.describedBy ? texts.get(m.describedBy) : undefined }));
}

describe("dashboard: create and edit keys through the keys feature's settings (the CLI's code path)", () => {
  let s: DashboardServer;
  let signed: Signed;
  beforeAll(async () => {
    s = startDashboard();
    signed = await signIn(s.url, s.admin.secret);
  });
  afterAll(() => s.stop());

  const row = (id: string) =>
    s.store.sqlite.query<Row, [string]>("SELECT label, allowed_models, rate_limit, premium_quota, expires_at FROM keys WHERE id = ?").get(id)!;
  const keyCount = () => (s.store.sqlite.query("SELECT count(*) AS n FROM keys").get() as { n: number }).n;
  const newClient = (spec: Partial<Parameters<typeof createKey>[1]> = {}) =>
    createKey(s.store.db, { tier: "client", label: "to edit", allowedModels: ["*"], rateLimit: null, ...spec });
  const edit = (id: string, fields: Record<string, string | undefined>, cookie = signed.cookie) =>
    postForm(s.url, `/dashboard/keys/${id}/edit`, cookie, { csrf: signed.csrf, ...fields });
  /** What the edit page pre-fills, as a form would send it back unchanged. */
  async function prefilled(id: string): Promise<Record<string, string>> {
    const html = await (await page(s.url, `/dashboard/keys/${id}/edit`, signed.cookie)).text();
    const fields: Record<string, string> = {};
    for (const name of ["label", "models", "rateLimit", "premiumQuota", "expires"])
      fields[name] = html.match(new RegExp(`name="${name}"[^>]* value="([^"]*)"`))![1]!;
    return fields;
  }

  test("create reads premium quota and expiry, and refuses bad input with parseKeySettings' message and hint; nothing is created", async () => {
    const before = keyCount();
    const bad = await postForm(s.url, "/dashboard/keys", signed.cookie, { csrf: signed.csrf, tier: "client", label: "x", rateLimit: "-3" });
    expect(bad.status).toBe(400);
    const html = await bad.text();
    expect(html).toContain("--rate-limit -3 is not a positive whole number of requests per minute");
    expect(html).toContain("pass e.g. --rate-limit 60, or --rate-limit none for no limit");
    expect(html).toMatch(/name="rateLimit"[^>]*value="-3"[^>]*aria-invalid="true"/);
    for (const [field, value, says] of [
      ["premiumQuota", "lots", "--premium-quota lots is not a positive whole number"],
      ["expires", "2020-01-01", "--expires 2020-01-01 is in the past"],
      ["expires", "2026-12-31T18:00", "has no time zone"],
      ["label", "x".repeat(201), "--label is 201 characters long"],
    ] as const) {
      const refused = await postForm(s.url, "/dashboard/keys", signed.cookie, { csrf: signed.csrf, tier: "client", [field]: value });
      expect(refused.status).toBe(400);
      expect(await refused.text()).toContain(says);
    }
    expect(keyCount()).toBe(before);

    const at = Date.now();
    const created = await postForm(s.url, "/dashboard/keys", signed.cookie, {
      csrf: signed.csrf,
      tier: "client",
      label: "with a quota",
      premiumQuota: "300",
      expires: "30d",
      rateLimit: "none",
    });
    expect(created.status).toBe(200);
    const id = (await created.text()).match(/Created client key (key_[0-9A-Za-z]+)/)![1]!;
    const made = row(id);
    expect(made).toMatchObject({ label: "with a quota", allowed_models: '["*"]', rate_limit: null, premium_quota: 300 });
    expect(made.expires_at! - at).toBeGreaterThanOrEqual(30 * DAY - 1000);
    expect(made.expires_at! - at).toBeLessThan(30 * DAY + 60_000);
  });

  test("the edit page is pre-filled the way the CLI writes settings (none, never, *)", async () => {
    const open = newClient({ label: "open" }).row;
    expect(await prefilled(open.id)).toEqual({ label: "open", models: "*", rateLimit: "none", premiumQuota: "none", expires: "never" });
    const tight = newClient({
      label: "tight",
      allowedModels: ["gpt-4o", "claude-*"],
      rateLimit: 60,
      premiumQuota: 100,
      expiresAt: Date.UTC(2099, 11, 31, 18),
    }).row;
    expect(await prefilled(tight.id)).toEqual({
      label: "tight",
      models: "gpt-4o,claude-*",
      rateLimit: "60",
      premiumQuota: "100",
      expires: "2099-12-31T18:00Z",
    });
    const list = await (await page(s.url, "/dashboard/keys", signed.cookie)).text();
    expect(list).toContain(`href="/dashboard/keys/${tight.id}/edit"`);
  });

  test("an edit is written through updateKey and the running server applies it from the key's next request", async () => {
    const { row: key, secret } = newClient({ label: "ci" });
    writeEvents(s.store, [
      {
        ts: Date.now(),
        keyId: key.id,
        route: "/chat/completions",
        model: "gpt-4o",
        stream: false,
        status: 200,
        latencyMs: 10,
        usageUnknown: false,
        premiumRequests: 3,
      },
    ]);
    const asKey = () => fetch(`${s.url}/admin/usage`, { headers: { authorization: `Bearer ${secret}` } });
    expect((await asKey()).status).toBe(403); // a client key on /admin: known (and now cached) by the resolver
    const response = await edit(key.id, { label: "ci, edited", models: "gpt-4o, o3-mini", rateLimit: "120", premiumQuota: "2", expires: "2099-01-01" });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe(`/dashboard/keys?updated=${key.id}`);
    expect(row(key.id)).toEqual({
      label: "ci, edited",
      allowed_models: '["gpt-4o","o3-mini"]',
      rate_limit: 120,
      premium_quota: 2,
      expires_at: Date.UTC(2099, 0, 1),
    });
    // 3 premium requests used, quota now 2: refused at once, so the resolver's cache was dropped.
    const refused = await asKey();
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("premium_quota_exceeded");
    const list = await (await page(s.url, `/dashboard/keys?updated=${key.id}`, signed.cookie)).text();
    expect(list).toContain(`Updated ${key.id}`);
    const cells = list.match(new RegExp(`<tr data-key="${key.id}">(.*?)</tr>`))![1]!;
    expect(cells).toContain("ci, edited");
    expect(cells).toContain("3 of 2"); // premium used this month of the quota, as `keys list` says it
    expect(cells).toContain("2099-01-01 00:00:00");
  });

  test("blank fields mean the CLI's defaults (no limit, every model, never); untouched fields are not re-checked", async () => {
    const key = newClient({ allowedModels: ["gpt-4o"], rateLimit: 60, premiumQuota: 10, expiresAt: Date.UTC(2099, 0, 1) }).row;
    expect((await edit(key.id, { label: "to edit", models: "", rateLimit: "", premiumQuota: " none ", expires: "" })).status).toBe(303);
    expect(row(key.id)).toEqual({ label: "to edit", allowed_models: '["*"]', rate_limit: null, premium_quota: null, expires_at: null });

    // An expired key: its expiry (in the past) is sent back as it was and left alone; the label changes.
    const expired = newClient({ label: "old", expiresAt: Date.now() - DAY }).row;
    const form = await prefilled(expired.id);
    expect((await edit(expired.id, { ...form, label: "old, renamed" })).status).toBe(303);
    expect(row(expired.id)).toMatchObject({ label: "old, renamed", expires_at: expired.expiresAt });

    // Sent back unchanged: nothing to write, said plainly.
    const unchanged = await edit(expired.id, await prefilled(expired.id));
    expect(unchanged.headers.get("location")).toBe(`/dashboard/keys?unchanged=${expired.id}`);
  });

  test("bad input is answered with the message and the hint, the form kept, and nothing written (not even the valid fields)", async () => {
    const key = newClient({ label: "steady", rateLimit: 60 }).row;
    const before = row(key.id);
    const response = await edit(key.id, { label: "renamed", models: "*", rateLimit: "fast", premiumQuota: "none", expires: "never" });
    expect(response.status).toBe(400);
    const html = await response.text();
    expect(html).toContain("--rate-limit fast is not a positive whole number of requests per minute");
    expect(html).toContain('<p class="remedy">pass e.g. --rate-limit 60, or --rate-limit none for no limit</p>');
    expect(html).toMatch(/name="rateLimit"[^>]*value="fast"[^>]*aria-invalid="true"/);
    expect(html).toContain('value="renamed"');
    expect(html).toContain(`action="/dashboard/keys/${key.id}/edit"`);
    expect(row(key.id)).toEqual(before);

    // The CLI says the same about the same input: one parser.
    const viaCli = await cli(["keys", "update", key.id, "--rate-limit", "fast", "--db-path", s.dbPath], isolatedEnv(tempDir()));
    expect(viaCli.code).not.toBe(0);
    expect(viaCli.stderr + viaCli.stdout).toContain("--rate-limit fast is not a positive whole number of requests per minute");

    const huge = await edit(key.id, { models: `${"m".repeat(50_000)} x` });
    expect(huge.status).toBe(400);
    expect((await huge.text()).length).toBeLessThan(20_000); // the echo is bounded
    expect(row(key.id)).toEqual(before);
  });

  test("a revoked key cannot be edited: the page says so, and a posted form writes nothing", async () => {
    const key = newClient({ label: "gone" }).row;
    s.store.sqlite.run("UPDATE keys SET revoked_at = ? WHERE id = ?", [Date.now(), key.id]);
    const shown = await page(s.url, `/dashboard/keys/${key.id}/edit`, signed.cookie);
    expect(shown.status).toBe(409);
    expect(await shown.text()).toContain("a revoked key stays revoked");
    const posted = await edit(key.id, { label: "back" }); // a form shown before the key was revoked
    expect(posted.status).toBe(409);
    expect(await posted.text()).toContain("a revoked key stays revoked");
    expect(row(key.id).label).toBe("gone");
    expect((await page(s.url, "/dashboard/keys/key_nosuchkey/edit", signed.cookie)).status).toBe(404);
  });

  test("an edit without the CSRF token, or with another session's, is refused (403) and writes nothing", async () => {
    const key = newClient({ label: "guarded" }).row;
    const missing = await postForm(s.url, `/dashboard/keys/${key.id}/edit`, signed.cookie, { label: "hijacked" });
    expect(missing.status).toBe(403);
    expect(await missing.text()).toContain("security token (CSRF)");
    const other = await signIn(s.url, s.admin.secret);
    expect((await postForm(s.url, `/dashboard/keys/${key.id}/edit`, signed.cookie, { csrf: other.csrf, label: "hijacked" })).status).toBe(403);
    expect(row(key.id).label).toBe("guarded");
  });

  test("a client key's session (or a client key as a bearer) is refused: sent to sign in, nothing written", async () => {
    const key = newClient({ label: "untouched" }).row;
    // A session row for the client key, as if one had been made: the check on every request refuses it.
    const id = newSessionId();
    await sqliteSessions(s.store.db).open(hashSessionId(id), s.client.id, Date.now());
    const cookie = `copilot_api_session=${id}`;
    const viaSession = await postForm(s.url, `/dashboard/keys/${key.id}/edit`, cookie, { csrf: csrfTokenFor(id), label: "by a client" });
    expect(viaSession.status).toBe(303);
    expect(viaSession.headers.get("location")).toBe("/dashboard/login?notice=ended");
    expect((await page(s.url, `/dashboard/keys/${key.id}/edit`, cookie)).status).toBe(303);
    const viaBearer = await fetch(`${s.url}/dashboard/keys/${key.id}/edit`, {
      method: "POST",
      redirect: "manual",
      headers: { authorization: `Bearer ${s.client.secret}`, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ label: "by a client" }),
    });
    expect(viaBearer.status).toBe(303);
    expect(viaBearer.headers.get("location")).toBe("/dashboard/login");
    expect(row(key.id).label).toBe("untouched");
  });

  // A refused form marks the input its error is about, from the error's field (not from its words).
  test.each([
    ["tier", { tier: "gold" }, "tier gold is not one of admin, client"],
    ["label", { label: "x".repeat(201) }, "--label is 201 characters long"],
    ["models", { models: "gpt-4o,,o3" }, "--models gpt-4o,,o3 has an empty entry"],
    ["rateLimit", { rateLimit: "-3" }, "--rate-limit -3 is not a positive whole number"],
    ["premiumQuota", { premiumQuota: "lots" }, "--premium-quota lots is not a positive whole number"],
    ["budget", { budget: "lots" }, "--budget lots is not an amount with a unit"],
    ["expires", { expires: "yesterday" }, "--expires yesterday is neither a duration nor a date"],
  ] as const)("create: an error about %s is shown beside that input and tied to it (aria-describedby), no other input marked", async (field, input, says) => {
    const response = await postForm(s.url, "/dashboard/keys", signed.cookie, { csrf: signed.csrf, tier: "client", label: "ok", ...input });
    expect(response.status).toBe(400);
    const marked = await invalidInputs(await response.text());
    expect(marked).toHaveLength(1);
    expect(marked[0]!.name).toBe(field);
    expect(marked[0]!.describedBy).toBe(`key-${field}-error`);
    expect(marked[0]!.says).toStartWith(says);
  });

  test("edit: the error is beside the field it is about, though the form changed several fields", async () => {
    const key = newClient({ rateLimit: 60 }).row;
    const response = await postForm(s.url, `/dashboard/keys/${key.id}/edit`, signed.cookie, {
      csrf: signed.csrf,
      label: "renamed",
      models: "gpt-4o",
      rateLimit: "120",
      premiumQuota: "none",
      budget: "5usd",
      expires: "2020-01-01",
    });
    expect(response.status).toBe(400);
    const marked = await invalidInputs(await response.text());
    expect(marked).toEqual([{ name: "expires", describedBy: "key-expires-error", says: expect.stringContaining("--expires 2020-01-01 is in the past") }]);
  });
});
