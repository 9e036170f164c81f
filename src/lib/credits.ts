/**
 * GitHub AI credits, the unit Copilot bills in since 2026-06-01: Copilot meters each answer in
 * nano-AIU (copilot_usage.total_nano_aiu). Costs are kept and summed as integer nano-AIU (exact),
 * and shown as credits and US dollars.
 */
export const NANO_AIU_PER_CREDIT = 1_000_000_000;
/** 1 credit = US$0.01. */
export const NANO_AIU_PER_USD = 100 * NANO_AIU_PER_CREDIT;

export const creditsOf = (nanoAiu: number) => nanoAiu / NANO_AIU_PER_CREDIT;
export const usdOf = (nanoAiu: number) => nanoAiu / NANO_AIU_PER_USD;

/** For tables and cards: four decimals, or two significant digits for a cost below that. */
function decimals(value: number): string {
  if (value === 0 || Math.abs(value) >= 0.0001) return value.toFixed(4);
  return value.toPrecision(2);
}

export const formatCredits = (nanoAiu: number) => decimals(creditsOf(nanoAiu));
export const formatUsd = (nanoAiu: number) => `$${decimals(usdOf(nanoAiu))}`;
