import type { Worker } from "~/lib/worker";
/**
 * The model catalog: Copilot's `GET /models`, kept in memory and shared by every route.
 * It answers which models the plan has, what each supports, which of Copilot's endpoints
 * accept it (`supported_endpoints`), and which catalog id a client's model name means
 * (Claude Code sends Anthropic's names, e.g. `claude-sonnet-4-5-20250929`, Copilot's id is
 * `claude-sonnet-4.5`).
 *
 * Lifecycle: constructing starts nothing; `start()` loads and arms the background refresh
 * (unref'd, so it never keeps the process alive); `stop()` disarms it.
 */

/** One entry of Copilot's `GET /models` answer. Fields Copilot adds later pass through untyped. */
export interface CatalogEntry {
  id: string;
  name?: string;
  object?: string;
  vendor?: string;
  version?: string;
  preview?: boolean;
  model_picker_enabled?: boolean;
  model_picker_category?: string;
  is_chat_default?: boolean;
  is_chat_fallback?: boolean;
  capabilities?: {
    family?: string;
    /** "chat", "embeddings", "completion". */
    type?: string;
    object?: string;
    tokenizer?: string;
    limits?: {
      max_context_window_tokens?: number;
      max_output_tokens?: number;
      max_prompt_tokens?: number;
      max_non_streaming_output_tokens?: number;
      max_inputs?: number;
      vision?: { max_prompt_image_size?: number; max_prompt_images?: number; supported_media_types?: string[] };
      [key: string]: unknown;
    };
    supports?: {
      tool_calls?: boolean;
      parallel_tool_calls?: boolean;
      streaming?: boolean;
      vision?: boolean;
      structured_outputs?: boolean;
      /** Claude models: extended thinking budget bounds. */
      max_thinking_budget?: number;
      min_thinking_budget?: number;
      adaptive_thinking?: boolean;
      thinking?: boolean;
      /** OpenAI reasoning models: the accepted efforts. */
      reasoning_effort?: string[];
      dimensions?: boolean;
      [key: string]: unknown;
    };
    [key: string]: unknown;
  };
  billing?: { is_premium?: boolean; multiplier?: number; restricted_to?: string[]; [key: string]: unknown };
  policy?: { state?: string; terms?: string };
  /** Copilot endpoints this model answers on: "/chat/completions", "/v1/messages", "/responses". */
  supported_endpoints?: string[];
  [key: string]: unknown;
}

/** Copilot endpoints a route may pick. */
export type CopilotEndpoint = "/chat/completions" | "/v1/messages" | "/responses" | "/embeddings";

export interface ModelCatalogOptions {
  /** Background refresh period. Default 10 minutes. */
  refreshIntervalMs?: number;
  /** `refreshOnce()` (an unknown model name) reloads at most once per this period. Default 30 s. */
  minOnDemandIntervalMs?: number;
  /** Told about a failed background or on-demand refresh; the previous catalog stays in use. */
  onError?: (error: unknown) => void;
  /** Clock, for tests. */
  now?: () => number;
}

export const DEFAULT_REFRESH_INTERVAL_MS = 10 * 60_000;
export const DEFAULT_MIN_ON_DEMAND_INTERVAL_MS = 30_000;

/** Reads Copilot's `GET /models` JSON (`{data: [...], object: "list"}`) into entries; entries without an id are dropped. */
export function parseModelsResponse(json: unknown): CatalogEntry[] {
  const data = typeof json === "object" && json !== null ? (json as { data?: unknown }).data : undefined;
  if (!Array.isArray(data)) throw new Error("Copilot's model list has no data array");
  return data.filter(
    (entry): entry is CatalogEntry =>
      typeof entry === "object" && entry !== null && typeof (entry as { id?: unknown }).id === "string" && (entry as { id: string }).id !== "",
  );
}

export class ModelCatalog implements Worker {
  private entries: CatalogEntry[] = [];
  private byId = new Map<string, CatalogEntry>();
  private byLowerId = new Map<string, CatalogEntry>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private inFlight: Promise<void> | undefined;
  private firstLoad: Promise<void> | undefined;
  private lastOnDemand = Number.NEGATIVE_INFINITY;
  private loadedAt: number | undefined;
  private resolved = 0;
  private readonly refreshIntervalMs: number;
  private readonly minOnDemandIntervalMs: number;
  private readonly now: () => number;

  constructor(
    private readonly load: () => Promise<CatalogEntry[]>,
    private readonly options: ModelCatalogOptions = {},
  ) {
    this.refreshIntervalMs = options.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
    this.minOnDemandIntervalMs = options.minOnDemandIntervalMs ?? DEFAULT_MIN_ON_DEMAND_INTERVAL_MS;
    this.now = options.now ?? Date.now;
  }

  /**
   * Loads the catalog and arms the background refresh. A failed first load is
   * told to `onError` (the refresh stays armed; a request naming an unknown
   * model also retries); `loaded()` settles with that first load.
   */
  start(): void {
    if (!this.timer) {
      this.timer = setInterval(() => {
        this.reload().catch((error) => this.options.onError?.(error));
      }, this.refreshIntervalMs);
      this.timer.unref?.();
    }
    this.firstLoad ??= this.reload();
    this.firstLoad.catch((error) => this.options.onError?.(error));
  }

  /** The first load started by start(): resolves when it is in, rejects if it failed. */
  loaded(): Promise<void> {
    return this.firstLoad ?? Promise.reject(new Error("the model catalog was not started"));
  }

  /** Disarms the background refresh. A load already under way finishes but arms nothing. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** When the catalog was last loaded (epoch ms), or undefined before the first load. */
  get lastLoadedAt(): number | undefined {
    return this.loadedAt;
  }

  /** How many names {@link resolve} was asked to place: a request asks once (tests count it). */
  get lookups(): number {
    return this.resolved;
  }

  /** The entry with exactly this id. */
  get(id: string): CatalogEntry | undefined {
    return this.byId.get(id);
  }

  /** Every entry, in Copilot's order. */
  all(): readonly CatalogEntry[] {
    return this.entries;
  }

  /**
   * Reloads now, for a request naming a model the catalog doesn't know: joins a load already
   * under way, and does nothing (resolves false) if one was started on demand less than
   * `minOnDemandIntervalMs` ago. Resolves true when a load ran and succeeded; never rejects.
   */
  async refreshOnce(): Promise<boolean> {
    if (this.inFlight)
      return this.inFlight.then(
        () => true,
        () => false,
      );
    const now = this.now();
    if (now - this.lastOnDemand < this.minOnDemandIntervalMs) return false;
    this.lastOnDemand = now;
    try {
      await this.reload();
      return true;
    } catch (error) {
      this.options.onError?.(error);
      return false;
    }
  }

  /** {@link resolve}, and on a miss one {@link refreshOnce} and a second try. */
  async resolveOrRefresh(requested: string): Promise<CatalogEntry | undefined> {
    const found = this.resolve(requested);
    if (found) return found;
    return (await this.refreshOnce()) ? this.resolve(requested) : undefined;
  }

  /**
   * The entry a client's model name means: the exact id; else the id ignoring case; else
   * Anthropic's spelling of a Claude name in Copilot's (`claude-sonnet-4-5-20250929` →
   * `claude-sonnet-4.5`, `claude-3-5-haiku-latest` → `claude-3.5-haiku`). Never guesses across
   * families or versions: a name with no such entry is undefined.
   */
  resolve(requested: string): CatalogEntry | undefined {
    this.resolved++;
    const exact = this.byId.get(requested);
    if (exact) return exact;
    const lower = requested.trim().toLowerCase();
    const folded = this.byLowerId.get(lower);
    if (folded) return folded;
    for (const candidate of anthropicNameCandidates(lower)) {
      const entry = this.byLowerId.get(candidate);
      if (entry) return entry;
    }
    return undefined;
  }

  /** The ids of the plan's Claude chat models, sorted, e.g. for a "model not found" message. */
  claudeModelIds(): string[] {
    return claudeModelIds(this.entries);
  }

  private reload(): Promise<void> {
    this.inFlight ??= this.load()
      .then((entries) => this.replace(entries))
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }

  private replace(entries: CatalogEntry[]): void {
    const byId = new Map<string, CatalogEntry>();
    const byLowerId = new Map<string, CatalogEntry>();
    for (const entry of entries) {
      if (!byId.has(entry.id)) byId.set(entry.id, entry);
      const lower = entry.id.toLowerCase();
      if (!byLowerId.has(lower)) byLowerId.set(lower, entry);
    }
    this.entries = entries;
    this.byId = byId;
    this.byLowerId = byLowerId;
    this.loadedAt = this.now();
  }
}

const CLAUDE_FAMILIES = "sonnet|opus|haiku";
const FAMILY_FIRST = new RegExp(`^claude-(${CLAUDE_FAMILIES})-(\\d+(?:\\.\\d+)?)$`);
const VERSION_FIRST = new RegExp(`^claude-(\\d+(?:\\.\\d+)?)-(${CLAUDE_FAMILIES})$`);

/**
 * Copilot spellings of an Anthropic model name (already lower case), most likely first:
 * drop `-latest` and a `-YYYYMMDD` date, turn `4-5` into `4.5`, and try both orders Copilot
 * uses (`claude-sonnet-4.5`, `claude-3.5-sonnet`). The family and version never change.
 */
export function anthropicNameCandidates(name: string): string[] {
  if (!name.startsWith("claude-")) return [];
  const base = name.replace(/-latest$/, "").replace(/-\d{8}$/, "");
  const dotted = base.replace(/(?<=-\d{1,2})-(?=\d{1,2}(?:-|$))/g, ".");
  const out = new Set<string>([base, dotted]);
  const familyFirst = FAMILY_FIRST.exec(dotted);
  if (familyFirst) out.add(`claude-${familyFirst[2]}-${familyFirst[1]}`);
  const versionFirst = VERSION_FIRST.exec(dotted);
  if (versionFirst) out.add(`claude-${versionFirst[2]}-${versionFirst[1]}`);
  out.delete(name);
  return [...out];
}

/** The endpoints an entry accepts: its `supported_endpoints`, or, without them, `/chat/completions` (`/embeddings` for an embeddings model). */
export function endpointsOf(entry: CatalogEntry): string[] {
  if (entry.supported_endpoints && entry.supported_endpoints.length > 0) return entry.supported_endpoints;
  return entry.capabilities?.type === "embeddings" ? ["/embeddings"] : ["/chat/completions"];
}

/** Whether Copilot accepts this model on `endpoint` (`/v1/messages` and `/messages` are the same). */
export function supports(entry: CatalogEntry, endpoint: CopilotEndpoint | string): boolean {
  const wanted = normalizeEndpoint(endpoint);
  return endpointsOf(entry).some((e) => normalizeEndpoint(e) === wanted);
}

/** Whether the model can reason (extended thinking for Claude, reasoning effort for OpenAI's). */
export function hasReasoning(entry: CatalogEntry): boolean {
  const s = entry.capabilities?.supports;
  if (!s) return false;
  return (
    s.thinking === true ||
    s.adaptive_thinking === true ||
    typeof s.max_thinking_budget === "number" ||
    (Array.isArray(s.reasoning_effort) && s.reasoning_effort.length > 0)
  );
}

/** The premium multiplier of a request to this model (billing.is_premium and a multiplier), or null: not premium, or unknown. */
export function premiumMultiplier(entry: CatalogEntry | undefined): number | null {
  const billing = entry?.billing;
  return billing?.is_premium === true && typeof billing.multiplier === "number" && billing.multiplier > 0 ? billing.multiplier : null;
}

/**
 * The model that runs the web searches the gateway fulfils, when --web-search-model names none: the cheapest
 * chat model offering /responses (not premium first, then a "mini" / "nano" one, then by id); undefined without one.
 */
export function defaultSearchModel(entries: readonly CatalogEntry[]): CatalogEntry | undefined {
  const rank = (entry: CatalogEntry) => (premiumMultiplier(entry) === null ? 0 : 2) + (/mini|nano/i.test(entry.id) ? 0 : 1);
  const candidates = entries.filter((entry) => supports(entry, "/responses") && (entry.capabilities?.type ?? "chat") === "chat");
  return candidates.sort((a, b) => rank(a) - rank(b) || a.id.localeCompare(b.id))[0];
}

/** A Claude chat model: vendor Anthropic or a `claude-` id, and not an embeddings model. */
export function isClaude(entry: CatalogEntry): boolean {
  const vendor = entry.vendor?.toLowerCase();
  return (vendor === "anthropic" || entry.id.toLowerCase().startsWith("claude-")) && (entry.capabilities?.type ?? "chat") === "chat";
}

/** The sorted ids of the Claude chat models among `entries`. */
export function claudeModelIds(entries: readonly CatalogEntry[]): string[] {
  return [...new Set(entries.filter(isClaude).map((e) => e.id))].sort();
}

function normalizeEndpoint(endpoint: string): string {
  const path = endpoint.startsWith("/") ? endpoint : `/${endpoint}`;
  return path.replace(/^\/v1(?=\/)/, "").replace(/\/+$/, "");
}
