import { describe, expect, setSystemTime, test } from "bun:test";
import { modelMatcher, parseModelList } from "~/features/keys/models";
import { RateLimiter } from "~/features/keys/rate-limit";
import { generateSecret, hashSecret, isWellFormed } from "~/features/keys/secret";
import { isLoopback } from "~/lib/net";

describe("key secrets", () => {
  test("carry a prefix, 256 bits of randomness and a checksum that catches typos", () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^cpk_[0-9A-Za-z]{49}$/);
    expect(isWellFormed(secret)).toBe(true);
    expect(generateSecret()).not.toBe(secret);
    // Change one character anywhere in the body: the checksum no longer matches.
    for (const at of [4, 20, 46]) {
      const typo = secret.slice(0, at) + (secret[at] === "a" ? "b" : "a") + secret.slice(at + 1);
      expect(isWellFormed(typo)).toBe(false);
    }
    expect(isWellFormed(`sk-${secret.slice(4)}`)).toBe(false);
    expect(isWellFormed("ghp_abcdefghijklmnopqrstuvwxyz0123456789")).toBe(false);
    expect(isWellFormed(secret.slice(0, -1))).toBe(false);
  });

  test("are stored as SHA-256 hex", () => {
    expect(hashSecret("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});

describe("allowed models", () => {
  test("match exact names and globs", () => {
    const allows = modelMatcher(["gpt-4o", "claude-*", "o?-mini"]);
    expect(["gpt-4o", "claude-sonnet-4", "claude-", "o3-mini"].map(allows)).toEqual([true, true, true, true]);
    expect(["gpt-4o-mini", "xclaude-3", "o10-mini", ""].map(allows)).toEqual([false, false, false, false]);
    expect(modelMatcher(["*"])("anything")).toBe(true);
    expect(modelMatcher(["gpt-4.1"])("gpt-441")).toBe(false); // the dot is literal
  });

  test("--models input is parsed, deduplicated, and bad entries are named", () => {
    expect(parseModelList(" gpt-4o , claude-*,gpt-4o")).toEqual(["gpt-4o", "claude-*"]);
    expect(() => parseModelList("")).toThrow("--models is empty");
    expect(() => parseModelList("a,,b")).toThrow("has an empty entry");
    expect(() => parseModelList("gpt 4o")).toThrow('--models entry "gpt 4o" is not a model name or pattern');
  });
});

describe("rate limiter", () => {
  test("allows a burst of N per minute, then says how long to wait, then refills", () => {
    let now = 1_000_000;
    const limiter = new RateLimiter(() => now);
    for (let i = 0; i < 3; i++) expect(limiter.take("k", 3)).toBe(0);
    expect(limiter.take("k", 3)).toBe(20); // one token every 20 s
    now += 19_000;
    expect(limiter.take("k", 3)).toBe(1);
    now += 1_000;
    expect(limiter.take("k", 3)).toBe(0);
    expect(limiter.take("other", 3)).toBe(0); // per key
  });

  test("a clock that steps back neither drains a bucket nor asks for a huge Retry-After", () => {
    let now = 5_000_000;
    const limiter = new RateLimiter(() => now);
    for (let i = 0; i < 3; i++) expect(limiter.take("k", 3)).toBe(0);
    now -= 3_600_000; // one hour back
    expect(limiter.take("k", 3)).toBe(20);
    now += 20_000;
    expect(limiter.take("k", 3)).toBe(0);
  });

  test("by default it reads a monotonic clock: a wall-clock step back of one hour changes nothing", () => {
    const limiter = new RateLimiter();
    try {
      for (let i = 0; i < 3; i++) expect(limiter.take("k", 3)).toBe(0);
      setSystemTime(new Date(Date.now() - 3_600_000));
      const wait = limiter.take("k", 3);
      expect(wait).toBeGreaterThanOrEqual(1);
      expect(wait).toBeLessThanOrEqual(20); // the wall clock said 3,620 s before
    } finally {
      setSystemTime(); // back to the real time
    }
  });
});

test("loopback addresses", () => {
  expect(["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"].map(isLoopback)).toEqual([true, true, true, true, true]);
  expect(["0.0.0.0", "192.168.1.10", "::", "example.com"].map(isLoopback)).toEqual([false, false, false, false]);
});
