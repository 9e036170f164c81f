import { afterAll, describe, expect, test } from "bun:test";
import { QuotaSource, summarize } from "~/features/quota/quota";
import { AppError } from "~/lib/errors";
import { clientIdentity, copilotBaseUrl, parseEnterpriseUrl, upstreamUrls } from "~/upstream/config";
import { GithubTokenRejected } from "~/upstream/copilot-token";
import { keepAliveMsFromEnv, withKeepAlive } from "~/upstream/keepalive";
import { type AnswerObserver, observeStream, type StreamEnds } from "~/upstream/relay";
import { COPILOT_USER, startFakeUpstream } from "../fake-upstream";
import { ManualClock } from "./manual-clock";

const fake = startFakeUpstream();
afterAll(() => fake.stop());

describe("upstream URLs", () => {
  test("--enterprise-url builds the GHE.com hosts the way the editor does", () => {
    const urls = upstreamUrls("individual", { enterpriseUrl: "OctoCorp.ghe.com", env: {} });
    expect(urls).toMatchObject({
      github: "https://octocorp.ghe.com",
      githubApi: "https://api.octocorp.ghe.com",
      copilot: "https://copilot-api.octocorp.ghe.com",
      enterprise: "octocorp.ghe.com",
    });
    expect(upstreamUrls("business", { enterpriseUrl: "https://octocorp.ghe.com/", env: {} }).githubApi).toBe("https://api.octocorp.ghe.com");
  });

  test("account-type fallbacks, and the env overrides win over everything", () => {
    expect(upstreamUrls("individual", { env: {} })).toEqual({
      github: "https://github.com",
      githubApi: "https://api.github.com",
      copilot: "https://api.githubcopilot.com",
    });
    expect(upstreamUrls("enterprise", { env: {} }).copilot).toBe("https://api.enterprise.githubcopilot.com");
    const urls = upstreamUrls("individual", {
      enterpriseUrl: "octocorp.ghe.com",
      env: { COPILOT_API_COPILOT_URL: "http://127.0.0.1:9/", COPILOT_API_GITHUB_API_URL: "http://127.0.0.1:8" },
    });
    expect(urls.githubApi).toBe("http://127.0.0.1:8");
    expect(copilotBaseUrl(urls, "https://api.individual.githubcopilot.com")).toBe("http://127.0.0.1:9");
    expect(copilotBaseUrl(upstreamUrls("individual", { env: {} }), "https://api.individual.githubcopilot.com")).toBe(
      "https://api.individual.githubcopilot.com",
    );
  });

  test.each([
    ["http://octocorp.ghe.com", "must use https"],
    ["ftp://octocorp.ghe.com", "must use https"],
    ["octocorp.ghe.com/path", "without a path"],
    ["https://user:pw@octocorp.ghe.com", "without a path"],
    ["exa mple", "is not a host name"],
  ])("refuses --enterprise-url %s", (value, message) => {
    expect(() => parseEnterpriseUrl(value)).toThrow(message);
  });
});

describe("client identity", () => {
  test("an override that is not a header value is refused, naming the variable and the default", () => {
    try {
      clientIdentity({ COPILOT_API_API_VERSION: "2026-06-01\r\nx-evil: 1" });
      throw new Error("accepted");
    } catch (error) {
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).message).toContain("COPILOT_API_API_VERSION");
      expect((error as AppError).hint).toContain("2026-06-01");
    }
  });

  test("records which parts were overridden", () => {
    expect(clientIdentity({}).overridden).toEqual([]);
    expect(clientIdentity({ COPILOT_API_USER_AGENT: "X/1" }).overridden).toEqual(["userAgent"]);
  });
});

const encode = (text: string) => new TextEncoder().encode(text);

describe("keep-alive", () => {
  test("the text is a parameter (Anthropic streams send event: ping)", async () => {
    const ping = 'event: ping\ndata: {"type":"ping"}\n\n';
    const upstream = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(encode("event: message_start\ndata: {}\n\n"));
        await Bun.sleep(400);
        controller.enqueue(encode("event: message_stop\ndata: {}\n\n"));
        controller.close();
      },
    });
    const text = await new Response(withKeepAlive(upstream, { intervalMs: 50, text: ping })).text();
    expect(text.startsWith(`event: message_start\ndata: {}\n\n${ping}`)).toBe(true);
    expect(text.endsWith("event: message_stop\ndata: {}\n\n")).toBe(true);
    expect(text).not.toContain(": keep-alive");
  });

  test("is never put inside an event upstream left half-written", async () => {
    const upstream = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(encode('data: {"a":'));
        await Bun.sleep(300);
        controller.enqueue(encode("1}\n\n"));
        controller.close();
      },
    });
    const text = await new Response(withKeepAlive(upstream, { intervalMs: 50 })).text();
    expect(text).toBe('data: {"a":1}\n\n');
  });

  test("0 turns it off; the environment sets it in seconds", () => {
    const upstream = new ReadableStream<Uint8Array>();
    expect(withKeepAlive(upstream, { intervalMs: 0 })).toBe(upstream);
    expect(keepAliveMsFromEnv({})).toBe(15_000);
    expect(keepAliveMsFromEnv({ COPILOT_API_SSE_KEEPALIVE_SECONDS: "0.2" })).toBe(200);
    expect(keepAliveMsFromEnv({ COPILOT_API_SSE_KEEPALIVE_SECONDS: "soon" })).toBe(15_000);
  });

  test("a client that goes away cancels upstream", async () => {
    let cancelled = false;
    const upstream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encode("data: 1\n\n"));
      },
      cancel() {
        cancelled = true;
      },
    });
    const reader = withKeepAlive(upstream, { intervalMs: 1000, clock: new ManualClock() }).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("data: 1\n\n");
    await reader.cancel();
    expect(cancelled).toBe(true);
  });
});

describe("quota", () => {
  const urls = () => upstreamUrls("individual", { env: fake.env() });
  const asked = () => fake.requests.filter((r) => r.path === "/copilot_internal/user").length;

  test("is cached for a minute, then asked again", async () => {
    const clock = new ManualClock();
    const source = new QuotaSource(urls(), fake.githubToken, { clock });
    const before = asked();
    const [a, b] = await Promise.all([source.get(), source.get()]);
    expect(a).toBe(b);
    await clock.advance(59_999);
    await source.get();
    expect(asked()).toBe(before + 1);
    await clock.advance(1);
    await source.get();
    expect(asked()).toBe(before + 2);
  });

  test("a refused GitHub token is remembered for a minute", async () => {
    const clock = new ManualClock();
    const source = new QuotaSource(urls(), "gho_wrong", { clock });
    const before = asked();
    for (let i = 0; i < 5; i++) await expect(source.get()).rejects.toBeInstanceOf(GithubTokenRejected);
    expect(asked()).toBe(before + 1);
  });

  test("used is the entitlement minus what remains; overage apart; missing counters are null", () => {
    const report = summarize(COPILOT_USER);
    expect(report.premiumInteractions).toEqual({
      unlimited: false,
      entitlement: 1500,
      used: 445.75,
      remaining: 1054.25,
      percentRemaining: 70.28,
      overage: 0,
      overagePermitted: true,
    });
    const over = summarize({
      quota_snapshots: {
        premium_interactions: { entitlement: 300, remaining: 0, quota_remaining: 0, overage_count: 12, overage_permitted: true, unlimited: false },
      },
    });
    expect(over.premiumInteractions).toMatchObject({ used: 300, remaining: 0, overage: 12 });
    expect(over.chat).toBeNull();
    expect(over.plan).toBeNull();
  });
});

describe("observeStream keeps a long stream's ends", () => {
  test("the first and last text of a 2,000-chunk stream reach the observer, the bytes pass through unchanged", async () => {
    const encoder = new TextEncoder();
    const chunks = Array.from({ length: 2000 }, (_, i) => `data: {"n":${i},"pad":"${"é".repeat(20)}"}\n\n`);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
        controller.close();
      },
    });
    let seen: StreamEnds | undefined;
    const observer: AnswerObserver = {
      reached: () => {},
      answer: () => {},
      aborted: () => {},
      streamStarted: () => async (ends) => {
        seen = ends;
      },
    };
    expect(await new Response(observeStream(body, observer)).text()).toBe(chunks.join(""));
    expect(seen!.head.startsWith(chunks[0]!)).toBe(true);
    // Whole chunks are kept (16 KiB at the head, 32 KiB at the tail), decoded once at the end and cut to as many characters.
    expect(seen!.head.length).toBeLessThanOrEqual(16_384);
    expect(seen!.tail.endsWith(chunks.slice(-3).join(""))).toBe(true);
    expect(seen!.tail.length).toBeLessThanOrEqual(32_768);
    expect(Buffer.byteLength(seen!.tail)).toBeGreaterThan(32_000); // the whole window, not just the last chunk
  });
});
