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
const OBJECT_CHUNK = `"object":"${CHUNK}"`;
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
  return missing ? insert(text, missing) : text;
}

/** `fields` (`"a":1,"b":2`) written first inside the JSON object `text`. */
function insert(text: string, fields: string): string {
  const open = text.indexOf("{");
  const rest = text.slice(open + 1);
  return `${text.slice(0, open + 1)}${fields}${/^\s*\}/.test(rest) ? "" : ","}${rest}`;
}

/** A non-streamed chat answer for strict clients: `object: "chat.completion"`, and `model` when missing. */
export const completeAnswer = (model: string) => (text: string, json: unknown) => completeFields(text, json, ANSWER, model);

/** A non-empty `model` string somewhere in a payload, as Copilot writes it (no spaces). */
const MODEL_SET = /"model":"[^"]/;

/**
 * One SSE line: a `data:` line holding a JSON object gets the missing fields;
 * every other line passes as it is. The common case is decided without
 * parsing: inside JSON a key's quotes are never escaped, so a payload with no
 * `"object"` and no `"error"` anywhere has neither at its top; a chunk's only
 * `model` key is its top-level one (the chunk schema nests none). Anything
 * else is parsed to be sure.
 */
function completeLine(line: string, model: string, modelField: string): string {
  if (!line.startsWith("data:")) return line;
  const start = line.charCodeAt(5) === 32 ? 6 : 5;
  if (line.charCodeAt(start) !== 123 /* { */) return line;
  // Lines may end in \r\n: the \r stays where it was.
  const end = line.endsWith("\r") ? line.length - 1 : line.length;
  const payload = line.slice(start, end);
  const put = (fixed: string) => line.slice(0, start) + fixed + line.slice(end);
  if (payload.endsWith("}") && !payload.includes('"object"') && !payload.includes('"error"')) {
    if (!payload.includes('"model"')) return put(insert(payload, modelField));
    if (MODEL_SET.test(payload)) return put(insert(payload, OBJECT_CHUNK));
  }
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    return line; // not JSON after all: relayed as it came
  }
  const fixed = completeFields(payload, json, CHUNK, model);
  return fixed === payload ? line : put(fixed);
}

/**
 * A streamed chat answer for strict clients: each chunk gets
 * `object: "chat.completion.chunk"` (and `model` when missing). Works on whole
 * lines as they arrive, so nothing waits for the stream's end: a line split
 * across reads is held only until its newline comes.
 */
export function completeChunks(model: string): (body: ReadableStream<Uint8Array>) => ReadableStream<Uint8Array> {
  const modelField = `${OBJECT_CHUNK},"model":${JSON.stringify(model)}`;
  const complete = (text: string) => {
    if (!text.includes("data:")) return text;
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) lines[i] = completeLine(lines[i]!, model, modelField);
    return lines.join("\n");
  };
  return (body) => {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    const encoder = new TextEncoder();
    let pending = "";
    // A pull source rather than a TransformStream: one stage less per chunk, and
    // cancelling it cancels upstream directly.
    return new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) {
              const rest = pending + decoder.decode();
              if (rest) controller.enqueue(encoder.encode(complete(rest)));
              controller.close();
              return;
            }
            const text = pending + decoder.decode(value, { stream: true });
            const end = text.lastIndexOf("\n");
            if (end === -1) {
              pending = text; // no whole line yet: read on
              continue;
            }
            pending = text.slice(end + 1);
            controller.enqueue(encoder.encode(complete(text.slice(0, end + 1))));
            return;
          }
        },
        cancel: (reason) => reader.cancel(reason),
      },
      { highWaterMark: 0 },
    );
  };
}
