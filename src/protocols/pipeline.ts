import { type Context, Hono } from "hono";
import type { z } from "zod";
import type { AppEnv } from "~/app-env";
import { observeFor, type UsageReader } from "~/features/events";
import { answerFailure } from "~/lib/api-error";
import type { ForwardOptions } from "~/upstream/copilot-client";
import { type CatalogEntry, type CopilotEndpoint, type ModelCatalog, premiumMultiplier, supports } from "~/upstream/model-catalog";
import { type AnswerObserver, relayedHeaders, sendToCopilot } from "~/upstream/relay";
import { isWindowRefusal } from "~/upstream/windows";
import { type BodyDeps, readBodyWithin } from "./body-read";
import { requireJsonBody } from "./json-body";
import { authorizeModel, type ModelRequest, readModelRequest } from "./request-checks";

export type { ModelRequest };

/**
 * One model request, the same stages in the same order for every protocol:
 *   body checks (415, 413, JSON object, each key once, the schema → a typed request)
 *   resolve the model once in the catalog
 *   authorize the requested name and the catalog id alike (403)
 *   note the event (model, upstream model, premium multiplier)
 *   send natively when the catalog lists the protocol's Copilot endpoint for the model, else via Copilot's chat
 *   answer: the protocol's codec relays or translates; a problem is thrown and answered once, in the protocol's shape.
 * A protocol is an adapter over this: its folder's index.ts exports one {@link Protocol}.
 */

/**
 * What a protocol's routes are given. The Copilot client and catalog are chosen per request
 * (c.get("upstream"): the key's credential, the pool, or the default token; absent without a
 * GitHub token, when model requests answer 503).
 */
export type ProtocolDeps = BodyDeps & {
  /** --web-search-model: the catalog model that runs the web searches the gateway fulfils (default: a cheap one offering /responses). */
  webSearchModel?: string;
};

/** What Copilot is told about a request besides its body: images in it, who started it (X-Initiator), and (for a pool) which conversation it continues. */
export type Traits = Pick<ForwardOptions, "vision" | "initiator" | "affinity">;

/** One send to Copilot: the codec says where, what and with which headers and traits. */
export type Send = Omit<ForwardOptions, "signal">;

/** A checked model request on its way: what a codec reads, and how it sends. */
export interface ModelCall<R extends ModelRequest> {
  readonly c: Context<AppEnv>;
  readonly deps: ProtocolDeps;
  readonly request: R;
  /** The client's bytes, to forward unchanged when nothing needs rewriting. */
  readonly text: string;
  /** The catalog entry the requested name means; undefined when the catalog does not know it (or there is none). */
  readonly entry: CatalogEntry | undefined;
  /** The model id to send Copilot: the catalog's id for the requested name, else the name as sent. */
  readonly upstreamModel: string;
  /**
   * Sends to Copilot and hands back its successful answer. A request that cannot be sent, and
   * Copilot's error answer, are thrown: the pipeline answers them in the protocol's shape.
   */
  send(options: Send, observer: AnswerObserver): Promise<Response>;
  /** The observer that records the event: the usage reader says how this answer carries its usage. */
  observe(usage: UsageReader): AnswerObserver;
}

/** A route that carries a model request: its path, schema and codecs. */
export interface ModelRoute<R extends ModelRequest> {
  /** Where clients post it (at / and /v1). */
  path: string;
  /** What the body must look like; the fields the codecs read. */
  schema: z.ZodType;
  /** Copilot's endpoint that speaks this protocol: used when the catalog lists it for the model. */
  endpoint: CopilotEndpoint;
  /** Checks of the request the schema cannot say (a hosted tool…): throws an ApiFailure. */
  check?(request: R, c: Context<AppEnv>): void;
  /** The model is not in the catalog (or there is none): throw the protocol's refusal, or return to send it as requested. */
  unknownModel?(requested: string, c: Context<AppEnv>): Promise<void>;
  /** Copilot takes the model on `endpoint`: the request in the protocol's own shape. */
  native(call: ModelCall<R>): Promise<Response>;
  /** Copilot takes the model on /chat/completions only: translated there and back. Absent: always native. */
  viaChat?(call: ModelCall<R>): Promise<Response>;
}

/** A route with its request type fixed (what its codecs read), for a protocol's `models`. */
export const modelRoute = <R extends ModelRequest>(route: ModelRoute<R>): ModelRoute<R> => route;

/** A client-facing protocol: what its folder's index.ts exports. */
export interface Protocol {
  /** Its paths, as events record them: `usage` ones reach Copilot, `other` ones do not. */
  paths: { usage: readonly string[]; other: readonly string[] };
  // biome-ignore lint/suspicious/noExplicitAny: each route fixes its own request type; the pipeline only reads `model`.
  models: readonly ModelRoute<any>[];
  /** Copilot's error answer in this protocol's shape. Absent: relayed as it came (Copilot's errors are OpenAI's). */
  upstreamError?(upstream: Response): Promise<Response>;
  /** Routes beyond the model requests (stored responses, count_tokens, the model list). */
  extraRoutes?(routes: Hono<AppEnv>, deps: ProtocolDeps): void;
}

/** Copilot answered with an error: thrown by `send`, answered by the protocol's {@link Protocol.upstreamError}. */
class UpstreamRefused extends Error {
  constructor(readonly upstream: Response) {
    super(`Copilot answered HTTP ${upstream.status}`);
  }
}

/** Copilot's error answer as it came: its status and body, chosen headers. */
const relayRefusal = async (upstream: Response) => new Response(upstream.body, { status: upstream.status, headers: relayedHeaders(upstream) });

/** A protocol's routes, mounted at / and /v1 by server.ts: its model requests through the pipeline, and its extra routes. */
export function protocolRoutes(protocol: Protocol, deps: ProtocolDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const [isJson, limit] = jsonBodyChecks(deps);
  for (const route of protocol.models) routes.post(route.path, isJson, limit, (c) => runModelRequest(c, route, deps));
  protocol.extraRoutes?.(routes, deps);
  // Every problem thrown on these routes is answered here, once; anything else is a bug, for the app's 500.
  routes.onError((error, c) => {
    if (error instanceof UpstreamRefused) return (protocol.upstreamError ?? relayRefusal)(error.upstream);
    const answer = answerFailure(c, error);
    if (answer) return answer;
    throw error;
  });
  return routes;
}

/**
 * The first stages, for a route that names a model (count_tokens too): body checks → a typed
 * request, the model resolved once, the key's allow-list matched by the name or the id it means.
 */
export async function checkModelRequest<R extends ModelRequest>(
  c: Context<AppEnv>,
  route: Pick<ModelRoute<R>, "schema" | "check" | "unknownModel">,
): Promise<{ text: string; request: R; entry: CatalogEntry | undefined }> {
  const { text, request } = await readModelRequest<R>(c, route.schema);
  route.check?.(request, c);
  const entry = await resolveModel(c.get("upstream").catalog, request.model);
  authorizeModel(c, request.model, entry?.id);
  if (!entry) await route.unknownModel?.(request.model, c);
  return { text, request, entry };
}

/**
 * What a route that takes a JSON body runs first: 415 unless the body says it is JSON, then the body
 * read within its limits (413 past --body-limit-mb or the route's own, 408 too slow, 429 too many arriving).
 */
export const jsonBodyChecks = (deps: ProtocolDeps, own?: Parameters<typeof readBodyWithin>[1]) => [requireJsonBody, readBodyWithin(deps, own)] as const;

async function runModelRequest<R extends ModelRequest>(c: Context<AppEnv>, route: ModelRoute<R>, deps: ProtocolDeps): Promise<Response> {
  const { text, request, entry } = await checkModelRequest(c, route);
  // The event: what was asked, what it means upstream, what it costs.
  const draft = c.get("event");
  draft.upstreamModel = entry?.id ?? null; // until Copilot's answer names the model that answered
  draft.premiumMultiplier = premiumMultiplier(entry);
  const call: ModelCall<R> = {
    c,
    deps,
    request,
    text,
    entry,
    upstreamModel: entry?.id ?? request.model,
    send: async (options, observer) => {
      const upstream = await sendToCopilot(c, c.get("upstream").copilot, options, observer);
      if (!upstream.ok) {
        if (isWindowRefusal(upstream)) draft.error = "window_exhausted";
        throw new UpstreamRefused(upstream);
      }
      return upstream;
    },
    observe: (usage) => observeFor(draft, usage, c.req.raw.signal),
  };
  // Natively when the catalog lists the protocol's endpoint for the model, else via Copilot's chat (a model the catalog does not know too).
  if (route.viaChat && !(entry && supports(entry, route.endpoint))) return route.viaChat(call);
  return route.native(call);
}

/**
 * The catalog entry a requested name means, asked once per request: right after boot it waits
 * for the first load (or tries it once more), and a name it does not know reloads it once.
 */
async function resolveModel(catalog: ModelCatalog | undefined, requested: string): Promise<CatalogEntry | undefined> {
  if (!catalog) return undefined;
  if (catalog.lastLoadedAt === undefined) await catalog.refreshOnce();
  return catalog.resolveOrRefresh(requested);
}
