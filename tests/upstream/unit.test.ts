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

/** An upstream that sends what the test gives it, when it gives it; counts how often it was asked. */
function scriptedUpstream() {
  const state = { pulls: 0, answer: (_text: string | null) => {} };
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        state.pulls++;
        return new Promise<void>((resolve) => {
          state.answer = (text) => {
            if (text === null) controller.close();
            else controller.enqueue(encode(text));
            resolve();
          };
        });
      },
    },
    { highWaterMark: 0 },
  );
  /** Answers the read upstream was asked for (once the wrapper's pull has reached it). */
  const give = async (text: string | null) => {
    await Bun.sleep(1);
    state.answer(text);
  };
  return { stream, state, give };
}

/** The read's text once it has settled, else "pending" (after the clock's timers and their promises have run). */
async function settled(read: ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]>): Promise<string> {
  await Bun.sleep(1);
  if (Bun.peek.status(read) === "pending") return "pending";
  const result = await read;
  return result.done ? "done" : new TextDecoder().decode(result.value);
}

describe("keep-alive timing on a manual clock", () => {
  test("one timer serves a stream that keeps talking, instead of one per chunk", async () => {
    const clock = new ManualClock();
    let i = 0;
    const upstream = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          await null; // reads settle later, as they do from a real upstream
          if (i < 500) controller.enqueue(encode(`data: ${i++}\n\n`));
          else controller.close();
        },
      },
      { highWaterMark: 0 },
    );
    const text = await new Response(withKeepAlive(upstream, { intervalMs: 1000, clock })).text();
    expect(text).toBe(Array.from({ length: 500 }, (_, n) => `data: ${n}\n\n`).join(""));
    expect(clock.delays).toEqual([1000]);
    expect(clock.pending()).toEqual([]); // the end of the stream disarms it
  });

  test("is sent after exactly the interval of silence, counted from when the client began to wait", async () => {
    const clock = new ManualClock();
    const { stream, state, give } = scriptedUpstream();
    const reader = withKeepAlive(stream, { intervalMs: 1000, clock }).getReader();
    const first = reader.read();
    await give("data: 1\n\n");
    expect(await settled(first)).toBe("data: 1\n\n");
    await clock.advance(600); // the client takes its time: the silence has not begun
    const second = reader.read();
    await clock.advance(999);
    expect(await settled(second)).toBe("pending");
    await clock.advance(1);
    expect(await settled(second)).toBe(": keep-alive\n\n");
    // Nothing more until the client asks again, and upstream is not read ahead.
    expect(clock.pending()).toEqual([]);
    expect(state.pulls).toBe(2);
    const third = reader.read();
    await clock.advance(400);
    await give("data: 2\n\n");
    expect(await settled(third)).toBe("data: 2\n\n");
    // The timer armed for the wait above fires early for this one and is armed for the rest.
    const fourth = reader.read();
    await clock.advance(600);
    expect(await settled(fourth)).toBe("pending");
    expect(clock.pending()).toEqual([400]);
    await clock.advance(400);
    expect(await settled(fourth)).toBe(": keep-alive\n\n");
    const fifth = reader.read();
    await give(null);
    expect(await settled(fifth)).toBe("done");
    expect(clock.pending()).toEqual([]);
  });

  test("waits for the end of an event upstream left half-written", async () => {
    const clock = new ManualClock();
    const { stream, give } = scriptedUpstream();
    const reader = withKeepAlive(stream, { intervalMs: 1000, clock }).getReader();
    const first = reader.read();
    await give('data: {"a":');
    expect(await settled(first)).toBe('data: {"a":');
    const second = reader.read();
    await clock.advance(5000);
    expect(await settled(second)).toBe("pending");
    await give("1}\r\n\r\n");
    expect(await settled(second)).toBe("1}\r\n\r\n");
    const third = reader.read();
    await clock.advance(1000);
    expect(await settled(third)).toBe(": keep-alive\n\n");
  });

  test("a broken upstream errors the client's stream", async () => {
    const clock = new ManualClock();
    const upstream = new ReadableStream<Uint8Array>({
      async pull() {
        await null;
        throw new Error("upstream broke");
      },
    });
    const reader = withKeepAlive(upstream, { intervalMs: 1000, clock }).getReader();
    await expect(reader.read()).rejects.toThrow("upstream broke");
    expect(clock.pending()).toEqual([]);
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
