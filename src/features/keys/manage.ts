import type { AppDatabase } from "~/db";
import type { KeyTier } from "~/db/schema";
import { insertKey, type KeyRow, type KeySettings, keyByHash } from "./queries";
import { generateSecret, hashSecret, newKeyId, presentedHash } from "./secret";

/** What a new key is given; everything already checked by the caller (CLI flags or dashboard form). */
export interface KeySpec {
  tier: KeyTier;
  label: string;
  allowedModels: string[];
  rateLimit: number | null;
  premiumQuota?: number | null;
  budgetNanoAiu?: number | null;
  expiresAt?: number | null;
}

/** A new key's spec from checked settings (parseKeySettings): what is not given takes the defaults, no label, every model, no limits, no expiry. */
export function keySpecFrom(tier: KeyTier, settings: KeySettings): KeySpec {
  return {
    tier,
    label: settings.label ?? "",
    allowedModels: settings.allowedModels ?? ["*"],
    rateLimit: settings.rateLimit ?? null,
    premiumQuota: settings.premiumQuota ?? null,
    budgetNanoAiu: settings.budgetNanoAiu ?? null,
    expiresAt: settings.expiresAt ?? null,
  };
}

/**
 * Creates a key: the one code path of `keys create`, `claude-code --create-key` and the dashboard. The
 * secret is returned once, for the caller to show; only its SHA-256 is stored.
 */
export function createKey(db: AppDatabase, spec: KeySpec, now = Date.now()): { row: KeyRow; secret: string } {
  const secret = generateSecret();
  const row = insertKey(db, { id: newKeyId(), hash: hashSecret(secret), ...spec }, now);
  return { row, secret };
}

/** The key a presented secret names, read from the store (no cache, no keyless mode): undefined when none. */
export function keyForSecret(db: AppDatabase, secret: string): KeyRow | undefined {
  const hash = presentedHash(secret);
  return hash === undefined ? undefined : keyByHash(db, hash);
}
