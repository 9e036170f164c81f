/** The keys feature's public face: what the server, the boot and other features use. */

export { CreditBudget, creditBudget, type SharedBudget } from "./budget";
export { crossSiteGuard, hostGuard } from "./guards";
export { LastUsedTracker, noteLastUsed } from "./last-used";
export { createKey, type KeySpec, keyForSecret, keySpecFrom } from "./manage";
export { announcePolicy, type KeyPolicy } from "./policy";
export { PremiumUsage, premiumQuota, premiumUsedThisMonth, type SharedLimit } from "./premium-quota";
export { type KeyRow, keyById, keyLabels, keyView, listKeys, revokeKey } from "./queries";
export { RateLimiter, rateLimit, type SharedRateLimiter } from "./rate-limit";
export { requireAdmin } from "./require-admin";
export { presentsAdminKey, resolveKey } from "./resolve-key";
export { KeyResolver, type ResolvedKey } from "./resolver";
export { type KeySettingsInput, keySettingsText, LABEL_MAX, parseKeySettings, updateKey } from "./settings";
