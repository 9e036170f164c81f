/// <reference lib="dom" />
// (The page.evaluate callbacks below run in the browser, on its DOM.)
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { cleanUpAfterFile, ROOT } from "../helpers";
import { type DashboardServer, seedEvents, startDashboard } from "./harness";

cleanUpAfterFile();

/**
 * Real-browser tests: Debian's `chromium` (installed by .ci/run with apt-get),
 * driven by puppeteer-core, which downloads no browser. CHROMIUM_PATH names
 * another binary. Screenshots of the main pages go to .tmp/dashboard/ on every run.
 */
const chromium = process.env.CHROMIUM_PATH || Bun.which("chromium") || Bun.which("chromium-browser") || Bun.which("google-chrome") || undefined;
if (!chromium && process.env.CI) throw new Error("no Chromium for the browser tests: `apt-get install -y chromium` (.ci/run does), or set CHROMIUM_PATH");
if (!chromium) console.warn("SKIPPED dashboard browser tests: no Chromium (apt-get install -y chromium, or set CHROMIUM_PATH)");

const SHOTS = join(ROOT, ".tmp", "dashboard");
const HOUR = 3_600_000;

describe.skipIf(!chromium)("the dashboard in a real browser", () => {
  let browser: Browser;
  let s: DashboardServer;
  let page: Page;
  /** CSP refusals the browser reported in its console: must stay empty. */
  const violations: string[] = [];

  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const text = () => page.evaluate(() => document.body.textContent ?? "");

  async function submit(selector = "form button[type=submit]") {
    await Promise.all([page.waitForNavigation(), page.click(selector)]);
  }

  async function signIn(secret: string) {
    await page.goto(`${s.url}/dashboard`);
    expect(new URL(page.url()).pathname).toBe("/dashboard/login");
    await page.type("input[name=key]", secret);
    await submit("main form button[type=submit]");
  }

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    s = startDashboard();
    seedEvents(s.store, [s.admin.id, s.client.id], 2000, 24 * 80);
    browser = await puppeteer.launch({ executablePath: chromium, args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"] });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    await page.evaluateOnNewDocument(() => {
      document.addEventListener("securitypolicyviolation", (event) => {
        const seen = (window as unknown as { cspViolations?: string[] }).cspViolations ?? [];
        seen.push(`${event.violatedDirective} ${event.blockedURI}`);
        (window as unknown as { cspViolations?: string[] }).cspViolations = seen;
      });
    });
    page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
  });
  afterAll(async () => {
    await browser?.close();
    await s?.stop();
  });

  async function checkCleanPage() {
    const found = await page.evaluate(() => ({
      inline: document.querySelectorAll("script:not([src])").length,
      styled: document.querySelectorAll("[style]:not(.uplot *):not(.uplot)").length,
      csp: (window as unknown as { cspViolations?: string[] }).cspViolations ?? [],
    }));
    expect(found.inline).toBe(0);
    expect(found.csp).toEqual([]);
    expect(violations).toEqual([]);
  }

  test("a client key is refused with a page that says to use an admin key", async () => {
    await signIn(s.client.secret);
    expect(await text()).toContain("Client keys cannot sign in");
    expect(await text()).toContain("copilot-api keys create --tier admin");
    await shot("refused-client-key");
  });

  test("an admin key signs in; the usage charts render from usage_hourly; no inline script, no CSP violation", async () => {
    await signIn(s.admin.secret);
    expect(new URL(page.url()).pathname).toBe("/dashboard");
    const cookies = await browser.cookies();
    const session = cookies.find((c) => c.name === "copilot_api_session")!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/dashboard" });
    expect(await page.evaluate(() => document.cookie)).toBe(""); // HttpOnly: not readable by scripts

    await page.waitForSelector('[data-chart="requests"][data-points]');
    const charts = await page.$$eval("[data-chart]", (plots) =>
      plots.map((plot) => {
        const canvas = plot.querySelector("canvas");
        let inked = 0;
        if (canvas) {
          const pixels = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
          for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) inked++;
        }
        return {
          name: (plot as HTMLElement).dataset.chart,
          points: Number((plot as HTMLElement).dataset.points),
          total: Number((plot as HTMLElement).dataset.total),
          inked,
        };
      }),
    );
    expect(charts.map((c) => c.name)).toEqual(["requests", "tokens", "premium", "latency"]);
    for (const chart of charts) {
      expect(chart.points).toBe(7); // default window: 7 UTC days
      expect(chart.total).toBeGreaterThan(0);
      expect(chart.inked).toBeGreaterThan(1000);
    }
    await checkCleanPage();
    await shot("usage");

    // The window picker is in the URL and redraws by hour for 48 h.
    await Promise.all([page.waitForNavigation(), page.click('.windows a[href*="window=48h"]')]);
    expect(new URL(page.url()).searchParams.get("window")).toBe("48h");
    await page.waitForSelector('[data-chart="requests"][data-points]');
    expect(await page.$eval('[data-chart="requests"]', (el) => (el as HTMLElement).dataset.points)).toBe("48");
    // A key filter applies on change (the select submits its form) and reflects in the URL.
    await Promise.all([page.waitForNavigation(), page.select('select[name="key"]', s.client.id)]);
    expect(new URL(page.url()).searchParams.get("key")).toBe(s.client.id);
    await page.waitForSelector('[data-chart="requests"][data-points]');
    await checkCleanPage();
  });

  test("creating a key shows its secret once, with a copy button; revoking asks first, then the key is gone from the active list", async () => {
    await page.goto(`${s.url}/dashboard/keys`);
    await page.select('select[name="tier"]', "client");
    await page.type('input[name="label"]', "made in a browser");
    await page.type('input[name="models"]', "gpt-4o");
    await submit("form.grid-form button[type=submit]");
    const secret = await page.$eval("#new-secret", (el) => el.textContent ?? "");
    expect(secret).toMatch(/^cpk_[0-9A-Za-z]{49}$/);
    expect(await text()).toContain("shown only this once");
    await page.click("button[data-copy]");
    await page.waitForFunction(() => document.querySelector("button[data-copy]")?.textContent !== "Copy");
    await checkCleanPage();
    await shot("keys-created");
    const id = (await text()).match(/Created client key (key_[0-9A-Za-z]+)/)![1]!;
    expect((await fetch(`${s.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } })).status).not.toBe(401);

    await page.goto(`${s.url}/dashboard/keys`);
    expect(await page.content()).not.toContain(secret);
    await Promise.all([page.waitForNavigation(), page.click(`tr[data-key="${id}"] a.danger`)]);
    expect(await text()).toContain(`Revoke ${id}?`);
    await shot("keys-revoke-confirm");
    await submit("form.actions button[type=submit]");
    expect(await text()).toContain(`Revoked ${id}`);
    expect(await page.$(`tr[data-key="${id}"]`)).toBeNull();
    expect((await fetch(`${s.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } })).status).toBe(401);
    await shot("keys");
  });

  test("editing a key: the form is pre-filled, a bad value is explained with the form kept, the saved label and quota show in the list", async () => {
    await page.goto(`${s.url}/dashboard/keys`);
    await Promise.all([page.waitForNavigation(), page.click(`tr[data-key="${s.client.id}"] a.edit`)]);
    expect(new URL(page.url()).pathname).toBe(`/dashboard/keys/${s.client.id}/edit`);
    const value = (name: string) => page.$eval(`input[name="${name}"]`, (el) => (el as HTMLInputElement).value);
    expect(await value("label")).toBe("ci bot");
    expect(await value("premiumQuota")).toBe("none");
    expect(await value("expires")).toBe("never");
    await checkCleanPage();
    await shot("keys-edit");

    const retype = async (name: string, text: string) => {
      await page.$eval(`input[name="${name}"]`, (el) => {
        (el as HTMLInputElement).value = "";
      });
      await page.type(`input[name="${name}"]`, text);
    };
    await retype("label", "ci bot (nightly)");
    await retype("premiumQuota", "5000");
    await retype("expires", "yesterday");
    await submit("form.stack button[type=submit]");
    expect(await text()).toContain("--expires yesterday is neither a duration nor a date");
    expect(await value("label")).toBe("ci bot (nightly)"); // the form is kept
    expect(await page.$eval('input[name="expires"]', (el) => el.getAttribute("aria-invalid"))).toBe("true");
    await shot("keys-edit-error");

    await retype("expires", "never");
    await submit("form.stack button[type=submit]");
    expect(new URL(page.url()).pathname).toBe("/dashboard/keys");
    expect(await text()).toContain(`Updated ${s.client.id}`);
    const cells = await page.$$eval(`tr[data-key="${s.client.id}"] td`, (tds) => tds.map((td) => td.textContent ?? ""));
    expect(cells).toContain("ci bot (nightly)");
    expect(cells.some((cell) => /^[\d,.]+ of 5,000$/.test(cell))).toBe(true); // premium used this month of the quota
    await checkCleanPage();
    await shot("keys-edited");
  });

  test("a form without its CSRF token is refused and changes nothing", async () => {
    await page.goto(`${s.url}/dashboard/keys`);
    const before = await page.$$eval("tr[data-key]", (rows) => rows.length);
    await page.evaluate(() => document.querySelector('form.grid-form input[name="csrf"]')?.remove());
    await page.type('input[name="label"]', "should not exist");
    await submit("form.grid-form button[type=submit]");
    expect(await text()).toContain("Request refused");
    await page.goto(`${s.url}/dashboard/keys`);
    expect(await page.$$eval("tr[data-key]", (rows) => rows.length)).toBe(before);
  });

  test("recent events page: the table is there, filters go in the URL", async () => {
    await page.goto(`${s.url}/dashboard/events`);
    expect(await page.$$eval('table[data-table="events"] tbody tr', (rows) => rows.length)).toBe(50);
    await Promise.all([page.waitForNavigation(), page.select('select[name="status"]', "5xx")]);
    expect(new URL(page.url()).searchParams.get("status")).toBe("5xx");
    expect(await page.$$eval('table[data-table="events"] tbody tr', (rows) => rows.every((r) => r.classList.contains("failed")))).toBe(true);
    await checkCleanPage();
    await shot("events");
  });

  test("on a phone-sized screen the usage page still draws its charts", async () => {
    await page.setViewport({ width: 390, height: 844, isMobile: true, deviceScaleFactor: 2 });
    await page.goto(`${s.url}/dashboard?window=24h`);
    await page.waitForSelector('[data-chart="latency"][data-points]');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0); // wide tables scroll in their own box, not the page
    await shot("usage-phone");
    await page.setViewport({ width: 1280, height: 900 });
  });

  test("sign-out ends the session: the dashboard asks to sign in again", async () => {
    await page.goto(`${s.url}/dashboard`);
    await submit("form.signout button[type=submit]");
    expect(new URL(page.url()).pathname).toBe("/dashboard/login");
    expect(await text()).toContain("Signed out.");
    await page.goto(`${s.url}/dashboard/keys`);
    expect(new URL(page.url()).pathname).toBe("/dashboard/login");
  });

  test("a session unused for 8 hours has expired (the server's clock moved ahead)", async () => {
    await signIn(s.admin.secret);
    expect(new URL(page.url()).pathname).toBe("/dashboard");
    s.clock.offset = 8 * HOUR + 1000;
    await page.reload();
    expect(new URL(page.url()).pathname).toBe("/dashboard/login");
    expect(await text()).toContain("Your session ended");
    s.clock.offset = 0;
  });

  test("failed sign-ins are rate limited: after 10 wrong keys in a minute, the page says to wait", async () => {
    await page.goto(`${s.url}/dashboard/login`);
    for (let i = 0; i < 11; i++) {
      await page.goto(`${s.url}/dashboard/login`);
      await page.type("input[name=key]", `cpk_wrong_${i}`);
      await submit("main form button[type=submit]");
    }
    expect(await text()).toContain("Too many sign-in attempts");
    await shot("sign-in-rate-limited");
  });
});
