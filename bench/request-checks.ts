// Request checks on large chat bodies (issue 8, point 4): what the gateway
// already pays (JSON.parse of the body) against the two ways of making the
// forwarded body name the checked model, refusing repeated top-level keys (a
// scan of the raw text) or forwarding the re-serialised object (JSON.stringify),
// and against the zod shape check every request now goes through.
import { repeatedKey } from "~/protocols/json-body";
import { chatCompletionRequest } from "~/protocols/openai/request-schemas";
import { checkBody } from "~/protocols/request-checks";
import { perCallNs, printTable, summarize } from "./lib";

const MB = 1024 * 1024;

/** One user message carrying the whole size (a pasted file). */
function oneLongMessage(bytes: number): string {
  const text = 'The quick brown fox jumps over the lazy dog. "quoted" and a \\ backslash.\n'.repeat(Math.ceil(bytes / 75)).slice(0, bytes);
  return JSON.stringify({
    model: "gpt-4o",
    stream: true,
    messages: [
      { role: "system", content: "You are helpful." },
      { role: "user", content: text },
    ],
  });
}

/** A long agent conversation: many short messages, tool calls and content parts. */
function manyMessages(bytes: number): string {
  const messages: unknown[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const m =
      i % 3 === 0
        ? { role: "user", content: [{ type: "text", text: `step ${i}: read the file and tell me what the function on line ${i} does` }] }
        : i % 3 === 1
          ? {
              role: "assistant",
              content: null,
              tool_calls: [{ id: `call_${i}`, type: "function", function: { name: "read_file", arguments: `{"path":"src/file${i}.ts"}` } }],
            }
          : { role: "tool", tool_call_id: `call_${i - 1}`, content: `export function f${i}(x: number) {\n  return x * ${i};\n}\n` };
    size += JSON.stringify(m).length + 1;
    messages.push(m);
  }
  return JSON.stringify({
    model: "gpt-4o",
    stream: true,
    tools: [{ type: "function", function: { name: "read_file", parameters: { type: "object" } } }],
    messages,
  });
}

export function benchRequestChecks(): void {
  // A typical small request first: what every request now pays on top of JSON.parse.
  const small = JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "hello" }] });
  const smallJson = JSON.parse(small) as unknown;
  const ns = (fn: () => void) => perCallNs(fn);
  printTable(
    "Request checks on a small chat body (one message), per request",
    "ns",
    summarize(
      "JSON.parse, paid today",
      ns(() => JSON.parse(small)),
    ),
    [
      summarize(
        "refuse repeated keys: scan the raw text",
        ns(() => repeatedKey(small)),
      ),
      summarize(
        "re-serialise: JSON.stringify the parsed body",
        ns(() => JSON.stringify(smallJson)),
      ),
      summarize(
        "shape check (zod, fields the gateway reads)",
        ns(() => checkBody(chatCompletionRequest, smallJson)),
      ),
    ],
  );
  for (const [shape, make] of [
    ["one long message", oneLongMessage],
    ["many short messages", manyMessages],
  ] as const) {
    for (const megabytes of [1, 10]) {
      const text = make(megabytes * MB);
      const json = JSON.parse(text) as unknown;
      if (repeatedKey(text) !== undefined || checkBody(chatCompletionRequest, json)) throw new Error("bench body should pass the checks");
      const opts = { batches: 15, perBatch: megabytes === 1 ? 20 : 3 };
      const ms = (fn: () => void) => perCallNs(fn, opts).map((ns) => ns / 1e6);
      const baseline = summarize(
        "JSON.parse, paid today",
        ms(() => JSON.parse(text)),
      );
      const rows = [
        summarize(
          "refuse repeated keys: scan the raw text",
          ms(() => repeatedKey(text)),
        ),
        summarize(
          "re-serialise: JSON.stringify the parsed body",
          ms(() => JSON.stringify(json)),
        ),
        summarize(
          "shape check (zod, fields the gateway reads)",
          ms(() => checkBody(chatCompletionRequest, json)),
        ),
      ];
      const count = (json as { messages: unknown[] }).messages.length;
      printTable(`Request checks on a ${megabytes} MB chat body, ${shape} (${count} messages), per request`, "ms", baseline, rows);
    }
  }
}
