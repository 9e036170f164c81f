import { z } from "zod";

/**
 * The shape of the requests the OpenAI routes accept, checked at the edge.
 * Only the fields the gateway itself reads are described; every other field
 * is allowed and passes through untouched, so Copilot stays the judge of the
 * rest of the protocol. These schemas only check: their parsed output is
 * never used (the client's own bytes are forwarded), which is why they are
 * plain z.object (unknown keys dropped from the output, not refused), about
 * twice as cheap as z.looseObject on a body of thousands of messages.
 * A later protocol (Anthropic Messages, Responses) adds its own module like
 * this one and reuses `checkBody`.
 */

/** Longest model name accepted: real names are under 64 characters. Longer ones are refused, never stored or echoed. */
export const MODEL_NAME_MAX = 256;

const model = z.string().min(1).max(MODEL_NAME_MAX);

/** `stream: null` is what some clients send for "not set". */
const stream = z.boolean().nullish();

const contentPart = z.object({ type: z.string() });

const message = z.object({
  role: z.string(),
  // null or absent: an assistant message that only carries tool calls.
  content: z.union([z.string(), z.array(contentPart), z.null()], { error: "expected a string, an array of content parts, or null" }).optional(),
});

export const chatCompletionRequest = z.object({
  model,
  messages: z.array(message),
  stream,
});

export const embeddingsRequest = z.object({
  model,
  input: z.union([z.string(), z.array(z.string()), z.array(z.number()), z.array(z.array(z.number()))], {
    error: "expected a string, an array of strings, an array of numbers (tokens) or an array of arrays of numbers",
  }),
});

/** What a failed check says: the field path (`messages[0].role`) and what was wrong with it. */
export interface BodyProblem {
  param: string;
  message: string;
  code: string;
}

/** Validates a parsed body; undefined when it fits, else the first problem, phrased for the client. */
export function checkBody(schema: z.ZodType, body: unknown): BodyProblem | undefined {
  const result = schema.safeParse(body);
  if (result.success) return undefined;
  return describe(result.error.issues[0]!, body, []);
}

type Issue = z.core.$ZodIssue;

function describe(issue: Issue, body: unknown, prefix: PropertyKey[]): BodyProblem {
  const path = [...prefix, ...issue.path];
  if (issue.code === "invalid_union") {
    // One branch got past the outer type (an array whose item is wrong): that branch says where.
    const deeper = issue.errors.filter((branch) => branch.some((i) => i.path.length > 0));
    if (deeper.length === 1) return describe(deeper[0]![0]!, body, path);
  }
  const param = pathText(path);
  const value = valueAt(body, path);
  const say = (code: string, what: string): BodyProblem => ({ param, code, message: `${param}: ${what}` });
  if (value === undefined && (issue.code === "invalid_type" || issue.code === "invalid_union")) {
    const expected = issue.code === "invalid_type" ? article(issue.expected) : issue.message.replace(/^expected /, "");
    return say("missing_required_parameter", `is required (${expected})`);
  }
  switch (issue.code) {
    case "invalid_type":
      return say("invalid_type", `expected ${article(issue.expected)}, got ${typeName(value)}`);
    case "too_big":
      if (typeof value === "string") {
        return say("string_above_max_length", `is ${value.length} characters long; the limit is ${issue.maximum} characters`);
      }
      return say("invalid_value", `is above the limit of ${issue.maximum}`);
    case "too_small":
      if (typeof value === "string") return say("empty_string", "must not be empty");
      return say("invalid_value", `is below the minimum of ${issue.minimum}`);
    default:
      // Our own messages (unions) or zod's, which name types, never the client's values.
      return say("invalid_value", issue.message);
  }
}

/** `messages[0].content[1].type` */
export function pathText(path: PropertyKey[]): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number") text += `[${segment}]`;
    else text += text ? `.${String(segment)}` : String(segment);
  }
  return text || "body";
}

function valueAt(body: unknown, path: PropertyKey[]): unknown {
  let value = body;
  for (const segment of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return article(typeof value);
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}
