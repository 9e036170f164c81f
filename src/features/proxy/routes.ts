import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { z } from "zod";
import type { AppEnv } from "~/app-env";
import { noteUsage, observeStream, type EventDraft } from "~/features/events/draft";
import { AppError, errorMessage } from "~/lib/errors";
import { clip } from "~/lib/clip";
import { log } from "~/lib/log";
import { openAIError } from "~/lib/openai-error";
import type { CopilotClient, ForwardOptions } from "~/upstream/copilot-client";
import { repeatedKey, requireJsonBody } from "./request-checks";
import { chatCompletionRequest, checkBody, embeddingsRequest, MODEL_NAME_MAX } from "./request-schemas";
import { GithubTokenRejected } from "~/upstream/copilot-token";
import { withKeepAlive } from "~/upstream/keepalive";

export interface ProxyDeps {
  /** Absent when no GitHub token is configured: the routes then answer 503. */
  copilot?: CopilotClient;
  bodyLimitBytes: number;
}

type Json = Record<string, unknown>;

/** The OpenAI-compatible routes, mounted at / and /v1 by server.ts. */
export function proxyRoutes(deps: ProxyDeps) {
  const routes = new Hono<AppEnv>();
  const limit = bodyLimit({
    maxSize: deps.bodyLimitBytes,
    onError: (c) => openAIError(c, 413, `request body is larger than ${deps.bodyLimitBytes} bytes`, "invalid_request_error", "body_too_large"),
  });

  routes.post("/chat/completions", requireJsonBody, limit, async (c) => {
    const body = await acceptModelRequest(c, chatCompletionRequest);
    if (body instanceof Response) return body;
    const messages = Array.isArray(body.json.messages) ? (body.json.messages as Json[]) : [];
    return forward(c, deps, {
      method: "POST",
      path: "/chat/completions",
      body: body.text,
      vision: messages.some((m) => Array.isArray(m.content) && (m.content as Json[]).some((part) => part?.type === "image_url")),
      initiator: messages.some((m) => m.role === "assistant" || m.role === "tool") ? "agent" : "user",
    });
  });

  routes.post("/embeddings", requireJsonBody, limit, async (c) => {
    const body = await acceptModelRequest(c, embeddingsRequest);
    if (body instanceof Response) return body;
    return forward(c, deps, { method: "POST", path: "/embeddings", body: body.text });
  });

  routes.get("/models", async (c) => {
    const response = await forward(c, deps, { method: "GET", path: "/models" });
    const key = c.var.apiKey;
    if (!response.ok || key.allowedModels.includes("*")) return response;
    // A key limited to some models sees only those.
    const list = (await response.json()) as { data?: { id: string }[] };
    return c.json({ ...list, data: (list.data ?? []).filter((m) => key.allows(m.id)) });
  });
  return routes;
}

/**
 * The checks every request that names a model goes through, in order: a JSON
 * object body (400), each top-level key once (400), noted for telemetry, the
 * shape of the fields the gateway reads (400, naming the field), and a model
 * the key may use (403). The body forwarded is the client's text, unchanged:
 * with no repeated key, the model Copilot reads is the one checked here.
 */
async function acceptModelRequest(c: Context<AppEnv>, schema: z.ZodType): Promise<{ text: string; json: Json } | Response> {
  const body = await readJsonObject(c);
  if (body instanceof Response) return body;
  const repeated = repeatedKey(body.text);
  if (repeated !== undefined) {
    return openAIError(
      c,
      400,
      `request body has the top-level key ${JSON.stringify(clip(repeated))} more than once (keys are compared ignoring case); send each field once`,
      "invalid_request_error",
      "duplicate_key",
    );
  }
  noteRequest(c, body.json);
  const problem = checkBody(schema, body.json);
  if (problem) return openAIError(c, 400, problem.message, "invalid_request_error", problem.code, problem.param);
  return modelDenied(c, body.json.model as string) ?? body;
}

/**
 * What telemetry records about the request itself; a model name only within
 * its bound, so a refused 30 MB "model" is never stored.
 */
function noteRequest(c: Context<AppEnv>, json: Json): void {
  const draft = c.var.event;
  if (typeof json.model === "string" && json.model.length <= MODEL_NAME_MAX) draft.model = json.model;
  draft.stream = json.stream === true;
}

/** 403 when the key may not use the requested model (already bounded by the schema). */
function modelDenied(c: Context<AppEnv>, model: string): Response | undefined {
  const key = c.var.apiKey;
  if (key.allows(model)) return undefined;
  return openAIError(
    c,
    403,
    `model ${JSON.stringify(model)} is not allowed for key ${key.id} (allowed: ${key.allowedModels.join(", ")})`,
    "invalid_request_error",
    "model_not_allowed",
    "model",
  );
}

/** The request body as text (forwarded unchanged) and as a parsed JSON object, or a 400 saying what is wrong. */
async function readJsonObject(c: Context): Promise<{ text: string; json: Json } | Response> {
  const text = await c.req.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return openAIError(c, 400, `request body is not valid JSON: ${clip(errorMessage(error))}`, "invalid_request_error", "invalid_json");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return openAIError(c, 400, "request body must be a JSON object", "invalid_request_error", "invalid_json");
  }
  return { text, json: json as Json };
}

async function forward(c: Context<AppEnv>, deps: ProxyDeps, options: Omit<ForwardOptions, "signal">): Promise<Response> {
  if (!deps.copilot) {
    return openAIError(
      c,
      503,
      "copilot-api has no GitHub token: run `copilot-api auth`, or start it with --github-token or GH_TOKEN",
      "server_error",
      "not_authenticated",
    );
  }
  try {
    return await relay(await deps.copilot.forward({ ...options, signal: c.req.raw.signal }), c.var.event);
  } catch (error) {
    if (c.req.raw.signal.aborted) {
      c.var.event.error = "client_aborted";
      return new Response(null, { status: 499 });
    }
    if (error instanceof GithubTokenRejected) {
      // Retrying cannot help until someone signs in again: tell SDKs not to.
      c.header("x-should-retry", "false");
      return openAIError(c, 503, `${error.message}; ${error.hint}`, "server_error", "github_token_rejected");
    }
    log.error(`upstream ${options.path}: ${errorMessage(error)}`);
    const message = error instanceof AppError && error.hint ? `${error.message}; ${error.hint}` : errorMessage(error);
    return openAIError(c, 502, message, "upstream_error", "upstream_unavailable");
  }
}

const RELAYED_HEADERS = ["content-type", "retry-after", "x-request-id", "x-ratelimit-remaining", "x-ratelimit-reset"];

/**
 * Copilot's status and body go back unchanged (errors included). Headers are
 * chosen, not copied: fetch has already decoded the body, so content-encoding
 * and content-length from upstream would be wrong. On the way, the usage block
 * is read for telemetry: from the JSON answer, or from the tail of a stream.
 */
async function relay(upstream: Response, draft: EventDraft): Promise<Response> {
  draft.reachedUpstream = true;
  const headers = new Headers();
  for (const name of RELAYED_HEADERS) {
    const value = upstream.headers.get(name);
    if (value) headers.set(name, value);
  }
  const type = headers.get("content-type") ?? "";
  if (type.startsWith("text/event-stream") && upstream.body) {
    headers.set("cache-control", "no-cache");
    return new Response(withKeepAlive(observeStream(upstream.body, draft)), { status: upstream.status, headers });
  }
  if (upstream.ok && type.includes("json")) {
    const text = await upstream.text();
    try {
      noteUsage(draft, JSON.parse(text));
    } catch {
      // not JSON after all: relayed as it came, usage unknown
    }
    return new Response(text, { status: upstream.status, headers });
  }
  return new Response(upstream.body, { status: upstream.status, headers });
}
