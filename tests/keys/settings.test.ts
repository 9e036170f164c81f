import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { keySettingsText, parseExpires, parseKeySettings } from "~/features/keys/settings";
import { FieldError } from "~/lib/errors";
import { startFakeUpstream } from "../fake-upstream";
import { cleanUpAfterFile, cli, createKey, dbFileOf, isolatedEnv, startServer, tempDir } from "../helpers";

cleanUpAfterFile();

interface ShownKey {
  id: string;
  label: string;
  allowedModels: string[];
  rateLimit: number | null;
  premiumQuota: number | null;
  premiumUsedThisMonth: number;
  expiresAt: number | null;
  revokedAt: number | null;
}

const show = async (env: Record<string, string>, id: string) => {
  const result = await cli(["keys", "show", id, "--json"], env);
  if (result.code !== 0) throw new Error(result.stderr);
  return JSON.parse(result.stdout) as ShownKey;
};

const chat = (url: string, secret: string, model = "gpt-4o") =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
  });

/** Adds premium requests to a key's hourly totals, the way the recorder would have. */
function seedPremium(home: string, keyId: string, hour: number, model: string, premium: number): void {
  const db = new Database(dbFileOf(home));
  try {
    db.run("INSERT INTO usage_hourly (hour, key_id, model, requests, premium_requests) VALUES (?, ?, ?, 1, ?)", [hour, keyId, model, premium]);
  } finally {
    db.close();
  }
}

const HOUR = 3_600_000;
const thisHour = () => Date.now() - (Date.now() % HOUR);
const previousMonth = () => {
  const d = new Date();
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 15);
};

describe("keys create and update: quota, expiry, and settings without a new secret", () => {
  test("create takes --premium-quota and --expires; show and list say the quota, what was used this month and the expiry", async () => {
    const home = tempDir();
    const env = isolatedEnv(home);
    const before = Date.now();
    const key = await createKey(env, "--premium-quota", "50", "--expires", "30d");
    seedPremium(home, key.id, thisHour(), "claude-sonnet-4", 2.5);
    seedPremium(home, key.id, thisHour(), "gemini-2.5-pro", 0.33);
    seedPremium(home, key.id, previousMonth(), "claude-sonnet-4", 40); // last month's: not counted
    const shown = await show(env, key.id);
    expect(shown.premiumQuota).toBe(50);
    expect(shown.premiumUsedThisMonth).toBe(2.83);
    expect(shown.expiresAt).toBeGreaterThanOrEqual(before + 30 * 24 * HOUR);
    expect(shown.expiresAt).toBeLessThanOrEqual(Date.now() + 30 * 24 * HOUR);
    const list = await cli(["keys", "list"], env);
    expect(list.stdout).toContain("PREMIUM THIS MONTH");
    expect(list.stdout).toContain("2.83 of 50");
    expect(list.stdout).toContain(new Date(shown.expiresAt!).toISOString().slice(0, 10));
  });

  test("update changes label, models, rate limit, quota and expiry; the same secret keeps working and a running server applies it at once", async () => {
    const fake = startFakeUpstream();
    const env = isolatedEnv(tempDir(), { ...fake.env(), GH_TOKEN: fake.githubToken });
    const key = await createKey(env, "--label", "old", "--rate-limit", "100", "--premium-quota", "10", "--expires", "12h");
    const server = await startServer([], env);
    try {
      expect((await chat(server.url, key.secret, "gpt-4o")).status).toBe(200);
      const updated = await cli(
        ["keys", "update", key.id, "--label", "new", "--models", "claude-*", "--rate-limit", "none", "--premium-quota", "200", "--expires", "never"],
        env,
      );
      expect(updated.code).toBe(0);
      expect(updated.stdout).toContain("claude-*");
      expect(updated.stdout).not.toContain(key.secret);
      expect(await show(env, key.id)).toMatchObject({
        label: "new",
        allowedModels: ["claude-*"],
        rateLimit: null,
        premiumQuota: 200,
        expiresAt: null,
        revokedAt: null,
      });
      // Same secret, new settings, from the very next request.
      expect((await chat(server.url, key.secret, "gpt-4o")).status).toBe(403);
      expect((await chat(server.url, key.secret, "claude-sonnet-4")).status).toBe(200);

      expect((await cli(["keys", "update", key.id, "--rate-limit", "1", "--expires", "2099-01-01"], env)).code).toBe(0);
      expect(await show(env, key.id)).toMatchObject({ rateLimit: 1, expiresAt: Date.UTC(2099, 0, 1), premiumQuota: 200 });
      expect((await chat(server.url, key.secret, "claude-sonnet-4")).status).toBe(200);
      expect((await chat(server.url, key.secret, "claude-sonnet-4")).status).toBe(429); // the new rate limit
    } finally {
      await server.stop();
      fake.stop();
    }
  });

  test.each([
    [["--label", "changed?", "--premium-quota", "0"], "--premium-quota 0 is not a positive whole number"],
    [["--label", "changed?", "--expires", "2001-01-01"], "--expires 2001-01-01 is in the past"],
    [["--label", "changed?", "--expires", "2099-01-01T10:00"], "--expires 2099-01-01T10:00 has no time zone"],
    [["--label", "changed?", "--models", "gpt 4o"], 'entry "gpt 4o" is not a model name or pattern'],
    [[], "nothing to change"],
  ])("update %p is refused with what to do, and nothing is written (not even the valid flags)", async (args, message) => {
    const env = isolatedEnv(tempDir());
    const key = await createKey(env, "--label", "kept", "--premium-quota", "5");
    const before = await show(env, key.id);
    const result = await cli(["keys", "update", key.id, ...args], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain("what to do:");
    expect(await show(env, key.id)).toEqual(before);
  });

  test("create refuses the same bad input and creates nothing", async () => {
    const env = isolatedEnv(tempDir());
    for (const args of [
      ["--premium-quota", "-1"],
      ["--expires", "yesterday"],
    ]) {
      const result = await cli(["keys", "create", ...args], env);
      expect(result.code).toBe(1);
    }
    expect((await cli(["keys", "list", "--all", "--json"], env)).stdout.trim()).toBe("[]");
  });

  test("update refuses an unknown key and a revoked one", async () => {
    const env = isolatedEnv(tempDir());
    const key = await createKey(env);
    expect((await cli(["keys", "update", "key_nope", "--label", "x"], env)).stderr).toContain("no key with id key_nope");
    expect((await cli(["keys", "revoke", key.id], env)).code).toBe(0);
    const revoked = await cli(["keys", "update", key.id, "--expires", "30d"], env);
    expect(revoked.code).toBe(1);
    expect(revoked.stderr).toContain(`key ${key.id} was revoked at`);
  });
});

describe("parsing settings (the code path a dashboard would share)", () => {
  const now = Date.UTC(2026, 10, 26, 12, 0, 0);
  test("--expires: durations from now, dates at 00:00 UTC, date-times with their zone, never", () => {
    expect(parseExpires("12h", now)).toBe(now + 12 * 3_600_000);
    expect(parseExpires("30d", now)).toBe(now + 30 * 86_400_000);
    expect(parseExpires("2w", now)).toBe(now + 14 * 86_400_000);
    expect(parseExpires("2026-12-31", now)).toBe(Date.UTC(2026, 11, 31));
    expect(parseExpires("2026-12-31T18:30Z", now)).toBe(Date.UTC(2026, 11, 31, 18, 30));
    expect(parseExpires("2026-12-31 18:30:00+02:00", now)).toBe(Date.UTC(2026, 11, 31, 16, 30));
    expect(parseExpires("never", now)).toBeNull();
    expect(() => parseExpires("2026-11-26T11:59Z", now)).toThrow("is in the past");
    expect(() => parseExpires("200y", now)).toThrow("neither a duration nor a date");
    expect(() => parseExpires("99999d", now)).toThrow("more than 100 years away");
  });

  test.each([
    ["premiumQuota 1.5", { premiumQuota: "1.5" }, "--premium-quota 1.5 is not a positive whole number of premium requests per month"],
    ["premiumQuota lots", { premiumQuota: "lots" }, "--premium-quota lots is not a positive whole number"],
    ["premiumQuota ", { premiumQuota: "" }, "--premium-quota  is not a positive whole number"],
    ["rateLimit 0.4", { rateLimit: "0.4" }, "--rate-limit 0.4 is not a positive whole number of requests per minute"],
    ["rateLimit 1e9", { rateLimit: "1e9" }, "--rate-limit 1e9 is above the largest accepted value"],
    ["expires soon", { expires: "soon" }, "--expires soon is neither a duration nor a date"],
    ["expires 0d", { expires: "0d" }, "--expires 0d is no time at all"],
    ["expires 2099-02-30", { expires: "2099-02-30" }, "--expires 2099-02-30 is not a calendar date"],
    ["expires 2099-02-30T10:00Z", { expires: "2099-02-30T10:00Z" }, "--expires 2099-02-30T10:00Z is not a valid date and time"],
    ["label of 201 characters", { label: "x".repeat(201) }, "--label is 201 characters long; the limit is 200"],
  ])("refuses %s", (_what, input, message) => {
    expect(() => parseKeySettings(input, now)).toThrow(message);
  });

  test.each([
    ["label", { label: "x".repeat(201) }],
    ["models", { models: "gpt-4o,,o3" }],
    ["rateLimit", { rateLimit: "fast" }],
    ["premiumQuota", { premiumQuota: "lots" }],
    ["budget", { budget: "lots" }],
    ["expires", { expires: "yesterday" }],
  ] as const)("an error about %s is a FieldError naming that field, in the CLI's words", (field, input) => {
    let thrown: unknown;
    try {
      parseKeySettings({ label: "fine", rateLimit: "60", ...input }, now);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(FieldError);
    expect((thrown as FieldError).field).toBe(field);
    expect((thrown as FieldError).message).toStartWith(`--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} `);
  });

  test("absent fields stay absent; none clears a limit", () => {
    expect(parseKeySettings({}, now)).toEqual({});
    expect(parseKeySettings({ rateLimit: "none", premiumQuota: "NONE", expires: "never" }, now)).toEqual({
      rateLimit: null,
      premiumQuota: null,
      expiresAt: null,
    });
    expect(parseKeySettings({ premiumQuota: " 300 ", models: "gpt-4o" }, now)).toEqual({ premiumQuota: 300, allowedModels: ["gpt-4o"] });
  });

  test("a key's settings written back as text (an edit form's starting values) parse to the same settings", () => {
    const base = {
      id: "key_0123456789",
      hash: "h",
      tier: "client" as const,
      createdAt: now,
      lastUsedAt: null,
      revokedAt: null,
      credentialId: null,
      budgetNanoAiu: null,
    };
    const open = { ...base, label: "", allowedModels: ["*"], rateLimit: null, premiumQuota: null, expiresAt: null };
    expect(keySettingsText(open)).toEqual({ label: "", models: "*", rateLimit: "none", premiumQuota: "none", budget: "none", expires: "never" });
    const tight = {
      ...base,
      label: "ci",
      allowedModels: ["gpt-4o", "claude-*"],
      rateLimit: 60,
      premiumQuota: 300,
      budgetNanoAiu: 5e11,
      expiresAt: Date.UTC(2027, 0, 2, 3, 4, 5),
    };
    const text = keySettingsText(tight);
    expect(text).toEqual({ label: "ci", models: "gpt-4o,claude-*", rateLimit: "60", premiumQuota: "300", budget: "5usd", expires: "2027-01-02T03:04:05Z" });
    for (const row of [open, tight]) {
      const { label, allowedModels, rateLimit, premiumQuota, budgetNanoAiu, expiresAt } = row;
      expect(parseKeySettings(keySettingsText(row), now)).toEqual({ label, allowedModels, rateLimit, premiumQuota, budgetNanoAiu, expiresAt });
    }
    expect(keySettingsText({ ...tight, expiresAt: Date.UTC(2027, 0, 2, 18) }).expires).toBe("2027-01-02T18:00Z");
    expect(keySettingsText({ ...tight, expiresAt: Date.UTC(2027, 0, 2, 18) + 250 }).expires).toBe("2027-01-02T18:00Z"); // to the second
  });

  test("--budget takes dollars or credits (1 credit = $0.01 = 1e9 nano-AIU), or none; anything else says how to write it", () => {
    const budget = (text: string) => parseKeySettings({ budget: text }, now).budgetNanoAiu;
    expect(budget("5usd")).toBe(500_000_000_000);
    expect(budget("$2.50")).toBe(250_000_000_000);
    expect(budget("500credits")).toBe(500_000_000_000);
    expect(budget("0.5 credit")).toBe(500_000_000);
    expect(budget("none")).toBeNull();
    for (const bad of ["5", "five usd", "0usd", "-3usd", "1000000usd"]) expect(() => budget(bad)).toThrow(/--budget/);
    const row = { id: "key_0123456789", hash: "h", tier: "client" as const, createdAt: now, lastUsedAt: null, revokedAt: null, credentialId: null };
    const open = { ...row, label: "", allowedModels: ["*"], rateLimit: null, premiumQuota: null, expiresAt: null };
    expect(keySettingsText({ ...open, budgetNanoAiu: 1_500_000_000 }).budget).toBe("1.5credits");
  });
});
