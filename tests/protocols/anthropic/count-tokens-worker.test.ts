import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { countTokens } from "gpt-tokenizer/encoding/o200k_base";
import { countInputTokensWith, loadTokenizer, MESSAGE_OVERHEAD_TOKENS } from "~/protocols/anthropic/count-tokens";
import { type CountTokensRequest, parseCountTokensRequest } from "~/protocols/anthropic/request-schema";
import { COUNT_TOKENS_MAX_BYTES } from "~/protocols/anthropic/routes";
import { TokenCounter } from "~/protocols/anthropic/token-worker";
import { type FakeUpstream, startFakeUpstream } from "../../fake-upstream";
import { CLAUDE_CODE_REQUEST } from "../../fixtures/copilot-chat-chunks";
import { type CreatedKey, cleanUpAfterFile, createKey, isolatedEnv, type RunningServer, startServer, tempDir } from "../../helpers";

cleanUpAfterFile();

/**
 * count_tokens off the event loop (a worker thread) and in bounded time for any text: a real
 * copilot-api (child process) with a 64 MiB body limit, so count_tokens' own 16 MiB limit is the one that bites.
 */

let fake: FakeUpstream;
let server: RunningServer;
let key: CreatedKey;

beforeAll(async () => {
  fake = startFakeUpstream();
  const env = isolatedEnv(tempDir(), { ...fake.env(), GH_TOKEN: fake.githubToken });
  key = await createKey(env);
  server = await startServer(["--body-limit-mb", "64"], env);
});
afterAll(async () => {
  await server.stop();
  fake.stop();
});

const countRequest = (body: unknown) =>
  fetch(`${server.url}/v1/messages/count_tokens`, {
    method: "POST",
    headers: { "x-api-key": key.secret, "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

const noSpecial = { disallowedSpecial: new Set<string>() };
/** gpt-tokenizer itself, on this thread, without the gateway's run splitting. */
const plain = (text: string) => (text === "" ? 0 : countTokens(text, noSpecial));

function parsed(body: Record<string, unknown>): CountTokensRequest {
  const result = parseCountTokensRequest(body);
  if (!result.ok) throw new Error(result.message);
  return result.value;
}

describe("count_tokens on its own thread", () => {
  test("normal text counts exactly what gpt-tokenizer counts on the main thread", async () => {
    const response = await countRequest(CLAUDE_CODE_REQUEST);
    expect(response.status).toBe(200);
    const { input_tokens } = (await response.json()) as { input_tokens: number };
    expect(input_tokens).toBe(countInputTokensWith(parsed(CLAUDE_CODE_REQUEST), plain));
  });

  test("a worst-case body (megabytes of one letter, of spaces, of punctuation) is counted while /healthz keeps answering", async () => {
    const run = 4 * 1024 * 1024;
    const body = {
      model: "claude-sonnet-4-5",
      messages: [
        { role: "user", content: "a".repeat(run) },
        { role: "assistant", content: " ".repeat(run) },
        { role: "user", content: "!".repeat(run) },
      ],
    };
    let counted: Response | undefined;
    const count = countRequest(body).then((response) => {
      counted = response;
      return response;
    });
    // Inline, the tokenizer held the event loop for as long as the count took (300 KB of one letter: 132 s): no /healthz answered meanwhile.
    let answeredWhileCounting = 0;
    while (counted === undefined) {
      const health = await fetch(`${server.url}/healthz`);
      expect(health.status).toBe(200);
      await health.arrayBuffer();
      if (counted === undefined) answeredWhileCounting++;
    }
    const response = await count;
    expect(response.status).toBe(200);
    expect(answeredWhileCounting).toBeGreaterThanOrEqual(3);
    // Each run is counted in 512-character pieces; for runs of one character that is the same count as a whole.
    const piece = (char: string) => (plain(char.repeat(512)) * run) / 512;
    const { input_tokens } = (await response.json()) as { input_tokens: number };
    expect(input_tokens).toBe(3 * MESSAGE_OVERHEAD_TOKENS + piece("a") + piece(" ") + piece("!"));
  });

  test("a body over count_tokens' own limit is refused with 413 in Anthropic's shape, naming the limit", async () => {
    const text = "The quick brown fox jumps over the lazy dog. ".repeat(Math.ceil(COUNT_TOKENS_MAX_BYTES / 45) + 1);
    const response = await countRequest({ model: "claude-sonnet-4-5", messages: [{ role: "user", content: text }] });
    expect(response.status).toBe(413);
    const body = (await response.json()) as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe("error");
    expect(body.error.type).toBe("request_too_large");
    expect(body.error.message).toContain(`count_tokens takes at most ${COUNT_TOKENS_MAX_BYTES} bytes`);
  });
});

describe("TokenCounter", () => {
  const text = JSON.stringify({ model: "m", messages: [{ role: "user", content: "word ".repeat(200_000) }] });

  test("a count past its deadline ends the thread and says it timed out", async () => {
    const counter = new TokenCounter({ timeoutMs: 1 });
    try {
      expect(await counter.count(text)).toEqual({ timedOut: { ms: 1 } });
    } finally {
      await counter.stop();
    }
  });

  test("bodies waiting past the byte bound are refused at once as busy; the others are counted in order", async () => {
    const counter = new TokenCounter({ maxWaitingBytes: text.length + 10 });
    try {
      const first = counter.count(text); // running
      const second = counter.count(text); // waiting: within the bound
      expect(await counter.count(text)).toEqual({ busy: { waitingBytes: text.length } });
      const expected = countInputTokensWith(JSON.parse(text) as CountTokensRequest, await loadTokenizer());
      expect(await first).toEqual({ tokens: expected });
      expect(await second).toEqual({ tokens: expected });
    } finally {
      await counter.stop();
    }
  });
});
