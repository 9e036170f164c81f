import { type AppError, describeError } from "~/lib/errors";
import { textTable } from "~/lib/table";
import { type Clock, systemClock } from "~/upstream/clock";
import type { ClientIdentity, UpstreamUrls } from "~/upstream/config";
import { GithubTokenRejected, REJECTION_MEMORY_MS } from "~/upstream/copilot-token";
import { type CopilotUser, fetchCopilotUser, type QuotaSnapshot } from "~/upstream/copilot-user";

/** One of Copilot's counters. `used` counts within the entitlement; `overage` what went past it. */
export interface QuotaLine {
  unlimited: boolean;
  /** null when unlimited. */
  entitlement: number | null;
  used: number | null;
  remaining: number | null;
  percentRemaining: number | null;
  overage: number;
  overagePermitted: boolean;
}

export interface QuotaReport {
  /** copilot_plan, e.g. individual_pro, business. */
  plan: string | null;
  /** When the counters reset (GitHub's quota_reset_date, a UTC day). */
  resetDate: string | null;
  premiumInteractions: QuotaLine | null;
  chat: QuotaLine | null;
  completions: QuotaLine | null;
  /** When GitHub was asked (answers are cached for a minute). */
  fetchedAt: string;
}

export const QUOTA_NAMES = { premiumInteractions: "premium interactions", chat: "chat", completions: "completions" } as const;

const num = (value: unknown): number | null => (typeof value === "number" && Number.isFinite(value) ? value : null);
const round2 = (value: number) => Math.round(value * 100) / 100;
/** Strings from GitHub are echoed bounded. */
const text = (value: unknown): string | null => (typeof value === "string" && value ? value.slice(0, 100) : null);

function line(snapshot: QuotaSnapshot | undefined): QuotaLine | null {
  if (typeof snapshot !== "object" || snapshot === null) return null;
  const overage = num(snapshot.overage_count) ?? 0;
  const overagePermitted = snapshot.overage_permitted === true;
  const percentRemaining = num(snapshot.percent_remaining);
  if (snapshot.unlimited === true) {
    return { unlimited: true, entitlement: null, used: null, remaining: null, percentRemaining, overage, overagePermitted };
  }
  const entitlement = num(snapshot.entitlement);
  // quota_remaining keeps the fractions that model multipliers below 1 leave.
  const remaining = num(snapshot.quota_remaining) ?? num(snapshot.remaining);
  const used = entitlement !== null && remaining !== null ? round2(Math.max(0, entitlement - remaining)) : null;
  return { unlimited: false, entitlement, used, remaining: remaining === null ? null : round2(remaining), percentRemaining, overage, overagePermitted };
}

/** GitHub's copilot_internal/user answer, reduced to the plan, its counters and the reset date. */
export function summarize(user: CopilotUser, fetchedAt: Date = new Date()): QuotaReport {
  const snapshots = user.quota_snapshots ?? {};
  return {
    plan: text(user.copilot_plan),
    resetDate: text(user.quota_reset_date) ?? text(user.quota_reset_date_utc),
    premiumInteractions: line(snapshots.premium_interactions),
    chat: line(snapshots.chat),
    completions: line(snapshots.completions),
    fetchedAt: fetchedAt.toISOString(),
  };
}

export function formatQuota(report: QuotaReport): string {
  const header = ["QUOTA", "ENTITLEMENT", "USED", "REMAINING", "LEFT %", "OVERAGE"];
  const show = (n: number | null) => (n === null ? "-" : String(n));
  const rows = (Object.keys(QUOTA_NAMES) as (keyof typeof QUOTA_NAMES)[]).map((name) => {
    const q = report[name];
    if (!q) return [QUOTA_NAMES[name], "-", "-", "-", "-", "-"];
    if (q.unlimited) return [QUOTA_NAMES[name], "unlimited", "-", "-", "-", "-"];
    return [
      QUOTA_NAMES[name],
      show(q.entitlement),
      show(q.used),
      show(q.remaining),
      show(q.percentRemaining),
      `${q.overage}${q.overagePermitted ? "" : " (not permitted)"}`,
    ];
  });
  return [`plan ${report.plan ?? "(unknown)"}, resets ${report.resetDate ?? "(unknown)"}`, textTable(header, rows, { numeric: true })].join("\n");
}

export const QUOTA_CACHE_MS = 60_000;

/**
 * Copilot's own counters for the GitHub token, asked of GitHub at most once a
 * minute (concurrent callers share one request). A refused GitHub token is
 * remembered for a minute too.
 */
export class QuotaSource {
  private cached?: { report: QuotaReport; at: number };
  private inflight?: Promise<QuotaReport>;
  private rejected?: { error: AppError; until: number };
  private readonly clock: Clock;

  constructor(
    private readonly urls: UpstreamUrls,
    private readonly githubToken: string,
    private readonly options: { clock?: Clock; identity?: ClientIdentity; cacheMs?: number } = {},
  ) {
    this.clock = options.clock ?? systemClock;
  }

  get(): Promise<QuotaReport> {
    const now = this.clock.now();
    if (this.cached && now - this.cached.at < (this.options.cacheMs ?? QUOTA_CACHE_MS)) return Promise.resolve(this.cached.report);
    if (this.rejected && now < this.rejected.until) return Promise.reject(this.rejected.error);
    this.inflight ??= this.fetch().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async fetch(): Promise<QuotaReport> {
    const at = this.clock.now();
    try {
      const report = summarize(await fetchCopilotUser(this.urls, this.githubToken, this.options.identity));
      this.cached = { report, at };
      return report;
    } catch (error) {
      if (error instanceof GithubTokenRejected) this.rejected = { error, until: this.clock.now() + REJECTION_MEMORY_MS };
      throw error;
    }
  }
}

/** Each stored credential's counters (or why they could not be read), asked of GitHub with its own token: from the SQLite file, or the PostgreSQL store of `databaseUrl`. */
export type CredentialQuotas = (
  store: { dbPath: string; databaseUrl?: string },
  urls: UpstreamUrls,
  env: Record<string, string | undefined>,
) => Promise<{ label: string; id: string; report?: QuotaReport; error?: string }[]>;

/** Counters for one GitHub token, or the error that stopped them, as a line to print. */
export async function quotaOf(urls: UpstreamUrls, token: string): Promise<{ report?: QuotaReport; error?: string }> {
  try {
    return { report: summarize(await fetchCopilotUser(urls, token)) };
  } catch (error) {
    return { error: describeError(error) };
  }
}
