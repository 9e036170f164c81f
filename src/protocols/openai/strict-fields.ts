/**
 * Copilot's chat answers leave out `object` (and its first streamed chunk,
 * the prompt filter's, leaves out `model`). Strict clients trip on that: the
 * OpenAI Python SDK's `chat.completions.stream()` drops every chunk whose
 * `object` is not "chat.completion.chunk" and then fails with an
 * AssertionError; Pydantic-based clients reject the answer. These fill the
 * fields in when they are missing, and change nothing else: the missing
 * fields are written in front of Copilot's own text, which is not
 * re-serialised (numbers, escapes and key order stay as Copilot sent them).
 */

const CHUNK = "chat.completion.chunk";
const ANSWER = "chat.completion";

/**
 * A chat answer (or chunk) with `object` and `model` filled in when absent.
 * `text` is the JSON text of `json`. Errors and anything that is not an
 * object come back unchanged.
 */
export function completeFields(text: string, json: unknown, object: string, model: string): string {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return text;
  const answer = json as { object?: unknown; model?: unknown; error?: unknown };
  if (answer.error !== undefined) return text;
  if (answer.model === "" || answer.model === null) {
    // Present but empty: the one case that needs the object written anew.
    return JSON.stringify({ ...answer, object: answer.object ?? object, model });
  }
  let missing = "";
  if (answer.object === undefined) missing += `"object":${JSON.stringify(object)}`;
  if (answer.model === undefined) missing += `${missing ? "," : ""}"model":${JSON.stringify(model)}`;
  if (!missing) return text;
  const open = text.indexOf("{");
  const rest = text.slice(open + 1);
  return `${text.slice(0, open + 1)}${missing}${/^\s*\}/.test(rest) ? "" : ","}${rest}`;
}

/** A non-streamed chat answer for strict clients: `object: "chat.completion"`, and `model` when missing. */
export const completeAnswer = (model: string) => (text: string, json: unknown) => completeFields(text, json, ANSWER, model);

/** One SSE line: a `data:` line holding a JSON object gets the missing fields; every other line passes as it is. */
function completeLine(line: string, model: string): string {
  if (!line.startsWith("data:")) return line;
  const start = line.charCodeAt(5) === 32 ? 6 : 5;
  if (line.charCodeAt(start) !== 123 /* { */) return line;
  const payload = line.slice(start);
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    return line; // not JSON after all: relayed as it came
  }
  const fixed = completeFields(payload, json, CHUNK, model);
  return fixed === payload ? line : line.slice(0, start) + fixed;
}

/**
 * A streamed chat answer for strict clients: each chunk gets
 * `object: "chat.completion.chunk"` (and `model` when missing). Works on whole
 * lines as they arrive, so nothing waits for the stream's end: a line split
 * across reads is held only until its newline comes.
 */
export function completeChunks(model: string): (body: ReadableStream<Uint8Array>) => ReadableStream<Uint8Array> {
  return (body) => {
    const decoder = new TextDecoder();
    const encoder = new TextEncoder();
    let pending = "";
    const complete = (text: string) =>
      text.includes("data:")
        ? text
            .split("\n")
            .map((line) => completeLine(line, model))
            .join("\n")
        : text;
    return body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(bytes, controller) {
          const text = pending + decoder.decode(bytes, { stream: true });
          const end = text.lastIndexOf("\n");
          if (end === -1) {
            pending = text;
            return;
          }
          pending = text.slice(end + 1);
          controller.enqueue(encoder.encode(complete(text.slice(0, end + 1))));
        },
        flush(controller) {
          const text = pending + decoder.decode();
          if (text) controller.enqueue(encoder.encode(complete(text)));
        },
      }),
    );
  };
}
