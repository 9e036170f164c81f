import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "~/app-env";
import type { AppDatabase, Store } from "~/db";
import { ApiFailure, answerFailure } from "~/lib/api-error";
import { formatCredits, formatUsd, NANO_AIU_PER_CREDIT } from "~/lib/credits";
import { type CommittedUse, MonthlyUse, monthOf, type PremiumUsageOptions, type SharedLimit } from "./premium-quota";
import { costBetween, costByKey } from "./queries";
import { budgetText, utcTime } from "./settings";

/** Before any cost of a model was seen: a conservative guess, $0.10 (a long Claude prompt costs about that). */
export const UNKNOWN_MODEL_COST = 10 * NANO_AIU_PER_CREDIT;
/** Costs remembered per model: the estimate is the largest of these. */
const RECENT_COSTS = 16;

/**
 * What a request to a model is expected to cost, from what Copilot metered for the last
 * requests to it (the largest of the last 16: a hold should rather be too big than too small).
 */
export class CostEstimates {
  private readonly recent = new Map<string, { costs: number[]; next: number; max: number }>();

  /** The estimate for a model (its catalog id, or the name asked for); UNKNOWN_MODEL_COST before any was seen. */
  estimate(model: string | null): number {
    return (model !== null && this.recent.get(model)?.max) || UNKNOWN_MODEL_COST;
  }

  /** The largest estimate of any model: what a hold taken before the model is known holds. */
  largest(): number {
    let largest = 0;
    for (const entry of this.recent.values()) largest = Math.max(largest, entry.max);
    return largest || UNKNOWN_MODEL_COST;
  }

  observe(model: string, cost: number): void {
    let entry = this.recent.get(model);
    if (!entry) {
      entry = { costs: [], next: 0, max: 0 };
      this.recent.set(model, entry);
    }
    entry.costs[entry.next] = cost;
    entry.next = (entry.next + 1) % RECENT_COSTS;
    entry.max = Math.max(...entry.costs);
  }
}

/** A committed event, as the budget learns from it: its cost and the model that answered. */
export type CommittedCost = CommittedUse & { model?: string | null; upstreamModel?: string | null };

/**
 * Each key's spend this calendar month (UTC) in nano-AIU, kept current by commits; what requests
 * in flight hold; and each model's expected cost, learned from the same commits.
 */
export class CreditBudget extends MonthlyUse {
  readonly estimates = new CostEstimates();

  constructor(store: Store, options: PremiumUsageOptions = {}) {
    super(store, costBetween, (event) => event.costNanoAiu, options);
  }

  override committed(events: readonly CommittedCost[]): void {
    super.committed(events);
    for (const event of events) {
      const model = event.upstreamModel ?? event.model;
      if (model && typeof event.costNanoAiu === "number") this.estimates.observe(model, event.costNanoAiu);
    }
  }
}

/** A --budget several gateways share (PostgreSQL): its check and hold in one round trip, with the estimates this gateway learned. */
export interface SharedBudget extends SharedLimit {
  readonly estimates: CostEstimates;
}

/** Each key's spend this calendar month (UTC), for lists (`keys list`, the dashboard). */
export function spentThisMonth(db: AppDatabase, now = Date.now()): Map<string, number> {
  const month = monthOf(now);
  return costByKey(db, month.start, month.end);
}

const credits = (nano: number) => `${formatCredits(nano)} credits (${formatUsd(nano)})`;

/** Why a key with a budget may not send now (spent, or held by requests in flight), or undefined when it may. */
function refusal(keyId: string, limit: number, used: number, reserved: number, now: number): ApiFailure | undefined {
  if (used + reserved < limit) return undefined;
  const raise = `To raise it: \`copilot-api keys update ${keyId} --budget ${budgetText(limit * 2)}\``;
  if (used < limit) {
    return new ApiFailure(
      429,
      {
        message: `budget of key ${keyId} is held by requests in flight: ${credits(used)} spent this month (UTC) and ${credits(reserved)} held by requests still running, of ${credits(limit)}; retry when they finish. ${raise}`,
        type: "rate_limit_error",
        code: "budget_exceeded",
      },
      { "retry-after": "1" },
    );
  }
  const resets = monthOf(now).end;
  return new ApiFailure(
    429,
    {
      message: `budget of key ${keyId} reached: ${credits(used)} spent of ${credits(limit)} this month (UTC); it resets at ${utcTime(resets)}. ${raise}`,
      type: "rate_limit_error",
      code: "budget_exceeded",
    },
    // Retrying within seconds cannot help: tell SDKs not to.
    { "retry-after": String(Math.ceil((resets - now) / 1000)), "x-should-retry": "false" },
  );
}

/**
 * 429 `budget_exceeded` once a key with a --budget has spent it this calendar month (UTC), until
 * the 1st. Requests in flight count too: just before a request is sent (its model known), it is
 * refused if what is spent plus what requests in flight hold leaves nothing, else it holds its
 * model's expected cost until its event, with Copilot's real cost, is committed. So concurrent
 * requests pass a budget by at most what the last ones cost beyond their estimates.
 */
export function creditBudget(budget: CreditBudget | SharedBudget): MiddlewareHandler<AppEnv> {
  return async function creditBudget(c, next) {
    const key = c.get("apiKey");
    const limit = key.budgetNanoAiu;
    if (limit === null) return next();
    const draft = c.get("event");
    if (!(budget instanceof CreditBudget)) {
      // Shared across gateways (PostgreSQL): one round trip, before the model is known, holding the largest estimate.
      const now = budget.now();
      const { used, reserved, hold } = await budget.take(key.id, limit, budget.estimates.largest(), now);
      const refused = hold ? undefined : refusal(key.id, limit, used, reserved, now);
      if (refused) {
        draft.error = "budget_exceeded";
        return answerFailure(c, refused);
      }
      draft.budgetHold = hold ?? null;
      return next();
    }
    // Spent already: refused before the body is read.
    const spent = refusal(key.id, limit, budget.used(key.id), 0, budget.now());
    if (spent) {
      draft.error = "budget_exceeded";
      return answerFailure(c, spent);
    }
    draft.chargeBudget = (model) => {
      const estimate = budget.estimates.estimate(model);
      // A second send of the same request (a side request): the hold covers the larger estimate.
      if (draft.budgetHold) return draft.budgetHold.resize(Math.max(draft.budgetHold.held, estimate));
      const now = budget.now();
      const refused = refusal(key.id, limit, budget.used(key.id, now), budget.inFlight.reserved(key.id), now);
      if (refused) {
        draft.error = "budget_exceeded";
        throw refused;
      }
      draft.budgetHold = budget.inFlight.reserve(key.id, estimate);
    };
    await next();
  };
}
