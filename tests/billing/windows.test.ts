import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { CopilotWindows, PROBE_EVERY_MS, parseWindowHeader } from "~/upstream/windows";
import { type FakeUpstream, startFakeUpstream } from "../fake-upstream";
import { chatWithKey, cleanUpAfterFile, cli, createKey, dbFileOf, isolatedEnv, type RunningServer, startServer, tempDir } from "../helpers";

cleanUpAfterFile();

const weeklyRefusal = (retryAfter: string) =>
  new Response(JSON.stringify({ error: { message: "You have exceeded your weekly rate limit.", code: "user_weekly_rate_limited" } }), {
    status: 429,
    headers: { "content-type": "application/json", "retry-after": retryAfter },
  });

describe("Copilot's windows, read from its headers", () => {
  test("a header says percent left, reset time (URL-encoded), entitlement and overage", () => {
    expect(parseWindowHeader("ent=0&ov=0.0&ovPerm=false&rem=99.6&rst=2026-04-22T14%3A30%3A56Z", 5)).toEqual({
      remainingPercent: 99.6,
      resetsAt: Date.parse("2026-04-22T14:30:56Z"),
      entitlement: 0,
      overage: 0,
      overagePermitted: false,
      seenAt: 5,
    });
    expect(parseWindowHeader("ent=0&ov=0.0", 5)).toBeUndefined();
  });

  test("a window Copilot refused stays closed until Retry-After, with one probe a minute; an answer that passes reopens it", async () => {
    let now = 1_000_000;
    const windows = new CopilotWindows(() => now);
    await windows.observe(weeklyRefusal("3600"));
    expect(windows.closed(true, 0)).toEqual({ window: "weekly", until: 1_000_000 + 3_600_000, reserved: false, remainingPercent: 0 });
    now += PROBE_EVERY_MS - 1;
    expect(windows.closed(false, 0)).toBeDefined();
    now += 1;
    expect(windows.closed(false, 0)).toBeUndefined(); // the probe goes
    expect(windows.closed(false, 0)).toBeDefined(); // and only it
    await windows.observe(new Response("{}", { status: 200 }));
    expect(windows.closed(false, 0)).toBeUndefined();
    await windows.observe(weeklyRefusal("60"));
    now += 60_000;
    expect(windows.closed(false, 0)).toBeUndefined(); // the reset passed
  });
});

describe("windows on a running server", () => {
  let fake: FakeUpstream;
  let server: RunningServer;
  let home: string;
  let client: { id: string; secret: string };
  let admin: { id: string; secret: string };
  let env: Record<string, string>;

  beforeAll(async () => {
    fake = startFakeUpstream();
    home = tempDir();
    env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
    client = await createKey(env);
    admin = await createKey(env, "--tier", "admin");
    server = await startServer(["--reserve-window", "10%", "--metrics"], env);
  });
  // Each test sets the windows where it wants them: no counting down under it.
  const hold = () => {
    fake.windows.session.step = 0;
    fake.windows.weekly.step = 0;
  };
  afterAll(async () => {
    await server.stop();
    fake.stop();
  });

  const chat = (secret: string) => chatWithKey(server.url, secret, "gpt-4.1");
  const errors = () => {
    const db = new Database(dbFileOf(home), { readonly: true });
    try {
      return db
        .query<{ error: string | null }, []>("SELECT error FROM events ORDER BY id")
        .all()
        .map((r) => r.error);
    } finally {
      db.close();
    }
  };

  test("each answer's headers are the seat's state: /admin/quota and /healthz show session and weekly left, reset and when seen", async () => {
    // The fake counts down as Copilot does: the headers say what is left after this request.
    fake.windows.session.step = 0.05;
    fake.windows.weekly.step = 0.01;
    expect((await chat(client.secret)).status).toBe(200);
    expect(fake.windows.session.remaining).toBe(99.95);
    hold();
    const health = (await (await fetch(`${server.url}/healthz`)).json()) as {
      status: string;
      windows: { seat: string; windows: Record<string, { remainingPercent: number; resetsAt: string; seenAt: string }> }[];
    };
    expect(health.status).toBe("ok");
    const seat = health.windows.find((w) => w.seat === "default")!;
    expect(seat.windows.session!.remainingPercent).toBe(99.95);
    expect(seat.windows.weekly!.remainingPercent).toBe(99.99);
    expect(Date.parse(seat.windows.weekly!.resetsAt) - Date.now()).toBeGreaterThan(2 * 86_400_000);
    expect(Math.abs(Date.parse(seat.windows.session!.seenAt) - Date.now())).toBeLessThan(60_000);

    fake.windows.session.remaining = 42;
    expect((await chat(client.secret)).status).toBe(200);
    const quota = (await (await fetch(`${server.url}/admin/quota`, { headers: { authorization: `Bearer ${admin.secret}` } })).json()) as {
      windows: { seat: string; windows: Record<string, { remainingPercent: number }> }[];
    };
    expect(quota.windows.find((w) => w.seat === "default")!.windows.session!.remainingPercent).toBe(42);
  });

  test("/metrics: each seat's windows as gauges, and what Copilot metered as a counter by model", async () => {
    const before = fake.nanoAiuSent;
    expect((await chat(client.secret)).status).toBe(200);
    const cost = fake.nanoAiuSent - before;
    const metrics = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${admin.secret}` } })).text();
    expect(metrics).toContain('copilot_api_window_remaining_percent{seat="default",window="session"} 42');
    expect(metrics).toMatch(/copilot_api_window_reset_seconds\{seat="default",window="weekly"\} \d+/);
    // Every gpt-4.1 answer so far on this server came from this fake: the counter is their sum.
    expect(metrics).toContain(`copilot_api_cost_nano_aiu_total{model="gpt-4.1",key="${client.id}",key_label=""} ${before + cost}`);
  });

  test("--reserve-window 10%: below it, client keys get 429 saying why and admin keys still pass", async () => {
    fake.windows.session.remaining = 8;
    expect((await chat(admin.secret)).status).toBe(200); // reads rem=8
    const refused = await chat(client.secret);
    expect(refused.status).toBe(429);
    const error = ((await refused.json()) as { error: { message: string; code: string } }).error;
    expect(error.code).toBe("usage_window_reserved");
    expect(error.message).toContain("session (~5-hour) usage window has 8% left, and the last 10% is kept for admin keys");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(3600);
    expect(errors().at(-1)).toBe("window_reserved");
    fake.windows.session.remaining = 100;
    expect((await chat(admin.secret)).status).toBe(200);
    expect((await chat(client.secret)).status).toBe(200);
  });

  test("a weekly window exhausted upstream: Copilot's 429 once, then fast 429s with a truthful Retry-After in each client's shape, nothing sent on", async () => {
    fake.windows.weekly.remaining = 0;
    const first = await chat(client.secret);
    expect(first.status).toBe(429);
    const body = await first.text();
    expect(body).toContain("user_weekly_rate_limited");
    expect(first.headers.get("retry-after")).toBe(String(fake.windows.weekly.resetInSeconds));
    const sent = fake.modelRequests;

    const again = await chat(admin.secret);
    expect(again.status).toBe(429);
    const retryAfter = Number(again.headers.get("retry-after"));
    expect(Math.abs(retryAfter - fake.windows.weekly.resetInSeconds)).toBeLessThan(60);
    const error = ((await again.json()) as { error: { message: string; code: string } }).error;
    expect(error.code).toBe("user_weekly_rate_limited");
    expect(error.message).toContain("Copilot's weekly usage window is exhausted for this seat");

    const anthropic = new Anthropic({ baseURL: server.url, apiKey: client.secret, maxRetries: 0 });
    const claude = await anthropic.messages.create({ model: "claude-sonnet-4.5", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }).catch((e) => e);
    expect(claude).toBeInstanceOf(Anthropic.RateLimitError);
    expect((claude as InstanceType<typeof Anthropic.RateLimitError>).error).toMatchObject({ type: "error", error: { type: "rate_limit_error" } });

    expect(fake.modelRequests).toBe(sent); // answered by the gateway
    expect(errors().slice(-3)).toEqual(["window_exhausted", "window_exhausted", "window_exhausted"]);
    const health = (await (await fetch(`${server.url}/healthz`)).json()) as {
      status: string;
      windows: { seat: string; exhausted: { window: string } | null }[];
    };
    expect(health.status).toBe("ok");
    expect(health.windows.find((w) => w.seat === "default")!.exhausted).toMatchObject({ window: "weekly" });
  });

  test("`quota` (and --json) shows the session and weekly windows the server last saw, with when", async () => {
    expect(await server.stop()).toBe(0); // the server leaves its windows beside the database as it stops
    const json = await cli(["quota", "--json"], env);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as {
      plan: string;
      windows: { seat: string; windows: Record<string, { remainingPercent: number; seenAt: string }>; exhausted: { window: string } | null }[];
    };
    const seat = report.windows.find((w) => w.seat === "default")!;
    expect(seat.windows.session!.remainingPercent).toBe(100);
    expect(seat.exhausted).toMatchObject({ window: "weekly" });
    expect(Date.parse(seat.windows.weekly!.seenAt)).toBeGreaterThan(Date.now() - 60_000);
    const table = await cli(["quota"], env);
    expect(table.stdout).toMatch(/default\s+session\s+100\s/);
    expect(table.stdout).toMatch(/default\s+weekly\s+0\s/);
  });
});
