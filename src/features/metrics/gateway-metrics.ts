import { statSync } from "node:fs";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { readReplicationStatus, type Store } from "~/db";
import { LATENCY_BUCKETS, type RecordedEvent } from "~/features/events";
import { listKeys } from "~/features/keys";

/** What the metrics read at scrape time; each part is optional where the gateway may run without it. */
export interface MetricsSources {
  store: Store;
  recorder: { dropped: number; notStored: number; lastWriteError: string | undefined };
  /** Copilot's catalog: names the models a label may carry (any other is "other"). */
  catalog?: { resolve(name: string): { id: string } | undefined; lastLoadedAt: number | undefined };
  token?: { refreshFailures: number };
  /** Replicating with Litestream: the replica's lag is read from its state file. */
  replicating: boolean;
  /** Each Copilot seat's windows (session, weekly…): gauges of percent left and seconds to reset. */
  windows?: () => { seat: string; windows: { states: ReadonlyMap<string, { remainingPercent: number; resetsAt: number | null }> } }[];
  /** Which protocol each recorded route belongs to (server.ts's lists). */
  protocols: Record<string, { usage: readonly string[]; other: readonly string[] }>;
}

/** A request that named no model, or one the catalog does not list: two fixed values, so a client cannot mint series. */
const NO_MODEL = "none";
const OTHER_MODEL = "other";
const TOKEN_KINDS = [
  ["promptTokens", "input"],
  ["completionTokens", "output"],
  ["cacheReadTokens", "cache_read"],
  ["cacheCreationTokens", "cache_creation"],
  ["reasoningTokens", "reasoning"],
] as const;

/** One event's series, as prom-client label children. */
interface Series {
  requests: Counter.Internal;
  latency: Histogram.Internal<string>;
  tokens: Counter.Internal[];
  premium: Counter.Internal;
  cost: Counter.Internal;
}

/**
 * The gateway's Prometheus metrics. Request series are counted from committed
 * events (the recorder's batch, once per event-loop turn), not on the request
 * path, so they agree with the events table and cost a request nothing. Every
 * label comes from the store (key id and label), the catalog (model) or the
 * route table, never from what a client sent.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly protocolOf = new Map<string, string>();
  private labels = new Map<string, string>();
  private series = new Map<string, Series>();
  private catalogLoadedAt: number | undefined;
  private pending: (readonly RecordedEvent[])[] = [];
  private readonly requests: Counter;
  private readonly latency: Histogram;
  private readonly tokens: Counter;
  private readonly premium: Counter;
  private readonly cost: Counter;

  constructor(private readonly sources: MetricsSources) {
    for (const [protocol, routes] of Object.entries(sources.protocols))
      for (const route of [...routes.usage, ...routes.other]) this.protocolOf.set(route, protocol);
    const registers = [this.registry];
    this.requests = new Counter({
      name: "copilot_api_requests_total",
      help: "Requests recorded as events, by route, protocol, model (from the catalog), key and status",
      labelNames: ["route", "protocol", "model", "key", "key_label", "status"],
      registers,
    });
    // The buckets of usage_hourly's latency columns, so the two agree.
    this.latency = new Histogram({
      name: "copilot_api_request_duration_seconds",
      help: "Request latency as recorded in events (the client's wait, to the last byte for streams)",
      labelNames: ["route", "protocol", "model"],
      buckets: LATENCY_BUCKETS.filter((b) => Number.isFinite(b.le)).map((b) => b.le / 1000),
      registers,
    });
    this.tokens = new Counter({
      name: "copilot_api_tokens_total",
      help: "Tokens Copilot reported, by model and kind",
      labelNames: ["model", "kind"],
      registers,
    });
    this.premium = new Counter({
      name: "copilot_api_premium_requests_total",
      help: "Premium requests billed (a user-initiated request to a premium model costs its multiplier)",
      labelNames: ["model", "key", "key_label"],
      registers,
    });
    this.cost = new Counter({
      name: "copilot_api_cost_nano_aiu_total",
      help: "What Copilot metered (copilot_usage.total_nano_aiu; 1 GitHub AI credit = 1e9, $0.01), by model and key; answers without a cost add nothing",
      labelNames: ["model", "key", "key_label"],
      registers,
    });
    this.windowGauges(registers);
    this.scrapeTimeMetrics(registers);
    collectDefaultMetrics({ register: this.registry });
  }

  /**
   * A committed batch of events (the recorder's onCommitted). Counted on the next turn of
   * the event loop: the responses waiting for this commit are not held for the counting.
   */
  committed(events: readonly RecordedEvent[]): void {
    this.pending.push(events);
    if (this.pending.length === 1) setImmediate(this.drain);
  }

  private readonly drain = () => {
    const batches = this.pending;
    this.pending = [];
    for (const batch of batches) this.count(batch);
  };

  private count(events: readonly RecordedEvent[]): void {
    for (const event of events) {
      const series = this.seriesOf(event);
      series.requests.inc();
      series.latency.observe(event.latencyMs / 1000);
      for (const [i, [field]] of TOKEN_KINDS.entries()) {
        const count = event[field];
        if (count) series.tokens[i]!.inc(count);
      }
      if (event.premiumRequests) series.premium.inc(event.premiumRequests);
      if (event.costNanoAiu) series.cost.inc(event.costNanoAiu);
    }
  }

  /**
   * The label children of an event's series, built once per combination: prom-client's
   * label hashing per update costs microseconds, a Map lookup does not. Bounded like the
   * series themselves (routes × catalog models × keys × statuses).
   */
  private seriesOf(event: RecordedEvent): Series {
    const id = `${event.route}\u0000${event.model ?? ""}\u0000${event.keyId}\u0000${event.status}`;
    let series = this.series.get(id);
    if (series) return series;
    const model = this.modelLabel(event.model);
    const route = event.route;
    const protocol = this.protocolOf.get(route) ?? "other";
    const key = event.keyId;
    const keyLabel = this.keyLabel(key);
    series = {
      requests: this.requests.labels({ route, protocol, model, key, key_label: keyLabel, status: String(event.status) }),
      latency: this.latency.labels({ route, protocol, model }),
      tokens: TOKEN_KINDS.map(([, kind]) => this.tokens.labels({ model, kind })),
      premium: this.premium.labels({ model, key, key_label: keyLabel }),
      cost: this.cost.labels({ model, key, key_label: keyLabel }),
    };
    this.series.set(id, series);
    return series;
  }

  /** The Prometheus text exposition. */
  async render(): Promise<{ body: string; contentType: string }> {
    this.drain();
    const labels = keyLabels(this.sources.store);
    // A relabelled key, or a reloaded catalog (it may know a model now), resolves its labels again.
    const loadedAt = this.sources.catalog?.lastLoadedAt;
    if (loadedAt !== this.catalogLoadedAt || [...labels].some(([id, label]) => this.labels.has(id) && this.labels.get(id) !== label)) this.series.clear();
    this.catalogLoadedAt = loadedAt;
    this.labels = labels;
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }

  private modelLabel(name: string | null | undefined): string {
    if (!name) return NO_MODEL;
    return this.sources.catalog?.resolve(name)?.id ?? OTHER_MODEL;
  }

  /** A key's label from the store; a key created since the last read is looked up once. Sentinels (__noauth__) have none. */
  private keyLabel(keyId: string): string {
    const known = this.labels.get(keyId);
    if (known !== undefined || keyId.startsWith("__")) return known ?? "";
    this.labels = keyLabels(this.sources.store);
    const label = this.labels.get(keyId) ?? "";
    // Remembered even when absent, so an unknown id reads the store once, not per event.
    this.labels.set(keyId, label);
    return label;
  }

  /** Gauges and counters read from their sources when Prometheus scrapes. */
  /** Copilot's windows per seat, read at scrape time: labels are seat labels (the store's) and window names (fixed). */
  private windowGauges(registers: Registry[]): void {
    const windows = this.sources.windows;
    if (!windows) return;
    const collectWith = (read: (state: { remainingPercent: number; resetsAt: number | null }) => number | undefined) =>
      function (this: Gauge) {
        this.reset();
        for (const { seat, windows: w } of windows()) {
          for (const [window, state] of w.states) {
            const value = read(state);
            if (value !== undefined) this.set({ seat, window }, value);
          }
        }
      };
    new Gauge({
      name: "copilot_api_window_remaining_percent",
      help: "Percent left of each Copilot usage window (session, weekly, quota snapshots) as its last answer said, per seat",
      labelNames: ["seat", "window"],
      registers,
      collect: collectWith((state) => state.remainingPercent),
    });
    new Gauge({
      name: "copilot_api_window_reset_seconds",
      help: "Seconds until each Copilot usage window resets, as its last answer said, per seat",
      labelNames: ["seat", "window"],
      registers,
      collect: collectWith((state) => (state.resetsAt === null ? undefined : Math.max(0, (state.resetsAt - Date.now()) / 1000))),
    });
  }

  private scrapeTimeMetrics(registers: Registry[]): void {
    const { store, recorder, catalog, token, replicating } = this.sources;
    counterFrom("copilot_api_events_dropped_total", "Events lost (buffer full, store not writable, after stop)", () => recorder.dropped, registers);
    counterFrom(
      "copilot_api_events_not_stored_total",
      "Failed authentications over the per-minute cap: counted in usage_hourly, no event row",
      () => recorder.notStored,
      registers,
    );
    gaugeFrom(
      "copilot_api_store_file_replaced",
      "1 when the database file was deleted or replaced under the server (restart it)",
      () => (store.fileProblem() ? 1 : 0),
      registers,
    );
    gaugeFrom(
      "copilot_api_store_last_write_failed",
      "1 when the last event write failed (the store is not writable)",
      () => (recorder.lastWriteError === undefined ? 0 : 1),
      registers,
    );
    gaugeFrom(
      "copilot_api_store_wal_bytes",
      "Size of the database's write-ahead log",
      () => statSync(`${store.path}-wal`, { throwIfNoEntry: false })?.size ?? 0,
      registers,
    );
    if (replicating) {
      gaugeFrom(
        "copilot_api_replication_lag_seconds",
        "How far the Litestream replica trails the database",
        () => {
          const lag = readReplicationStatus(store.path)?.lagMs;
          return lag === undefined ? undefined : lag / 1000;
        },
        registers,
      );
    }
    if (catalog) {
      gaugeFrom(
        "copilot_api_catalog_age_seconds",
        "Seconds since Copilot's model catalog was last loaded",
        () => (catalog.lastLoadedAt === undefined ? undefined : (Date.now() - catalog.lastLoadedAt) / 1000),
        registers,
      );
    }
    if (token) counterFrom("copilot_api_token_refresh_failures_total", "Failed Copilot token refreshes", () => token.refreshFailures, registers);
  }
}

function keyLabels(store: Store): Map<string, string> {
  return new Map(listKeys(store.db, { includeRevoked: true }).map((k) => [k.id, k.label]));
}

/** A gauge read at scrape; undefined leaves it without a sample (not yet known). */
function gaugeFrom(name: string, help: string, read: () => number | undefined, registers: Registry[]): void {
  new Gauge({
    name,
    help,
    registers,
    collect() {
      const value = read();
      this.reset();
      if (value !== undefined) this.set(value);
    },
  });
}

/** A counter whose total another part keeps (the recorder's dropped count): raised to it at scrape. */
function counterFrom(name: string, help: string, read: () => number, registers: Registry[]): void {
  let seen = 0;
  new Counter({
    name,
    help,
    registers,
    collect() {
      const now = read();
      if (now > seen) this.inc(now - seen);
      seen = Math.max(seen, now);
    },
  });
}
