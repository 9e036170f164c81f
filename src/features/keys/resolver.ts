import type { Store } from "~/db";
import type { KeyTier } from "~/db/schema";
import { modelMatcher } from "./models";
import { type KeyPolicy, passesWithoutKey } from "./policy";
import { type KeyCounts, type KeyRow, keyByHash, keyCounts } from "./queries";
import { hashSecret, isWellFormed, looksLikeKey } from "./secret";

export interface ResolvedKey {
  id: string;
  tier: KeyTier;
  allowedModels: string[];
  rateLimit: number | null;
  /** Premium requests per calendar month (UTC); null: no quota. */
  premiumQuota: number | null;
  /** GitHub AI credits per calendar month (UTC), in nano-AIU; null: no budget. */
  budgetNanoAiu: number | null;
  /** Unix ms from which the key is refused; null: never. */
  expiresAt: number | null;
  /** The credential (Copilot seat) this key is bound to; null: the default GitHub token, or the pool. */
  credentialId: string | null;
  allows(model: string): boolean;
}

export const NO_AUTH_KEY_ID = "__noauth__";

/**
 * What requests carry when they pass without a key: with --no-auth, or on a
 * loopback server whose store has never held a key. The owner, so the host and
 * cross-site guards (./guards.ts) recognise such requests by this id.
 */
export const NO_AUTH_KEY: ResolvedKey = {
  id: NO_AUTH_KEY_ID,
  tier: "admin",
  allowedModels: ["*"],
  rateLimit: null,
  premiumQuota: null,
  budgetNanoAiu: null,
  expiresAt: null,
  credentialId: null,
  allows: () => true,
};

export type Resolution =
  | { key: ResolvedKey }
  | {
      reason: "missing" | "malformed" | "unknown" | "revoked" | "expired" | "no_keys";
      keyId?: string;
      /** For an expired key: when it expired (Unix ms). */
      expiredAt?: number;
      /** The store has never held a key: the same request without a key would have passed. */
      keyless?: boolean;
    };

/**
 * Where keys are read from, synchronously: the SQLite store itself, or (PostgreSQL) an
 * in-memory mirror kept current by LISTEN/NOTIFY and polling (./pg.ts).
 */
export interface KeySource {
  /** Moves whenever a key may have changed; cached lookups are trusted while it stays put. */
  version(): number;
  byHash(hash: string): KeyRow | undefined;
  counts(): KeyCounts;
}

/** The SQLite store as a key source: its change counter, and a prepared lookup by hash. */
const storeKeys = (store: Store): KeySource => ({
  version: () => store.changeCounter(),
  byHash: (hash) => keyByHash(store.db, hash),
  counts: () => keyCounts(store.db),
});

/** Bound on cached lookups, so a flood of well-formed but unknown secrets cannot grow memory. */
const CACHE_LIMIT = 10_000;

/**
 * Turns a presented secret into a key. Lookups are cached by hash, and the
 * cache is only trusted while the store's change counter stays put: a key
 * revoked by any write (the CLI, the dashboard, another process) is refused on
 * the very next request, without the writer invalidating anything.
 * Expiry is compared with the wall clock on every resolution, cached or not, so
 * a key is refused from its expiry time on.
 * A presented secret is always checked (unless --no-auth), whatever the mode.
 */
export class KeyResolver {
  private cache = new Map<string, ResolvedKey | { revokedId: string } | null>();
  private version = Number.NaN;
  /** Read when first needed after the counter moved: a valid cached key never needs them. */
  private counts: KeyCounts | undefined;
  private readonly source: KeySource;

  constructor(
    source: Store | KeySource,
    private readonly policy: KeyPolicy,
    /** Wall clock (Unix ms) for expiry: an expiry is a date. */
    private readonly now: () => number = Date.now,
  ) {
    this.source = "byHash" in source ? source : storeKeys(source);
  }

  /** How many keys the database holds, all and active (as of this call). */
  keyCounts(): KeyCounts {
    this.revalidate();
    this.counts ??= this.source.counts();
    return this.counts;
  }

  resolve(secret: string | undefined): Resolution {
    if (this.policy.authDisabled) return { key: NO_AUTH_KEY };
    if (!secret) {
      const counts = this.keyCounts();
      if (passesWithoutKey(this.policy, counts)) return { key: NO_AUTH_KEY };
      return { reason: counts.active === 0 ? "no_keys" : "missing" };
    }
    this.revalidate();
    // Whether sending no key would have passed: said with a refusal.
    const keyless = () => passesWithoutKey(this.policy, this.keyCounts());
    // Keyless: a placeholder SDKs insist on ("dummy", "sk-…") is no key; anything shaped like ours is checked.
    if (!looksLikeKey(secret) && keyless()) return { key: NO_AUTH_KEY };

    const hash = hashSecret(secret);
    let entry = this.cache.get(hash);
    if (entry === undefined) {
      // Only a miss pays for the checksum; a typo or a foreign token never reaches the database.
      if (!isWellFormed(secret)) return { reason: "malformed", keyless: keyless() };
      entry = toEntry(this.source.byHash(hash));
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(hash, entry);
    }
    if (entry === null) return { reason: "unknown", keyless: keyless() };
    if ("revokedId" in entry) return { reason: "revoked", keyId: entry.revokedId };
    if (entry.expiresAt !== null && this.now() >= entry.expiresAt) return { reason: "expired", keyId: entry.id, expiredAt: entry.expiresAt };
    return { key: entry };
  }

  private revalidate(): void {
    const version = this.source.version();
    if (version === this.version) return;
    this.cache.clear();
    this.counts = undefined;
    this.version = version;
  }
}

function toEntry(row: KeyRow | undefined): ResolvedKey | { revokedId: string } | null {
  if (!row) return null;
  if (row.revokedAt !== null) return { revokedId: row.id };
  return {
    id: row.id,
    tier: row.tier,
    allowedModels: row.allowedModels,
    rateLimit: row.rateLimit,
    premiumQuota: row.premiumQuota,
    budgetNanoAiu: row.budgetNanoAiu,
    expiresAt: row.expiresAt,
    credentialId: row.credentialId,
    allows: modelMatcher(row.allowedModels),
  };
}
