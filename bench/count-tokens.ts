// count_tokens off the event loop (issue 18): how a worst-case count (runs of one letter, the
// tokenizer's quadratic case) delays a concurrent chat stream when it is counted inline, on the
// event loop as before, and on the token counter's thread as now; and how long the worst cases
// take to count. In process: a Bun.serve relaying the fake Copilot's chat stream, and counting.
import { countTokens } from "gpt-tokenizer/encoding/o200k_base";
import { countInputTokensWith, type TextCounter } from "~/protocols/anthropic/count-tokens";
import type { CountTokensRequest } from "~/protocols/anthropic/request-schema";
import { TokenCounter } from "~/protocols/anthropic/token-worker";
import { startFakeUpstream } from "../tests/fake-upstream";
import { printTable, summarize } from "./lib";

const noSpecial = { disallowedSpecial: new Set<string>() };
/** The tokenizer as count_tokens called it before: on the event loop, whole runs at once. */
const inline: TextCounter = (text) => (text === "" ? 0 : countTokens(text, noSpecial));

const body = (content: string) => JSON.stringify({ model: "claude-sonnet-4-5", messages: [{ role: "user", content }] });

/** Stream durations (ms) of chat streams run one after another until `during` settles (at least `min`). */
async function streamsDuring(url: string, during: Promise<unknown>, min = 20): Promise<number[]> {
  let settled = false;
  void during.then(() => (settled = true));
  const samples: number[] = [];
  while (!settled || samples.length < min) {
    const start = Bun.nanoseconds();
    const response = await fetch(`${url}/stream`);
    await response.text();
    samples.push((Bun.nanoseconds() - start) / 1e6);
  }
  return samples;
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = Bun.nanoseconds();
  const value = await work();
  return { ms: (Bun.nanoseconds() - start) / 1e6, value };
}

export async function benchCountTokens(): Promise<void> {
  const fake = startFakeUpstream();
  fake.textDeltas = 50;
  const exchange = (await (await fetch(`${fake.url}/copilot_internal/v2/token`, { headers: { authorization: `token ${fake.githubToken}` } })).json()) as {
    token: string;
  };
  const chat = JSON.stringify({ model: "gpt-4o", stream: true, messages: [{ role: "user", content: "hello" }] });
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: async () => {
      const upstream = await fetch(`${fake.url}/chat/completions`, {
        method: "POST",
        body: chat,
        headers: { authorization: `Bearer ${exchange.token}`, "content-type": "application/json" },
      });
      return new Response(upstream.body, { headers: { "content-type": "text/event-stream" } });
    },
  });
  const url = `http://127.0.0.1:${server.port}`;
  const counter = new TokenCounter();
  try {
    await counter.count(body("warm up the thread"));
    const quiet = await streamsDuring(url, Promise.resolve(), 200);

    // Inline, a 20 KB run already holds the loop for seconds (100 KB: 15–26 s, 300 KB: 132 s), so the "before" uses 20 KB.
    const inlineText = body("a".repeat(20_000));
    const inlineCount = Bun.sleep(5).then(() => timed(async () => countInputTokensWith(JSON.parse(inlineText) as CountTokensRequest, inline)));
    const duringInline = await streamsDuring(url, inlineCount);

    const worst = body("a".repeat(300_000));
    const workerCount = timed(() => counter.count(worst));
    const duringWorker = await streamsDuring(url, workerCount);

    const run = 5 * 1024 * 1024;
    const largest = JSON.stringify({
      model: "claude-sonnet-4-5",
      messages: ["a", " ", "!"].map((char, i) => ({ role: i % 2 ? "assistant" : "user", content: char.repeat(run) })),
    });
    const largestCount = timed(() => counter.count(largest));
    const duringLargest = await streamsDuring(url, largestCount);

    const tail = 0.99;
    printTable(
      "A 50-chunk chat stream while count_tokens counts a worst case (runs of one character)",
      "ms",
      summarize("no count running", quiet, tail),
      [
        summarize("20 KB of one letter counted inline, on the event loop (before)", duringInline, tail),
        summarize("300 KB of one letter on the token counter's thread (now)", duringWorker, tail),
        summarize("15 MiB of runs (letter, space, punctuation) on the thread (now)", duringLargest, tail),
      ],
      "p99",
    );
    console.log(
      [
        "",
        `worst-case count time: 20 KB of one letter inline ${(await inlineCount).ms.toFixed(0)} ms; on the thread, 300 KB of one letter ${(await workerCount).ms.toFixed(0)} ms, ` +
          `15 MiB of runs ${(await largestCount).ms.toFixed(0)} ms`,
      ].join("\n"),
    );
  } finally {
    await counter.stop();
    server.stop(true);
    fake.stop();
  }
}

if (import.meta.main) await benchCountTokens();
