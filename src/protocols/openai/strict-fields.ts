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

const encoder = new TextEncoder();
const utf8 = new TextDecoder();
const [LF, CR, SPACE, QUOTE, COMMA, COLON, BACKSLASH] = [10, 13, 32, 34, 44, 58, 92];
const [OPEN_OBJECT, CLOSE_OBJECT, OPEN_ARRAY, CLOSE_ARRAY] = [123, 125, 91, 93];
// Searched as bytes, never decoded: in UTF-8 every byte of a non-ASCII character is 0x80 or
// above, so an ASCII needle or delimiter found in the bytes is that character in the text.
const [DATA, OBJECT_KEY, ERROR_KEY, MODEL_KEY, MODEL_VALUE] = ["data:", '"object"', '"error"', '"model"', '"model":"'].map((needle) => Buffer.from(needle));

/**
 * Every `"error"` in the payload is the first key of an object that is the
 * value of a key (`:{"error"`), so none is at the top: in valid JSON those
 * characters cannot sit inside a string (the unescaped quote after `{` would
 * end it, and `error` cannot follow a string). That is Copilot's
 * `content_filter_results.error`, on every chunk of a GPT model's stream.
 * Any other `"error"` is not proven nested.
 */
function errorsAllNested(payload: Buffer): boolean {
  for (let at = payload.indexOf(ERROR_KEY!); at !== -1; at = payload.indexOf(ERROR_KEY!, at + 7)) {
    if (payload[at - 1] !== OPEN_OBJECT || payload[at - 2] !== COLON) return false;
  }
  return true;
}

/**
 * Whether the payload's last `"model":"…"` is its top-level `model` with a
 * non-empty value, proven from what follows it, as Copilot writes it: the key
 * comes after `,` or `{` (so its quote opens a key, not a string's end), its
 * value has no escapes, and the rest has no backslash, so its quotes and
 * brackets can be counted exactly — closing one level more than it opens
 * means the key sits in the outermost object. Anything else is not proven.
 */
function topLevelModelSet(payload: Buffer): boolean {
  const key = payload.lastIndexOf(MODEL_VALUE!);
  if (key <= 0 || (payload[key - 1] !== COMMA && payload[key - 1] !== OPEN_OBJECT)) return false;
  const value = key + 9;
  const end = payload.indexOf(QUOTE, value);
  if (end <= value) return false;
  if (payload.indexOf(BACKSLASH, value) !== -1) return false;
  let depth = 0;
  let inString = false;
  for (let i = end + 1; i < payload.length; i++) {
    const c = payload[i];
    if (c === QUOTE) inString = !inString;
    else if (inString) continue;
    else if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++;
    else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) depth--;
  }
  return depth === -1 && !inString;
}

/**
 * Which fields to write right after the opening `{` of the payload (one
 * `data:` line's JSON), or null when the bytes do not prove what is missing
 * (the caller then parses). A key's quotes are never escaped, so a payload
 * without `"object"` has no `object` key at any depth; without `"model"` no
 * `model`. The payload is a view of its own line: a read holding many lines
 * must not have each line's search run on to the end of the read.
 */
function spliceFor(payload: Buffer): "object" | "both" | null {
  // `{"` or `{}` and a closing `}`: no whitespace for the splice to get wrong.
  const second = payload[1];
  if (payload[payload.length - 1] !== CLOSE_OBJECT || (second !== QUOTE && second !== CLOSE_OBJECT)) return null;
  if (payload.indexOf(OBJECT_KEY!) !== -1 || !errorsAllNested(payload)) return null;
  if (payload.indexOf(MODEL_KEY!) === -1) return "both";
  return topLevelModelSet(payload) ? "object" : null;
}

/** One SSE line fixed the slow way: parsed, for what the text could not prove. */
function completeParsedLine(line: string, model: string): string {
  const start = line.charCodeAt(5) === SPACE ? 6 : 5;
  const end = line.endsWith("\r") ? line.length - 1 : line.length;
  const payload = line.slice(start, end);
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    return line; // not JSON after all: relayed as it came
  }
  const fixed = completeFields(payload, json, CHUNK, model);
  return fixed === payload ? line : line.slice(0, start) + fixed + line.slice(end);
}

/** Bytes [at, end) of the read replaced by `bytes` (an insertion when at === end). */
interface Edit {
  at: number;
  end: number;
  bytes: Uint8Array;
}

/** The fields' bytes to splice in, with and without the comma that separates them from a first key. */
class Splices {
  readonly object: Uint8Array;
  readonly both: Uint8Array;
  constructor(model: string) {
    this.object = encoder.encode(`${OBJECT_CHUNK},`);
    this.both = encoder.encode(`${OBJECT_CHUNK},"model":${JSON.stringify(model)},`);
  }
  get(which: "object" | "both", emptyObject: boolean): Uint8Array {
    const bytes = this[which];
    return emptyObject ? bytes.subarray(0, bytes.length - 1) : bytes;
  }
}

/**
 * The edits that give each `data: {` payload of whole lines (ending in a
 * newline) the fields it lacks. The bytes are searched natively where they lie
 * (no decoded copy of the read): a chunk of Copilot's shape gets an insertion
 * without being parsed; the rare rest is decoded and parsed.
 */
function editsFor(lines: Uint8Array, model: string, splices: Splices): Edit[] {
  const bytes = Buffer.from(lines.buffer, lines.byteOffset, lines.byteLength);
  const edits: Edit[] = [];
  for (let start = bytes.indexOf(DATA!); start !== -1; start = bytes.indexOf(DATA!, start + 5)) {
    if (start > 0 && bytes[start - 1] !== LF) continue; // "data:" inside a line, not at its start
    const open = bytes[start + 5] === SPACE ? start + 6 : start + 5;
    if (bytes[open] !== OPEN_OBJECT) continue;
    const newline = bytes.indexOf(LF, open);
    const end = bytes[newline - 1] === CR ? newline - 1 : newline;
    const splice = spliceFor(bytes.subarray(open, end));
    if (splice) {
      edits.push({ at: open + 1, end: open + 1, bytes: splices.get(splice, bytes[open + 1] === CLOSE_OBJECT) });
      continue;
    }
    const line = utf8.decode(lines.subarray(start, newline));
    const fixed = completeParsedLine(line, model);
    if (fixed !== line) edits.push({ at: start, end: newline, bytes: encoder.encode(fixed) });
  }
  return edits;
}

/** The read with its edits applied; the read itself when there are none. */
function applyEdits(lines: Uint8Array, edits: Edit[]): Uint8Array {
  if (edits.length === 0) return lines;
  let size = lines.length;
  for (const edit of edits) size += edit.bytes.length - (edit.end - edit.at);
  const out = new Uint8Array(size);
  const [first] = edits;
  if (edits.length === 1 && first!.at === first!.end) {
    // The common read: one chunk, one insertion near its start. Copied whole and shifted,
    // then its few first bytes put back: no views to make.
    out.set(lines, first!.bytes.length);
    for (let i = 0; i < first!.at; i++) out[i] = lines[i]!;
    out.set(first!.bytes, first!.at);
    return out;
  }
  let read = 0;
  let written = 0;
  for (const edit of edits) {
    out.set(lines.subarray(read, edit.at), written);
    written += edit.at - read;
    out.set(edit.bytes, written);
    written += edit.bytes.length;
    read = edit.end;
  }
  out.set(lines.subarray(read), written);
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * A streamed chat answer for strict clients: each chunk gets
 * `object: "chat.completion.chunk"` (and `model` when missing). Works on whole
 * lines as they arrive, so nothing waits for the stream's end: a line split
 * across reads is held only until its newline comes.
 */
export function completeChunks(model: string): (body: ReadableStream<Uint8Array>) => ReadableStream<Uint8Array> {
  const splices = new Splices(model);
  const complete = (lines: Uint8Array) => applyEdits(lines, editsFor(lines, model, splices));
  return (body) => {
    const reader = body.getReader();
    let pending: Uint8Array | null = null;
    // A pull source rather than a TransformStream: one stage less per chunk, and
    // cancelling it cancels upstream directly.
    return new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) {
              // A last line without its newline: completed as if it had one.
              if (pending) controller.enqueue(complete(concat(pending, NEWLINE)).subarray(0, -1));
              controller.close();
              return;
            }
            const read = pending ? concat(pending, value) : value;
            const end = read.lastIndexOf(LF);
            if (end === -1) {
              pending = read; // no whole line yet: read on
              continue;
            }
            const whole = end + 1 === read.length;
            pending = whole ? null : read.slice(end + 1);
            controller.enqueue(complete(whole ? read : read.subarray(0, end + 1)));
            return;
          }
        },
        cancel: (reason) => reader.cancel(reason),
      },
      { highWaterMark: 0 },
    );
  };
}
const NEWLINE = new Uint8Array([LF]);
