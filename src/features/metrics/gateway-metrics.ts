import { statSync } from "node:fs";
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { readReplicationStatus, type Store, walFile } from "~/db";
import type { RecordedEvent } from "~/features/events";
import { RequestSeries } from "./request-series";

/** What the metrics read at scrape time; each part is optional where the gateway may run without it. */
export interface MetricsSources {
  /** Each key's label by id as the store holds it now, read at every scrape (a relabelled key shows its new label). */
  keyLabels: () => ReadonlyMap<string, string>;
  /**
   * The SQLite store: the gauges about its file (replaced under the server, WAL size, Litestream's lag).
   * Absent on PostgreSQL, where no file of ours exists: those series are left out rather than reported as zeros.
   */
  sqlite?: Store;
  recorder: { dropped: number; notStored: number; lastWriteError: string | undefined };
  /** Copilot's catalog: names the models a label may carry (any other is "other"). */
  catalog?: { resolve(name: string): { id: string } | undefined; lastLoadedAt: number | undefined };
  token?: { refreshFailures: number };
  /** Replicating the SQLite store with Litestream: the replica's lag is read from its state file. */
  replicating?: boolean;
  /** Which protocol each recorded route belongs to (server.ts's lists). */
  protocols: Record<string, { usage: readonly string[]; other: readonly string[] }>;
  /** Each Copilot seat's windows (session, weekly…): gauges of percent left and seconds to reset. */
  windows?: () => { seat: string; windows: { states: ReadonlyMap<string, { remainingPercent: number; resetsAt: number | null }> } }[];
}

/** A request that named no model, or one the catalog does not list: two fixed values, so a client cannot mint series. */
const NO_MODEL = "none";
const OTHER_MODEL = "other";
/** Requested names remembered with their label; past this many distinct names the memo starts over (a client may send any). */
const MODEL_MEMO_MAX = 1000;

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
  private labels: ReadonlyMap<string, string> = new Map();
  private readonly requestSeries = new RequestSeries();
  private readonly modelLabels = new Map<string, string>();
  private catalogLoadedAt: number | undefined;
  private pending: (readonly RecordedEvent[])[] = [];

  constructor(private readonly sources: MetricsSources) {
    for (const [protocol, routes] of Object.entries(sources.protocols))
      for (const route of [...routes.usage, ...routes.other]) this.protocolOf.set(route, protocol);
    this.catalogLoadedAt = sources.catalog?.lastLoadedAt;
    const registers = [this.registry];
    this.scrapeTimeMetrics(registers);
    this.windowGauges(registers);
    collectDefaultMetrics({ register: this.registry });
  }

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
    for (const batch of batches) for (const event of batch) this.requestSeries.add(event, this.modelLabel(event.model));
  };

  /** The Prometheus text exposition: the request series, then prom-client's registry (gauges, process metrics). */
  async render(): Promise<{ body: string; contentType: string }> {
    this.drain();
    // A reloaded catalog may know a model now: names resolve again from here on.
    const loadedAt = this.sources.catalog?.lastLoadedAt;
    if (loadedAt !== this.catalogLoadedAt) this.modelLabels.clear();
    this.catalogLoadedAt = loadedAt;
    this.labels = this.sources.keyLabels();
    const series = this.requestSeries.exposition({
      protocolOf: (route) => this.protocolOf.get(route) ?? "other",
      keyLabel: (key) => this.labels.get(key) ?? "",
    });
    return { body: series + (await this.registry.metrics()), contentType: this.registry.contentType };
  }

  private modelLabel(name: string | null | undefined): string {
    if (!name) return NO_MODEL;
    let label = this.modelLabels.get(name);
    if (label === undefined) {
      label = this.sources.catalog?.resolve(name)?.id ?? OTHER_MODEL;
      if (this.modelLabels.size >= MODEL_MEMO_MAX) this.modelLabels.clear();
      this.modelLabels.set(name, label);
    }
    return label;
  }

  /** Gauges and counters read from their sources when Prometheus scrapes. */
  private scrapeTimeMetrics(registers: Registry[]): void {
    const { sqlite, recorder, catalog, token } = this.sources;
    counterFrom("copilot_api_events_dropped_total", "Events lost (buffer full, store not writable, after stop)", () => recorder.dropped, registers);
    counterFrom(
      "copilot_api_events_not_stored_total",
      "Failed authentications over the per-minute cap: counted in usage_hourly, no event row",
      () => recorder.notStored,
      registers,
    );
    gaugeFrom(
      "copilot_api_store_last_write_failed",
      "1 when the last event write failed (the store is not writable)",
      () => (recorder.lastWriteError === undefined ? 0 : 1),
      registers,
    );
    if (sqlite) this.sqliteFileGauges(sqlite, registers);
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

  /** What only a SQLite file has: the file itself (replaced under the server?), its WAL, its Litestream replica. */
  private sqliteFileGauges(sqlite: Store, registers: Registry[]): void {
    gaugeFrom(
      "copilot_api_store_file_replaced",
      "1 when the database file was deleted or replaced under the server (restart it)",
      () => (sqlite.fileProblem() ? 1 : 0),
      registers,
    );
    gaugeFrom(
      "copilot_api_store_wal_bytes",
      "Size of the database's write-ahead log",
      () => statSync(walFile(sqlite.path), { throwIfNoEntry: false })?.size ?? 0,
      registers,
    );
    if (this.sources.replicating) {
      gaugeFrom(
        "copilot_api_replication_lag_seconds",
        "How far the Litestream replica trails the database",
        () => {
          const lag = readReplicationStatus(sqlite.path)?.lagMs;
          return lag === undefined ? undefined : lag / 1000;
        },
        registers,
      );
    }
  }
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
