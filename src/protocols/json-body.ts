import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "~/app-env";
import { apiError } from "~/lib/api-error";
import { clip } from "~/lib/clip";

/**
 * Checks on a request body that come before its shape (each protocol's request-schemas.ts, run by ./request-checks.ts):
 * what it claims to be (415) and whether its top level says one thing once.
 */

const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json$/;
const UTF8 = /^(?:utf-8|utf8)$/;

/**
 * Why a Content-Type is not a JSON body, or undefined when it is one:
 * `application/json` or an `application/*+json` type, in UTF-8 (the only
 * charset JSON has, and the one the body is decoded with).
 *
 * A missing Content-Type is refused too: the OpenAI SDKs always send one, and
 * a browser sends none for a Blob body, which makes such a POST a "simple"
 * cross-site request that needs no preflight, just like text/plain and form types.
 */
export function notJson(contentType: string | undefined): string | undefined {
  if (!contentType?.trim()) return "the request has no Content-Type";
  const [type = "", ...params] = contentType.split(";").map((part) => part.trim().toLowerCase());
  const received = `the request body has Content-Type ${JSON.stringify(clip(contentType))}`;
  if (!JSON_TYPE.test(type)) return received;
  for (const param of params) {
    const [name, value = ""] = param.split("=").map((s) => s.trim());
    if (name === "charset" && !UTF8.test(value.replace(/^"|"$/g, ""))) return `${received}, and JSON is read as UTF-8 only`;
  }
  return undefined;
}

/** 415 in the OpenAI error shape for a route that takes JSON, before any of the body is read. */
export const requireJsonBody: MiddlewareHandler<AppEnv> = async (c, next) => {
  const problem = notJson(c.req.header("content-type"));
  if (problem) {
    return apiError(c, 415, {
      message: `${problem}; send the body as JSON with \`Content-Type: application/json\``,
      type: "invalid_request_error",
      code: "unsupported_media_type",
    });
  }
  await next();
};

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;

/** Index of the quote that closes the JSON string opened at `open`. */
function stringEnd(text: string, open: number): number {
  let at = open;
  for (;;) {
    at = text.indexOf('"', at + 1);
    if (at < 0) return text.length;
    let slashes = 0;
    while (text.charCodeAt(at - 1 - slashes) === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return at;
  }
}

/**
 * Deepest nesting accepted in a request body (the top-level object is 1). Real requests nest a
 * few dozen levels at most (a tool's JSON schema); a body nested 200,000 deep parses, but the
 * schema checks and translations that walk it recursively overflow the stack.
 */
export const MAX_JSON_DEPTH = 128;

/**
 * The keys of a JSON object's top level, in order and with repeats, decoded
 * (`"mod\u0065l"` is `model`), and how deep it nests. The text must already be
 * known to be a valid JSON object (JSON.parse accepted it). Strings are skipped
 * with indexOf, so the cost is a scan of the structure, not of the content.
 */
export function scanBody(text: string): { keys: string[]; depth: number } {
  const keys: string[] = [];
  let depth = 0; // how deep below the top-level object
  let deepest = 0;
  let expectKey = true;
  let i = text.indexOf("{") + 1;
  const length = text.length;
  while (i < length) {
    const ch = text.charCodeAt(i);
    if (ch === QUOTE) {
      const end = stringEnd(text, i);
      if (depth === 0 && expectKey) {
        const raw = text.slice(i + 1, end);
        keys.push(raw.includes("\\") ? (JSON.parse(`"${raw}"`) as string) : raw);
        expectKey = false;
      }
      i = end + 1;
      continue;
    }
    if (ch === OPEN_BRACE || ch === OPEN_BRACKET) {
      depth++;
      if (depth > deepest) deepest = depth;
    } else if (ch === CLOSE_BRACE || ch === CLOSE_BRACKET) {
      if (depth === 0) break;
      depth--;
    } else if (ch === COMMA && depth === 0) expectKey = true;
    i++;
  }
  return { keys, depth: deepest + 1 };
}

/** The keys of a JSON object's top level (see {@link scanBody}). */
export function topLevelKeys(text: string): string[] {
  return scanBody(text).keys;
}

/** Folds a key the way a case-insensitive JSON decoder would match it (Go's encoding/json does). */
const fold = (key: string) => key.toUpperCase().toLowerCase();

/**
 * The first top-level key that appears twice, also when only letter case
 * tells the two apart. Parsers disagree on which of two "model" keys wins
 * (JSON.parse takes the last, others the first or either spelling), so a body
 * that says two things is refused rather than checked one way and read another.
 */
export function repeatedKey(text: string): string | undefined {
  return repeatedIn(topLevelKeys(text));
}

/** The first key of `keys` that repeats an earlier one, ignoring case (see {@link repeatedKey}). */
export function repeatedIn(keys: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (const key of keys) {
    const folded = fold(key);
    if (seen.has(folded)) return key;
    seen.add(folded);
  }
  return undefined;
}
