import { LATENCY_BUCKETS } from "~/features/events";
import type { QuotaLine, QuotaReport, windowsReport } from "~/features/quota";
import { QUOTA_NAMES } from "~/features/quota";
import { cmd } from "~/lib/command-name";
import { formatCredits, formatUsd } from "~/lib/credits";
import type { Session } from "../env";
import { type UsageLine, type UsageTables, WINDOWS, type WindowName } from "../queries";
import { atMost, compact, ms, num, percent, utc } from "./format";
import { Layout } from "./layout";
import { linkWith } from "./links";

export const SORTABLE = [
  "name",
  "requests",
  "errors",
  "promptTokens",
  "completionTokens",
  "cacheReadTokens",
  "costNanoAiu",
  "premiumRequests",
  "p50LatencyMs",
  "p95LatencyMs",
] as const;
export type SortColumn = (typeof SORTABLE)[number];
export interface Sort {
  column: SortColumn;
  descending: boolean;
}

export type QuotaState = { kind: "none" } | { kind: "error"; message: string } | { kind: "ok"; report: QuotaReport };

export interface UsageView {
  session: Session;
  window: WindowName;
  keyId?: string;
  model?: string;
  since: number;
  until: number;
  tables: UsageTables;
  /** Key id → label, for every key the store holds. */
  labels: Map<string, string>;
  keySort: Sort;
  modelSort: Sort;
  quota: QuotaState;
  /** Each seat's Copilot windows as last seen. */
  windows: ReturnType<typeof windowsReport>;
  /** The current query string, for links that change one parameter. */
  query: URLSearchParams;
}

const COLUMNS: [SortColumn, string, (line: UsageLine) => string][] = [
  ["requests", "Requests", (l) => num(l.requests)],
  ["errors", "Errors", (l) => num(l.errors)],
  ["promptTokens", "Prompt tok", (l) => num(l.promptTokens)],
  ["completionTokens", "Completion tok", (l) => num(l.completionTokens)],
  ["cacheReadTokens", "Cached tok", (l) => num(l.cacheReadTokens)],
  ["costNanoAiu", "Credits", (l) => formatCredits(l.costNanoAiu)],
  ["premiumRequests", "Premium (legacy)", (l) => num(l.premiumRequests)],
  ["p50LatencyMs", "p50 ≤", (l) => ms(l.p50LatencyMs)],
  ["p95LatencyMs", "p95 ≤", (l) => ms(l.p95LatencyMs)],
];

export function sortLines(lines: UsageLine[], sort: Sort): UsageLine[] {
  const value = (l: UsageLine) => l[sort.column];
  return [...lines].sort((a, b) => {
    const x = value(a);
    const y = value(b);
    const order = typeof x === "string" || typeof y === "string" ? String(x).localeCompare(String(y)) : (x ?? -1) - (y ?? -1);
    return sort.descending ? -order : order;
  });
}

function UsageTable(props: { caption: string; param: "ks" | "ms"; lines: UsageLine[]; sort: Sort; query: URLSearchParams; nameOf: (name: string) => string }) {
  const header = (column: SortColumn, label: string) => {
    const active = props.sort.column === column;
    const descending = active ? !props.sort.descending : column !== "name";
    const arrow = active ? (props.sort.descending ? " ↓" : " ↑") : "";
    return (
      <th scope="col" aria-sort={active ? (props.sort.descending ? "descending" : "ascending") : undefined} class={column === "name" ? "" : "num"}>
        <a href={linkWith("/dashboard", props.query, { [props.param]: `${descending ? "-" : ""}${column}` })}>
          {label}
          {arrow}
        </a>
      </th>
    );
  };
  return (
    <div class="table-wrap">
      <table data-table={props.param}>
        <caption>{props.caption}</caption>
        <thead>
          <tr>
            {header("name", props.param === "ks" ? "Key" : "Model")}
            {COLUMNS.map(([column, label]) => header(column, label))}
          </tr>
        </thead>
        <tbody>
          {props.lines.length === 0 ? (
            <tr>
              <td colspan={COLUMNS.length + 1} class="empty">
                No requests in this window.
              </td>
            </tr>
          ) : (
            sortLines(props.lines, props.sort).map((line) => (
              <tr>
                <th scope="row">{props.nameOf(line.name)}</th>
                {COLUMNS.map(([, , show]) => (
                  <td class="num">{show(line)}</td>
                ))}
              </tr>
            ))
          )}
        </tbody>
      </table>
    </div>
  );
}

function QuotaMeter({ name, line }: { name: string; line: QuotaLine | null }) {
  if (!line) return null;
  if (line.unlimited) {
    return (
      <div class="quota-line">
        <span>{name}</span>
        <span class="muted">unlimited</span>
      </div>
    );
  }
  return (
    <div class="quota-line">
      <span>{name}</span>
      <meter min={0} max={line.entitlement ?? 0} value={line.used ?? 0} low={(line.entitlement ?? 0) * 0.75} high={(line.entitlement ?? 0) * 0.9} />
      <span class="num">
        {num(line.used)} / {num(line.entitlement)} used{line.overage ? `, ${num(line.overage)} over` : ""}
      </span>
    </div>
  );
}

/** Copilot's session and weekly windows per seat: what is left, when it resets, when it was seen. */
function Windows({ seats }: { seats: UsageView["windows"] }) {
  const lines = seats.flatMap(({ seat, windows, exhausted }) =>
    (["session", "weekly"] as const).flatMap((name) => {
      const w = windows[name];
      return w ? [{ seat, name, w, exhausted: exhausted?.window === name ? exhausted.until : null }] : [];
    }),
  );
  return (
    <section class="panel quota" aria-label="Copilot windows" data-windows>
      <h2>Copilot usage windows</h2>
      {lines.length === 0 ? (
        <p class="muted">None seen yet: Copilot says where its session and weekly windows stand on each answer.</p>
      ) : (
        lines.map((l) => (
          <div class="quota-line" data-window={`${l.seat}/${l.name}`}>
            <span>
              {l.seat}: {l.name}
            </span>
            <meter min={0} max={100} value={l.w.remainingPercent} low={25} high={50} optimum={100} />
            <span class="num">
              {l.exhausted ? `exhausted until ${l.exhausted}` : `${l.w.remainingPercent}% left`}, resets {l.w.resetsAt ?? "(unknown)"}, seen {l.w.seenAt}
            </span>
          </div>
        ))
      )}
    </section>
  );
}

function Quota({ state }: { state: QuotaState }) {
  return (
    <section class="panel quota" aria-label="Copilot quota">
      <h2>Copilot quota</h2>
      {state.kind === "none" ? (
        <p class="muted">
          This server has no GitHub token, so Copilot's own counters are unknown: run <code>{cmd("auth")}</code> and restart.
        </p>
      ) : state.kind === "error" ? (
        <p class="muted">Copilot's counters could not be read: {state.message}</p>
      ) : (
        <>
          <p class="muted">
            Plan {state.report.plan ?? "unknown"}, resets {state.report.resetDate ?? "(unknown)"}
          </p>
          {(Object.keys(QUOTA_NAMES) as (keyof typeof QUOTA_NAMES)[]).map((name) => (
            <QuotaMeter name={QUOTA_NAMES[name]} line={state.report[name]} />
          ))}
        </>
      )}
    </section>
  );
}

/** What a percentile from the histogram means: the card's tooltip. */
const LATENCY_NOTE = `p50 and p95 are read from a histogram: each is the upper bound of the histogram bucket (${LATENCY_BUCKETS.slice(0, 4)
  .map((b) => ms(b.le))
  .join(", ")}, …) that holds that share of the requests, or the slowest request when that is lower. The mean is exact.`;

const CHARTS: [string, string][] = [
  ["requests", "Requests and errors"],
  ["tokens", "Tokens"],
  ["credits", "AI credits (1 credit = $0.01)"],
  ["premium", "Premium requests (legacy unit)"],
  ["latency", "Latency p50 / p95 (ms, bucket upper bounds)"],
];

export function UsagePage(v: UsageView) {
  const { totals } = v.tables;
  const label = (id: string) => {
    const name = v.labels.get(id);
    return name ? `${name} (${id})` : id;
  };
  const step = WINDOWS[v.window].step === 3_600_000 ? "hour" : "UTC day";
  return (
    <Layout title="Usage" session={v.session} section="usage" charts>
      <div class="heading">
        <h1>Usage</h1>
        <nav class="windows" aria-label="window">
          {(Object.keys(WINDOWS) as WindowName[]).map((name) => (
            <a href={linkWith("/dashboard", v.query, { window: name })} aria-current={name === v.window ? "true" : undefined}>
              {name}
            </a>
          ))}
        </nav>
      </div>
      <form class="filters" method="get" action="/dashboard">
        <input type="hidden" name="window" value={v.window} />
        <label>
          Key
          <select name="key" data-autosubmit>
            <option value="">all keys</option>
            {v.tables.keysSeen.map((id) => (
              <option value={id} selected={id === v.keyId}>
                {label(id)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Model
          <select name="model" data-autosubmit>
            <option value="">all models</option>
            {v.tables.modelsSeen.map((model) => (
              <option value={model} selected={model === v.model}>
                {model || "(none)"}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Apply</button>
        <p class="muted span">
          {utc(v.since)} to {utc(v.until)} UTC, by {step}
        </p>
      </form>

      <section class="cards" aria-label="totals">
        <div class="card">
          <span class="label">Requests</span>
          <span class="value" data-total="requests">
            {compact(totals.requests)}
          </span>
        </div>
        <div class="card">
          <span class="label">Errors</span>
          <span class="value">{compact(totals.errors)}</span>
          <span class="sub">{percent(totals.errors, totals.requests)}</span>
        </div>
        <div class="card">
          <span class="label">Prompt tokens</span>
          <span class="value">{compact(totals.promptTokens)}</span>
          <span class="sub">{compact(totals.cacheReadTokens)} cached</span>
        </div>
        <div class="card">
          <span class="label">Completion tokens</span>
          <span class="value">{compact(totals.completionTokens)}</span>
        </div>
        <div class="card" title="GitHub AI credits as Copilot metered each answer; 1 credit = $0.01">
          <span class="label">AI credits</span>
          <span class="value" data-total="credits">
            {formatCredits(totals.costNanoAiu)}
          </span>
          <span class="sub">
            {formatUsd(totals.costNanoAiu)}
            {totals.costUnknown > 0 ? `, ${num(totals.costUnknown)} without a cost` : ""}
          </span>
        </div>
        <div class="card" title="premium requests × multiplier: billed only on annual Pro/Pro+ plans until they renew">
          <span class="label">Premium requests (legacy)</span>
          <span class="value">{num(totals.premiumRequests)}</span>
        </div>
        <div class="card" data-card="latency" title={LATENCY_NOTE}>
          <span class="label">Latency p50 / p95</span>
          <span class="value">{atMost(totals.p50LatencyMs)}</span>
          <span class="sub">
            p95 {atMost(totals.p95LatencyMs)}, mean {ms(totals.avgLatencyMs)}
          </span>
          <span class="sub note">≤: upper bound of a histogram bucket</span>
        </div>
      </section>

      <section class="charts" id="charts" data-series={`/dashboard/api/usage?${v.query.toString()}`}>
        {CHARTS.map(([name, title]) => (
          <figure class="panel chart">
            <figcaption>{title}</figcaption>
            <div class="plot" data-chart={name} />
          </figure>
        ))}
        <noscript>
          <p class="muted">The charts need JavaScript; the tables below work without it.</p>
        </noscript>
      </section>

      <Quota state={v.quota} />
      <Windows seats={v.windows} />

      <UsageTable caption="By key" param="ks" lines={v.tables.byKey} sort={v.keySort} query={v.query} nameOf={label} />
      <UsageTable caption="By model" param="ms" lines={v.tables.byModel} sort={v.modelSort} query={v.query} nameOf={(m) => m || "(none)"} />
    </Layout>
  );
}
