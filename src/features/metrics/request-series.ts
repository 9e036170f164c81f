import { LATENCY_BUCKETS, type RecordedEvent } from "~/features/events";

const TOKEN_KINDS = [
  ["promptTokens", "input"],
  ["completionTokens", "output"],
  ["cacheReadTokens", "cache_read"],
  ["cacheCreationTokens", "cache_creation"],
  ["reasoningTokens", "reasoning"],
] as const;

/** The buckets of usage_hourly's latency columns (seconds), so the two agree; +Inf is the count. */
const BUCKETS_S = LATENCY_BUCKETS.filter((b) => Number.isFinite(b.le)).map((b) => b.le / 1000);

/** One (route, model, key, status) combination's running totals: plain numbers, no label hashing per update. */
interface Totals {
  route: string;
  model: string;
  key: string;
  status: number;
  requests: number;
  /** Requests per latency bucket (not cumulative; made cumulative when written). */
  buckets: number[];
  latencySum: number;
  tokens: number[];
  premium: number;
  /** Copilot's metered cost (nano-AIU); answers without one add nothing. */
  cost: number;
}

/** What the exposition reads about labels at scrape time. */
export interface SeriesLabels {
  protocolOf(route: string): string;
  keyLabel(key: string): string;
}

/** Prometheus text format: a label value with \, " and newlines escaped. */
const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
const labelText = (labels: [string, string][]) => labels.map(([name, value]) => `${name}="${escapeLabel(value)}"`).join(",");

/** Sums rows into groups named by a label set, in first-seen order. */
function groupBy<T>(rows: Iterable<Totals>, labels: (t: Totals) => [string, string][], empty: () => T, add: (into: T, t: Totals) => void) {
  const groups = new Map<string, { labels: string; value: T }>();
  for (const t of rows) {
    const text = labelText(labels(t));
    let group = groups.get(text);
    if (!group) {
      group = { labels: text, value: empty() };
      groups.set(text, group);
    }
    add(group.value, t);
  }
  return groups.values();
}

/**
 * The request series of /metrics (requests, latency, tokens, premium requests), counted
 * from committed events. prom-client hashes the labels on every update (microseconds per
 * event); here an event adds to plain numbers found by one Map lookup, and the text is
 * produced when Prometheus scrapes, with key labels and protocols read then.
 */
export class RequestSeries {
  private readonly totals = new Map<string, Totals>();

  /** `model` is the bounded label (catalog id, "none" or "other"), never the client's text. */
  add(event: RecordedEvent, model: string): void {
    const id = `${event.route}\u0000${model}\u0000${event.keyId}\u0000${event.status}`;
    let t = this.totals.get(id);
    if (!t) {
      t = {
        route: event.route,
        model,
        key: event.keyId,
        status: event.status,
        requests: 0,
        buckets: BUCKETS_S.map(() => 0),
        latencySum: 0,
        tokens: TOKEN_KINDS.map(() => 0),
        premium: 0,
        cost: 0,
      };
      this.totals.set(id, t);
    }
    t.requests += 1;
    const seconds = event.latencyMs / 1000;
    t.latencySum += seconds;
    for (let i = 0; i < BUCKETS_S.length; i++) {
      if (seconds <= BUCKETS_S[i]!) {
        t.buckets[i]! += 1;
        break;
      }
    }
    for (let i = 0; i < TOKEN_KINDS.length; i++) {
      const count = event[TOKEN_KINDS[i]![0]];
      if (count) t.tokens[i]! += count;
    }
    if (event.premiumRequests) t.premium += event.premiumRequests;
    if (event.costNanoAiu) t.cost += event.costNanoAiu;
  }

  /** The four families in the Prometheus text format (0.0.4). */
  exposition(labels: SeriesLabels): string {
    const rows = [...this.totals.values()];
    const keyLabel = new Map(rows.map((t) => [t.key, labels.keyLabel(t.key)]));
    const out: string[] = [];
    const family = (name: string, type: "counter" | "histogram", help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);

    family("copilot_api_requests_total", "counter", "Requests recorded as events, by route, protocol, model (from the catalog), key and status");
    for (const t of rows) {
      const text = labelText([
        ["route", t.route],
        ["protocol", labels.protocolOf(t.route)],
        ["model", t.model],
        ["key", t.key],
        ["key_label", keyLabel.get(t.key)!],
        ["status", String(t.status)],
      ]);
      out.push(`copilot_api_requests_total{${text}} ${t.requests}`);
    }

    const latency = "copilot_api_request_duration_seconds";
    family(latency, "histogram", "Request latency as recorded in events (the client's wait, to the last byte for streams)");
    const byRoute = (t: Totals): [string, string][] => [
      ["route", t.route],
      ["protocol", labels.protocolOf(t.route)],
      ["model", t.model],
    ];
    const histograms = groupBy(
      rows,
      byRoute,
      () => ({ buckets: BUCKETS_S.map(() => 0), sum: 0, count: 0 }),
      (h, t) => {
        for (let i = 0; i < BUCKETS_S.length; i++) h.buckets[i]! += t.buckets[i]!;
        h.sum += t.latencySum;
        h.count += t.requests;
      },
    );
    for (const { labels: text, value: h } of histograms) {
      let cumulative = 0;
      for (const [i, le] of BUCKETS_S.entries()) {
        cumulative += h.buckets[i]!;
        out.push(`${latency}_bucket{le="${le}",${text}} ${cumulative}`);
      }
      out.push(`${latency}_bucket{le="+Inf",${text}} ${h.count}`, `${latency}_sum{${text}} ${h.sum}`, `${latency}_count{${text}} ${h.count}`);
    }

    family("copilot_api_tokens_total", "counter", "Tokens Copilot reported, by model and kind");
    const tokens = groupBy(
      rows,
      (t) => [["model", t.model]],
      () => TOKEN_KINDS.map(() => 0),
      (sums, t) => {
        for (let i = 0; i < TOKEN_KINDS.length; i++) sums[i]! += t.tokens[i]!;
      },
    );
    for (const { labels: text, value: sums } of tokens)
      for (const [i, [, kind]] of TOKEN_KINDS.entries()) if (sums[i]) out.push(`copilot_api_tokens_total{${text},kind="${kind}"} ${sums[i]}`);

    // Premium requests and Copilot's metered cost: sums by model and key.
    const sums = [
      ["copilot_api_premium_requests_total", "Premium requests billed (a user-initiated request to a premium model costs its multiplier)", "premium"],
      [
        "copilot_api_cost_nano_aiu_total",
        "What Copilot metered (copilot_usage.total_nano_aiu; 1 GitHub AI credit = 1e9, $0.01), by model and key; answers without a cost add nothing",
        "cost",
      ],
    ] as const;
    for (const [name, help, field] of sums) {
      family(name, "counter", help);
      const groups = groupBy(
        rows,
        (t) => [
          ["model", t.model],
          ["key", t.key],
          ["key_label", keyLabel.get(t.key)!],
        ],
        () => ({ sum: 0 }),
        (p, t) => {
          p.sum += t[field];
        },
      );
      for (const { labels: text, value } of groups) if (value.sum) out.push(`${name}{${text}} ${value.sum}`);
    }
    return `${out.join("\n")}\n`;
  }
}
