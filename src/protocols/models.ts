import type { Context } from "hono";
import type { AppEnv } from "~/app-env";
import { ApiFailure } from "~/lib/api-error";
import { clip } from "~/lib/clip";
import { cmd } from "~/lib/command-name";
import type { UpstreamChoice } from "~/upstream/forwarder";
import type { CatalogEntry, ModelCatalog } from "~/upstream/model-catalog";
import { noGithubToken, sendToCopilot } from "~/upstream/relay";

/** A probe of Copilot that records nothing. */
const NO_OBSERVER = { reached() {}, aborted() {} };

/**
 * The model list every protocol answers from Copilot's catalog (never a call to
 * Copilot per request): GET /models and GET /models/{id}, in OpenAI's shape, or
 * in Anthropic's when the client says it speaks it (`anthropic-version`, which
 * Anthropic SDKs always send). A key limited to some models sees only those.
 */

/** `created` / `created_at` for every model: Copilot's catalog carries no dates. */
const NO_DATE_SECONDS = 0;
const NO_DATE_ISO = new Date(NO_DATE_SECONDS * 1000).toISOString().replace(".000Z", "Z");

/**
 * The loaded catalog, or the problem thrown instead: 503 without a GitHub token
 * (as every upstream route), 502 when Copilot's model list could not be loaded
 * (the first load failed and one retry on demand did too).
 */
export async function readyCatalog(c: Context, deps: UpstreamChoice): Promise<ModelCatalog> {
  // Without a GitHub token (or with a seat that cannot be used): the answer a request to Copilot would get.
  if (!deps.copilot || !deps.catalog) {
    await sendToCopilot(c, deps.copilot, { method: "GET", path: "/models" }, NO_OBSERVER);
    throw noGithubToken();
  }
  const catalog = deps.catalog;
  if (catalog.lastLoadedAt === undefined) await catalog.refreshOnce();
  if (catalog.lastLoadedAt !== undefined) return catalog;
  // A refused token (the seat's credential, or the default one) is said as such (thrown), not as a missing model list.
  const probe = await sendToCopilot(c, deps.copilot, { method: "GET", path: "/models" }, NO_OBSERVER);
  await probe.body?.cancel();
  throw new ApiFailure(502, {
    message: `copilot-api could not load Copilot's model list (GET /models); its log says why: run \`${cmd("doctor")}\` to check the GitHub token and Copilot`,
    type: "upstream_error",
    code: "catalog_unavailable",
  });
}

const wantsAnthropic = (c: Context) => c.req.header("anthropic-version") !== undefined;

/** OpenAI's model object; Copilot's own fields (capabilities, billing, supported_endpoints…) stay. */
function openAIModel(entry: CatalogEntry) {
  return { ...entry, id: entry.id, object: "model", created: NO_DATE_SECONDS, owned_by: entry.vendor ?? "github-copilot" };
}

/** Anthropic's model object. */
function anthropicModel(entry: CatalogEntry) {
  return { type: "model", id: entry.id, display_name: entry.name ?? entry.id, created_at: NO_DATE_ISO };
}

/** Anthropic clients get the chat models only: an embeddings model cannot answer /v1/messages. */
const isChat = (entry: CatalogEntry) => (entry.capabilities?.type ?? "chat") === "chat";

/** GET /models: the catalog, filtered by the key's allowed models. */
export async function listModels(c: Context<AppEnv>, deps: UpstreamChoice): Promise<Response> {
  const catalog = await readyCatalog(c, deps);
  const key = c.get("apiKey");
  const visible = catalog.all().filter((entry) => key.allows(entry.id));
  if (!wantsAnthropic(c)) return c.json({ object: "list", data: visible.map(openAIModel) });
  const data = visible.filter(isChat).map(anthropicModel);
  return c.json({ data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
}

/** GET /models/{id}: one model (Anthropic's dated names resolve too), or 404 in the client's shape. */
export async function getModel(c: Context<AppEnv>, deps: UpstreamChoice, requested: string): Promise<Response> {
  const catalog = await readyCatalog(c, deps);
  const entry = catalog.resolve(requested);
  const key = c.get("apiKey");
  if (!entry || !(key.allows(entry.id) || key.allows(requested)) || (wantsAnthropic(c) && !isChat(entry))) {
    throw new ApiFailure(404, {
      message: `model ${JSON.stringify(clip(requested))} is not in this Copilot plan's model list, or this key may not use it; GET /v1/models lists the ones it may`,
      type: "invalid_request_error",
      code: "model_not_found",
      param: "model",
    });
  }
  return c.json(wantsAnthropic(c) ? anthropicModel(entry) : openAIModel(entry));
}
