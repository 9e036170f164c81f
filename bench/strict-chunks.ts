// The cost of giving strict clients `object` and `model` on every chunk: a
// 500-chunk Copilot-shaped stream relayed in-process through relay(), with and
// without the chunk rewriting, in the same run.
import { completeChunks } from "~/protocols/openai/strict-fields";
import { type AnswerObserver, relay } from "~/upstream/relay";
import { GPT_CHOICE_FILTER, PROMPT_FILTER_CHUNK } from "../tests/fixtures/copilot-chat-chunks";
import { printTable, summarize } from "./lib";

const CHUNKS = 500;
const STREAMS = 300;

/**
 * A GPT answer as Copilot streams it: a prompt filter chunk, text deltas without `object`, each
 * choice carrying Azure's content filter results (with their nested `error`), usage last; one
 * read per chunk.
 */
function copilotChunks(): Uint8Array[] {
  const meta = { created: 1_762_000_000, id: "chatcmpl-bench", model: "gpt-4.1-2025-04-14", system_fingerprint: "fp_b705f0c291" };
  const chunks: unknown[] = [PROMPT_FILTER_CHUNK];
  for (let i = 0; i < CHUNKS - 2; i++) {
    chunks.push({ choices: [{ ...GPT_CHOICE_FILTER, delta: { content: ` word${i} and "some" more text` }, index: 0 }], ...meta });
  }
  chunks.push({ choices: [], ...meta, usage: { completion_tokens: 498, prompt_tokens: 1200, total_tokens: 1698 } });
  const encoder = new TextEncoder();
  return [...chunks.map((c) => encoder.encode(`data: ${JSON.stringify(c)}\n\n`)), encoder.encode("data: [DONE]\n\n")];
}

const observer: AnswerObserver = { reached() {}, answer() {}, aborted() {}, streamStarted: () => async () => {} };

async function relayOnce(parts: Uint8Array[], transform?: (body: ReadableStream<Uint8Array>) => ReadableStream<Uint8Array>): Promise<number> {
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < parts.length) controller.enqueue(parts[i++]!);
      else controller.close();
    },
  });
  const upstream = new Response(body, { headers: { "content-type": "text/event-stream" } });
  const start = Bun.nanoseconds();
  const response = await relay(upstream, observer, { transform });
  await response.arrayBuffer();
  return (Bun.nanoseconds() - start) / 1e6;
}

/** The same stream with `perRead` chunks in each read, as a busy gateway reads a fast stream. */
function grouped(parts: Uint8Array[], perRead: number): Uint8Array[] {
  const reads: Uint8Array[] = [];
  for (let i = 0; i < parts.length; i += perRead) reads.push(Buffer.concat(parts.slice(i, i + perRead)));
  return reads;
}

export async function benchStrictChunks(): Promise<void> {
  for (const perRead of [1, 16]) await benchStrictReads(grouped(copilotChunks(), perRead), perRead);
}

async function benchStrictReads(parts: Uint8Array[], perRead: number): Promise<void> {
  const bytes = parts.reduce((n, p) => n + p.length, 0);
  const raw: number[] = [];
  const rewritten: number[] = [];
  for (let i = 0; i < 30; i++) {
    await relayOnce(parts);
    await relayOnce(parts, completeChunks("gpt-4.1"));
  }
  // Alternated, so both see the same machine.
  for (let i = 0; i < STREAMS; i++) {
    raw.push(await relayOnce(parts));
    rewritten.push(await relayOnce(parts, completeChunks("gpt-4.1")));
  }
  const baseline = summarize("relay() as it was: observe + keep-alive, bytes passed through", raw);
  const fixed = summarize("relay() + object/model filled into every chunk", rewritten);
  const reads = perRead === 1 ? "one chunk per read" : `${perRead} chunks per read`;
  printTable(`A ${CHUNKS}-chunk stream (${Math.round(bytes / 1024)} KiB, ${reads}) relayed in-process, ${STREAMS} streams`, "ms", baseline, [fixed]);
  const perChunk = ((fixed.median - baseline.median) * 1e6) / CHUNKS;
  console.log(
    `\nadded by the rewriting at the median: ${((fixed.median - baseline.median) * 1000).toFixed(0)} µs per stream, ${perChunk.toFixed(0)} ns per chunk`,
  );
}
