import { formatCredits, formatUsd } from "~/lib/credits";
import { AppError } from "~/lib/errors";
import { textTable } from "~/lib/table";
import { reportOf, reportParts, USAGE_GROUPS, type UsageGroup, type UsageRow } from "./read-model";
import type { UsageStore } from "./store";

export function parseGroup(name: string, value: string): UsageGroup {
  if ((USAGE_GROUPS as readonly string[]).includes(value)) return value as UsageGroup;
  throw new AppError(`${name} ${value} is not one of ${USAGE_GROUPS.join(", ")}`, `pass ${USAGE_GROUPS.map((g) => `${name} ${g}`).join(", ")}`);
}

export interface UsageReport {
  since: string;
  until: string;
  by: UsageGroup;
  key: string | null;
  rows: (UsageRow & { label?: string })[];
  totals: Omit<UsageRow, "group">;
}

/** What a report covers, already parsed (each caller names its own flags or query fields in errors). */
export interface ReportOptions {
  /** The window's start, Unix ms (parseSince): the window is [since, now]. */
  since: number;
  by: UsageGroup;
  key?: string;
}

/** The one report the CLI prints and GET /admin/usage answers. */
export async function buildReport(usage: UsageStore, options: ReportOptions, now = Date.now()): Promise<UsageReport> {
  const { since, by } = options;
  const { rows, totals } = reportOf(await usage.parts(reportParts({ since, by, keyId: options.key })), by);
  // By key or credential, each row says whose it is: ids alone mean nothing to a reader.
  const labels =
    by === "key" ? await usage.labels("key") : by === "credential" ? new Map([["", "default token"], ...(await usage.labels("credential"))]) : undefined;
  const labelled = labels ? rows.map((row) => ({ ...row, label: labels.get(row.group) ?? undefined })) : rows;
  return { since: new Date(since).toISOString(), until: new Date(now).toISOString(), by, key: options.key ?? null, rows: labelled, totals };
}

export function formatReport(report: UsageReport): string {
  const header = [
    report.by.toUpperCase(),
    "REQUESTS",
    "ERRORS",
    "PROMPT TOK",
    "CACHED TOK",
    "COMPLETION TOK",
    "CREDITS",
    "USD",
    "NO COST",
    "PREMIUM*",
    "NO USAGE",
    "AVG MS",
    "P50 MS≤",
    "P95 MS≤",
    "MAX MS",
  ];
  const line = (group: string, r: Omit<UsageRow, "group">) =>
    [
      group || "(none)",
      r.requests,
      r.errors,
      r.promptTokens,
      r.cacheReadTokens,
      r.completionTokens,
      formatCredits(r.costNanoAiu),
      formatUsd(r.costNanoAiu),
      r.costUnknown,
      Math.round(r.premiumRequests * 100) / 100,
      r.usageUnknown,
      r.avgLatencyMs,
      r.p50LatencyMs ?? "-",
      r.p95LatencyMs ?? "-",
      r.maxLatencyMs,
    ].map(String);
  const body = [...report.rows.map((r) => line(r.label && r.group ? `${r.label} (${r.group})` : (r.label ?? r.group), r)), line("TOTAL", report.totals)];
  return [
    `usage from ${report.since} to ${report.until}${report.key ? ` for key ${report.key}` : ""}`,
    textTable(header, body, { numeric: true }),
    "credits: GitHub AI credits as Copilot metered each answer (1 credit = $0.01); NO COST: answers Copilot sent no cost for, not in the sums",
    "* premium requests × multiplier: the legacy unit, billed only on annual Pro/Pro+ plans until they renew",
  ].join("\n");
}
