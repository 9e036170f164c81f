import type { Context } from "hono";
import type { z } from "zod";
import type { AppEnv } from "~/app-env";
import { ApiFailure } from "~/lib/api-error";
import { clip } from "~/lib/clip";
import { errorMessage } from "~/lib/errors";
import { MAX_JSON_DEPTH, repeatedIn, scanBody } from "./json-body";

/**
 * The checks every protocol's model-bearing request goes through, in its own
 * error shape: size (413), a JSON object body (400) nested at most MAX_JSON_DEPTH
 * deep (400), each top-level key once (400), the shape of the fields the gateway reads (400, naming the field),
 * and a model the key may use (403). Each protocol brings its schema.
 */

/** Longest model name accepted: real names are under 64 characters. Longer ones are refused, never stored or echoed. */
export const MODEL_NAME_MAX = 256;

type JsonObject = Record<string, unknown>;

/**
 * Reads and checks a request that names a model: a JSON object (400), each
 * top-level key once (400), the shape the schema describes (400, naming the
 * field). Throws the problem; hands back the client's text (forwarded
 * unchanged: with no repeated key, the model Copilot reads is the one checked
 * here) and the request, typed as its protocol reads it. The schema checked
 * every field the protocol reads; fields it does not describe pass through.
 */
export async function readModelRequest<R extends ModelRequest>(c: Context<AppEnv>, schema: z.ZodType): Promise<{ text: string; request: R }> {
  const body = await readJsonObject(c);
  const { keys, depth } = scanBody(body.text);
  if (depth > MAX_JSON_DEPTH) {
    throw new ApiFailure(400, {
      message: `request body nests ${depth} levels deep; the limit is ${MAX_JSON_DEPTH} levels of objects and arrays: send a flatter body`,
      type: "invalid_request_error",
      code: "json_too_deep",
    });
  }
  const repeated = repeatedIn(keys);
  if (repeated !== undefined) {
    throw new ApiFailure(400, {
      message: `request body has the top-level key ${JSON.stringify(clip(repeated))} more than once (keys are compared ignoring case); send each field once`,
      type: "invalid_request_error",
      code: "duplicate_key",
    });
  }
  noteRequest(c, body.json);
  const problem = checkBody(schema, body.json);
  if (problem) throw new ApiFailure(400, { message: problem.message, type: "invalid_request_error", code: problem.code, param: problem.param });
  // The one place a checked body becomes its protocol's type.
  return { text: body.text, request: body.json as R };
}

/** What every model request has once checked: the model it names. */
export interface ModelRequest {
  model: string;
}

/**
 * 403 unless the key may use the model: by the name the client sent or by the
 * catalog id it means, the same on every protocol.
 */
export function authorizeModel(c: Context<AppEnv>, requested: string, catalogId: string | undefined): void {
  const key = c.get("apiKey");
  if (key.allows(requested) || (catalogId !== undefined && key.allows(catalogId))) return;
  throw new ApiFailure(403, {
    message: `model ${JSON.stringify(requested)} is not allowed for key ${key.id} (allowed: ${key.allowedModels.join(", ")})`,
    type: "invalid_request_error",
    code: "model_not_allowed",
    param: "model",
  });
}

/**
 * What telemetry records about the request itself; a model name only within
 * its bound, so a refused 30 MB "model" is never stored.
 */
function noteRequest(c: Context<AppEnv>, json: JsonObject): void {
  const draft = c.get("event");
  if (typeof json.model === "string" && json.model.length <= MODEL_NAME_MAX) draft.model = json.model;
  draft.stream = json.stream === true;
}

/** The request body as text (forwarded unchanged) and as a parsed JSON object, or a 400 saying what is wrong. */
async function readJsonObject(c: Context): Promise<{ text: string; json: JsonObject }> {
  const text = await c.req.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ApiFailure(400, { message: `request body is not valid JSON: ${clip(errorMessage(error))}`, type: "invalid_request_error", code: "invalid_json" });
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ApiFailure(400, { message: "request body must be a JSON object", type: "invalid_request_error", code: "invalid_json" });
  }
  return { text, json: json as JsonObject };
}

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
