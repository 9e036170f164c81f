import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { upstreamUrls } from "~/upstream/config";
import { CopilotClient } from "~/upstream/copilot-client";
import { CopilotToken, GithubTokenRejected, REFRESH_FLOOR_MS, REJECTION_MEMORY_MS, tokenLifetimeMs, UpstreamAuthError } from "~/upstream/copilot-token";
import { type FakeUpstream, startFakeUpstream } from "../fake-upstream";
import { ManualClock } from "./manual-clock";

const MIN = 60_000;
let fake: FakeUpstream;
const started: CopilotToken[] = [];

beforeEach(() => {
  fake?.stop();
  fake = startFakeUpstream();
});
afterAll(() => {
  for (const token of started) token.stop();
  fake.stop();
});

/** The fake plays github.com and api.github.com; the Copilot URL is left to the token unless `copilot` is given. */
function urlsFor(options: { copilot?: string; accountType?: "individual" | "business" } = {}) {
  const env: Record<string, string> = { COPILOT_API_GITHUB_URL: fake.url, COPILOT_API_GITHUB_API_URL: fake.url };
  if (options.copilot) env.COPILOT_API_COPILOT_URL = options.copilot;
  return upstreamUrls(options.accountType ?? "individual", { env });
}

function tokenWith(clock: ManualClock, githubToken = fake.githubToken, urls = urlsFor()) {
  const token = new CopilotToken(urls, githubToken, { clock });
  started.push(token);
  return token;
}

const exchangeRequests = () => fake.requests.filter((r) => r.path === "/copilot_internal/v2/token").length;

describe("Copilot token refresh", () => {
  test("is driven by refresh_in, not the local clock: a clock 30 minutes fast makes one exchange, not one a second", async () => {
    fake.serverClockOffsetSeconds = -1800; // GitHub's expires_at is "now" by our (fast) clock
    fake.tokenTtlSeconds = 1800;
    fake.refreshInSeconds = 1500;
    const clock = new ManualClock();
    const token = tokenWith(clock);
    const first = await token.get();
    for (let i = 0; i < 50; i++) expect(await token.get()).toBe(first);
    expect(clock.pending()).toEqual([1500 * 1000]);
    await clock.advance(1499 * 1000);
    expect(exchangeRequests()).toBe(1);
    await clock.advance(1000);
    expect(exchangeRequests()).toBe(2);
    expect(await token.get()).not.toBe(first);
    expect(clock.pending()).toEqual([1500 * 1000]);
  });

  test("never refreshes more often than once a minute, whatever refresh_in says", async () => {
    fake.refreshInSeconds = 1;
    const clock = new ManualClock();
    const token = tokenWith(clock);
    await token.get();
    expect(clock.pending()).toEqual([REFRESH_FLOOR_MS]);
    await clock.advance(REFRESH_FLOOR_MS - 1);
    expect(exchangeRequests()).toBe(1);
    await clock.advance(1);
    expect(exchangeRequests()).toBe(2);
  });

  test("a failing refresh backs off 1, 2, 4 minutes while requests keep the current token until it expires", async () => {
    fake.tokenTtlSeconds = 1800;
    fake.refreshInSeconds = 1500;
    const clock = new ManualClock();
    const token = tokenWith(clock);
    const first = await token.get();
    fake.exchangeFailures = 100;

    await clock.advance(1500 * 1000); // the scheduled refresh fails
    expect(exchangeRequests()).toBe(2);
    expect(clock.pending()).toEqual([1 * MIN]);
    expect(await token.get()).toBe(first); // no exchange of its own: the token still lives
    expect(exchangeRequests()).toBe(2);

    await clock.advance(1 * MIN);
    expect(clock.pending()).toEqual([2 * MIN]);
    await clock.advance(2 * MIN);
    expect(clock.pending()).toEqual([4 * MIN]);
    expect(exchangeRequests()).toBe(4);
    expect(await token.get()).toBe(first); // 28 minutes in: still within its 30
    expect(exchangeRequests()).toBe(4);

    await clock.advance(4 * MIN); // 32 minutes: the token really expired, the refresh failed again
    expect(exchangeRequests()).toBe(5);
    expect(clock.pending()).toEqual([8 * MIN]);
    await expect(token.get()).rejects.toBeInstanceOf(UpstreamAuthError); // a request now needs an exchange, which fails
    expect(exchangeRequests()).toBe(6);

    fake.exchangeFailures = 0;
    const next = await token.get();
    expect(next).not.toBe(first);
    expect(clock.pending()).toEqual([1500 * 1000]); // backoff reset, back to refresh_in
  });

  test("the backoff is capped at 16 minutes", async () => {
    const clock = new ManualClock();
    const token = tokenWith(clock);
    await token.get();
    fake.exchangeFailures = 1000;
    await clock.advance(fake.refreshInSeconds * 1000);
    for (let i = 0; i < 8; i++) await clock.advance(clock.pending()[0]!);
    expect(clock.pending()).toEqual([16 * MIN]);
  });

  test("the lifetime is GitHub's expires_at minus GitHub's Date header; refresh_in when there is no Date", () => {
    const serverNow = Date.parse("2026-11-26T10:00:00Z");
    const body = { expires_at: serverNow / 1000 + 1800, refresh_in: 1500 };
    expect(tokenLifetimeMs(body, new Date(serverNow).toUTCString())).toBe(1800 * 1000);
    expect(tokenLifetimeMs(body, null)).toBe(1500 * 1000);
    expect(tokenLifetimeMs(body, new Date(serverNow + 3600_000).toUTCString())).toBe(1500 * 1000); // implausible: already expired
  });
});

describe("a GitHub token that GitHub refuses", () => {
  test("is remembered for a minute and answered at once, then asked again", async () => {
    const clock = new ManualClock();
    const token = tokenWith(clock, "gho_revoked");
    await expect(token.get()).rejects.toBeInstanceOf(GithubTokenRejected);
    for (let i = 0; i < 20; i++) await expect(token.get()).rejects.toBeInstanceOf(GithubTokenRejected);
    expect(exchangeRequests()).toBe(1);
    await clock.advance(REJECTION_MEMORY_MS);
    const again = await token.get().catch((error: GithubTokenRejected) => error);
    expect(again).toBeInstanceOf(GithubTokenRejected);
    expect((again as GithubTokenRejected).hint).toContain("bun run cli auth");
    expect(exchangeRequests()).toBe(2);
  });
});

describe("the Copilot base URL", () => {
  test("comes from the token's endpoints.api, and follows it when a refresh names another", async () => {
    const port = new URL(fake.url).port;
    fake.endpointsApi = `http://copilot-a.localhost:${port}`;
    const clock = new ManualClock();
    const token = tokenWith(clock);
    const client = new CopilotClient(urlsFor(), token);
    expect((await client.forward({ method: "GET", path: "/models" })).status).toBe(200);
    expect(fake.requests.at(-1)!.headers.host).toBe(`copilot-a.localhost:${port}`);

    fake.endpointsApi = `http://copilot-b.localhost:${port}`;
    await clock.advance(fake.refreshInSeconds * 1000);
    expect((await client.forward({ method: "GET", path: "/models" })).status).toBe(200);
    expect(fake.requests.at(-1)!.headers.host).toBe(`copilot-b.localhost:${port}`);
  });

  test("COPILOT_API_COPILOT_URL wins over endpoints.api", async () => {
    fake.endpointsApi = `http://copilot-a.localhost:${new URL(fake.url).port}`;
    const client = new CopilotClient(urlsFor({ copilot: fake.url }), tokenWith(new ManualClock()));
    expect((await client.forward({ method: "GET", path: "/models" })).status).toBe(200);
    expect(fake.requests.at(-1)!.headers.host).toBe(new URL(fake.url).host);
  });

  test("falls back to the account type's URL when the token names none", async () => {
    fake.endpointsApi = null;
    const client = new CopilotClient(urlsFor({ accountType: "business" }), tokenWith(new ManualClock()));
    expect(await client.baseUrl()).toBe("https://api.business.githubcopilot.com");
  });
});
