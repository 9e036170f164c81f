/// <reference lib="dom" />
// (The page.evaluate callbacks below run in the browser, on its DOM.)
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import type { Store } from "~/db";
import { type RecordedEvent, writeEvents } from "~/features/events/queries";
import { createKey } from "~/features/keys";
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
/** The README's picture of the dashboard: rewritten only with UPDATE_SCREENSHOTS=1, else beside the other shots. */
const README_SHOT = process.env.UPDATE_SCREENSHOTS === "1" ? join(ROOT, "docs", "img", "dashboard.png") : join(SHOTS, "readme-dashboard.png");
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** One event as the recorder writes it; what a test does not name is a plain successful chat request. */
function event(at: number, keyId: string, fields: Partial<RecordedEvent> = {}): RecordedEvent {
  return {
    ts: at,
    keyId,
    route: "/chat/completions",
    model: "gpt-4o",
    upstreamModel: fields.model ?? "gpt-4o",
    stream: true,
    promptTokens: 1200,
    completionTokens: 300,
    cacheReadTokens: 0,
    premiumRequests: 0,
    usageUnknown: false,
    status: 200,
    latencyMs: 800,
    error: null,
    ...fields,
  };
}

/** A key whose label and model list are as long as the forms allow people to make them. */
const LONG_LABEL = "nightly release pipeline for the mobile app team, staging and production runners (owner: platform-infrastructure@example.com)";
const MANY_MODELS = ["claude-sonnet-4", "claude-3.7-sonnet-thought", "gpt-4.1", "gpt-4o", "gpt-4o-mini", "o3-mini", "o4-mini", "gemini-2.5-pro", "gpt-5-mini"];

/**
 * Keys a busy screen holds, and events whose names are long: at 1280 px nothing
 * may push a table's columns or its actions out of view. The "fast" key's requests
 * all fall in one UTC day three days ago, nearly all in 3-12 ms and one slow.
 */
function seedWideRows(store: Store, now: number) {
  const wide = createKey(store.db, {
    tier: "client",
    label: LONG_LABEL,
    allowedModels: MANY_MODELS,
    rateLimit: 600,
    premiumQuota: 300,
    expiresAt: now + 90 * DAY,
  });
  const fast = createKey(store.db, { tier: "client", label: "editor autocomplete", allowedModels: ["*"], rateLimit: null });
  const long = { model: "claude-3.7-sonnet-thought", upstreamModel: "claude-3.7-sonnet-thought", route: "/v1/messages/count_tokens" };
  writeEvents(store, [
    event(now - 60_000, wide.row.id, { ...long, status: 499, error: "client_aborted", latencyMs: 123_456, promptTokens: 1_234_567, cacheReadTokens: 987_654 }),
    event(now - 120_000, wide.row.id, { ...long, status: 200, latencyMs: 45_678, completionTokens: 123_456 }),
  ]);
  const busyDay = now - (now % DAY) - 3 * DAY + 10 * HOUR;
  writeEvents(store, [
    ...Array.from({ length: 40 }, (_, i) => event(busyDay + i * 60_000, fast.row.id, { latencyMs: 3 + (i % 10) })),
    event(busyDay + HOUR, fast.row.id, { latencyMs: 1500 }),
  ]);
  return { wide: wide.row.id, fast: fast.row.id };
}

/**
 * A week of one person's and one CI job's traffic for the README's picture: busier in
 * working hours, quieter at the weekend, the models and token counts coding agents send.
 * Deterministic (a fixed pseudo-random sequence), so the picture only changes with the page.
 */
function seedRealisticWeek(store: Store, [laptop, ci]: [string, string] | string[], now: number) {
  let state = 22;
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
  const MIX = [
    { model: "claude-sonnet-4", premium: 1, share: 0.45 },
    { model: "gpt-4.1", premium: 0, share: 0.3 },
    { model: "gpt-5-mini", premium: 0, share: 0.15 },
    { model: "o3-mini", premium: 0.33, share: 0.1 },
  ];
  const pick = () => {
    let r = random();
    for (const m of MIX) {
      if (r < m.share) return m;
      r -= m.share;
    }
    return MIX[0]!;
  };
  const batch: RecordedEvent[] = [];
  const start = now - (now % DAY) - 6 * DAY;
  for (let at = start; at < now; at += HOUR) {
    const hour = new Date(at).getUTCHours();
    const weekend = [0, 6].includes(new Date(at).getUTCDay());
    const working = hour >= 8 && hour < 19 ? 1 : 0.08;
    const n = Math.round((weekend ? 0.25 : 1) * working * (18 + 14 * random()) + (hour === 2 ? 25 : 0)); // CI runs at 02:00
    for (let i = 0; i < n; i++) {
      const { model, premium } = pick();
      const nightly = hour === 2;
      const failed = random() < 0.03;
      const prompt = Math.round(2_000 + 30_000 * random() ** 2);
      batch.push(
        event(at + Math.floor(random() * HOUR), nightly ? ci! : laptop!, {
          model,
          upstreamModel: model,
          route: random() < 0.55 ? "/v1/messages" : "/v1/responses",
          promptTokens: failed ? 0 : prompt,
          cacheReadTokens: failed ? 0 : Math.round(prompt * (0.3 + 0.5 * random())),
          completionTokens: failed ? 0 : Math.round(150 + 1_800 * random() ** 2),
          premiumRequests: failed ? 0 : premium,
          status: failed ? 502 : 200,
          error: failed ? "upstream_error" : null,
          latencyMs: Math.round(failed ? 30_000 : 600 + 9_000 * random() ** 3),
        }),
      );
    }
  }
  writeEvents(
    store,
    batch.filter((e) => e.ts < now),
  );
}

describe.skipIf(!chromium)("the dashboard in a real browser", () => {
  let browser: Browser;
  let s: DashboardServer;
  let page: Page;
  let seeded: { wide: string; fast: string };
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
    seeded = seedWideRows(s.store, Date.now());
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
    expect(await text()).toContain("bun run cli keys create --tier admin");
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
    expect(charts.map((c) => c.name)).toEqual(["requests", "tokens", "credits", "premium", "latency"]);
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

  /** Where a table's column headers and links are, beside its scroll box and the window. */
  const layoutOf = (table: string) =>
    page.$eval(table, (el) => {
      const box = (node: Element) => {
        const r = node.getBoundingClientRect();
        return { text: node.textContent?.trim() ?? "", left: r.left, right: r.right, top: r.top, bottom: r.bottom };
      };
      return {
        wrap: box(el.closest(".table-wrap")!),
        headers: [...el.querySelectorAll("thead th")].map(box),
        actions: [...el.querySelectorAll("tbody a")].map(box),
        viewport: window.innerWidth,
        pageOverflow: document.documentElement.scrollWidth - window.innerWidth,
      };
    });
  type Box = { text: string; left: number; right: number };
  /** Inside the window and inside the table's scroll box, as it is shown (not scrolled). */
  const inView = (layout: Awaited<ReturnType<typeof layoutOf>>) => (b: Box) =>
    b.left >= Math.max(0, layout.wrap.left) - 0.5 && b.right <= Math.min(layout.viewport, layout.wrap.right) + 0.5;

  test("at 1280×800 the keys table shows every column and each key's Edit and Revoke, however long its label and models", async () => {
    await page.setViewport({ width: 1280, height: 800 });
    await page.goto(`${s.url}/dashboard/keys`);
    const layout = await layoutOf('table[data-table="keys"]');
    expect(layout.pageOverflow).toBeLessThanOrEqual(0);
    expect(layout.headers.length).toBe(11);
    expect(layout.headers.filter((h) => !inView(layout)(h))).toEqual([]);
    const active = await page.$$eval("tr[data-key]", (rows) => rows.length);
    expect(layout.actions.map((a) => a.text).filter((t) => t === "Edit").length).toBe(active);
    expect(layout.actions.filter((a) => !inView(layout)(a))).toEqual([]);
    // The long label wraps (at most a few lines); the whole of it is in the tooltip.
    const label = await page.$eval(`tr[data-key="${seeded.wide}"] .clamp[title]`, (el) => ({
      title: el.getAttribute("title"),
      height: el.getBoundingClientRect().height,
    }));
    expect(label.title).toBe(LONG_LABEL);
    expect(label.height).toBeLessThan(80);
    await shot("keys-1280");
    await page.setViewport({ width: 1280, height: 900 });
  });

  test("at 1280×800 the events table shows all its columns, long model names and routes included", async () => {
    await page.setViewport({ width: 1280, height: 800 });
    await page.goto(`${s.url}/dashboard/events`);
    expect(await text()).toContain("claude-3.7-sonnet-thought");
    const layout = await layoutOf('table[data-table="events"]');
    expect(layout.pageOverflow).toBeLessThanOrEqual(0);
    expect(layout.headers.map((h) => h.text)).toEqual(["Time", "Key", "Route", "Model", "Status", "Latency", "Error", "Prompt", "Completion", "Cached"]);
    expect(layout.headers.filter((h) => !inView(layout)(h))).toEqual([]);
    await shot("events-1280");
    await page.setViewport({ width: 1280, height: 900 });
  });

  test("the latency card says a percentile is a bucket's upper bound: fast requests read '≤ 100 ms', not '100 ms'", async () => {
    await page.goto(`${s.url}/dashboard?window=7d&key=${seeded.fast}`);
    const card = await page.$eval('[data-card="latency"]', (el) => ({
      value: el.querySelector(".value")?.textContent?.trim(),
      sub: el.querySelector(".sub")?.textContent?.trim(),
      note: el.querySelector(".note")?.textContent?.trim(),
      title: el.getAttribute("title"),
    }));
    // 40 requests of 3-12 ms and one of 1.5 s: the median is in the lowest bucket (≤ 100 ms).
    expect(card.value).toBe("≤ 100 ms");
    expect(card.sub).toBe(`p95 ≤ 100 ms, mean ${Math.round((40 * 7.5 + 1500) / 41)} ms`);
    expect(card.note).toBe("≤: upper bound of a histogram bucket");
    expect(card.title).toContain("the upper bound of the histogram bucket (100 ms, 250 ms, 500 ms, 1,000 ms, …) that holds");
  });

  /**
   * A chart's coloured ink (a series' stroke, or a bar's fill; not a line's faint fill,
   * not the grey grid): how many pixels, and the longest unbroken run of them across the
   * row halfway up: a bar's width there, a line's few pixels where a ramp crosses it.
   */
  const seriesInk = (chart: string) =>
    page.$eval(`[data-chart="${chart}"]`, (plot) => {
      const canvas = plot.querySelector("canvas")!;
      const { data } = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height);
      const inked = (x: number, y: number) => {
        const [r, g, b, a] = data.subarray(4 * (y * canvas.width + x), 4 * (y * canvas.width + x) + 4);
        // As seen over the white panel (the canvas itself is transparent, its colours unmultiplied).
        const seen = [r!, g!, b!].map((c) => (c * a!) / 255 + 255 - a!);
        return Math.max(...seen) - Math.min(...seen) > 60;
      };
      const rows: number[] = [];
      for (let y = 0; y < canvas.height; y++) {
        let n = 0;
        for (let x = 0; x < canvas.width; x++) if (inked(x, y)) n++;
        rows.push(n);
      }
      const used = rows.flatMap((n, y) => (n > 0 ? [y] : []));
      const middle = used.length ? Math.round((used[0]! + used.at(-1)!) / 2) : 0;
      let run = 0;
      let longest = 0;
      for (let x = 0; x < canvas.width; x++) {
        run = inked(x, middle) ? run + 1 : 0;
        longest = Math.max(longest, run);
      }
      return { pixels: rows.reduce((a, b) => a + b, 0), longestRun: longest, width: canvas.width };
    });

  test("one busy day among idle ones draws as a bar, not a ramp up from zero; a lone latency value still shows as a point", async () => {
    await page.goto(`${s.url}/dashboard?window=7d&key=${seeded.fast}`);
    await page.waitForSelector('[data-chart="latency"][data-points]');
    expect(await page.$eval('[data-chart="requests"]', (el) => (el as HTMLElement).dataset.total)).toBe("41");
    const requests = await seriesInk("requests");
    // Seven days across the canvas: a bar is most of a day's width wide; a ramp's line crosses in a few pixels.
    expect(requests.longestRun).toBeGreaterThan(requests.width / 7 / 3);
    await shot("usage-single-day");

    // 90 days: too many to mark every point, but the one day with a latency must still be drawn.
    await page.goto(`${s.url}/dashboard?window=90d&key=${seeded.fast}`);
    await page.waitForSelector('[data-chart="latency"][data-points="90"]');
    expect((await seriesInk("latency")).pixels).toBeGreaterThan(8);
  });

  test("the README's picture: the usage page at 1280×800 with a week of realistic traffic, no secret on it", async () => {
    const shown = startDashboard();
    // A context of its own: cookies are per host, not per port, so this sign-in must not replace the other server's session.
    const context = await browser.createBrowserContext();
    const shotPage = await context.newPage();
    try {
      seedRealisticWeek(shown.store, [shown.admin.id, shown.client.id], Date.now());
      await shotPage.setViewport({ width: 1280, height: 800 });
      await shotPage.goto(`${shown.url}/dashboard/login`);
      await shotPage.type("input[name=key]", shown.admin.secret);
      await Promise.all([shotPage.waitForNavigation(), shotPage.click("main form button[type=submit]")]);
      await shotPage.waitForSelector('[data-chart="latency"][data-points="7"]');
      const html = await shotPage.content();
      for (const secret of [shown.admin.secret, shown.client.secret]) expect(html).not.toContain(secret);
      mkdirSync(dirname(README_SHOT), { recursive: true });
      await shotPage.screenshot({ path: README_SHOT, fullPage: false });
      const png = readFileSync(README_SHOT);
      expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([1280, 800]); // the IHDR's width and height
      expect(png.length).toBeLessThan(250_000);
    } finally {
      await context.close();
      shown.stop();
    }
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
    // A minute of its own: the window of earlier tests' failed sign-ins must not end halfway through (a busy machine runs them slower).
    s.clock.offset = 10 * 60_000;
    try {
      await page.goto(`${s.url}/dashboard/login`);
      for (let i = 0; i < 11; i++) {
        await page.goto(`${s.url}/dashboard/login`);
        await page.type("input[name=key]", `cpk_wrong_${i}`);
        await submit("main form button[type=submit]");
      }
      expect(await text()).toContain("Too many sign-in attempts");
      await shot("sign-in-rate-limited");
    } finally {
      s.clock.offset = 0;
    }
  });
});
