import type { Store } from "~/db";
import type { KeyTier } from "~/db/schema";
import { modelMatcher } from "./models";
import { countActiveKeys, keyByHash, type KeyRow } from "./queries";
import { hashSecret, isWellFormed } from "./secret";

export interface ResolvedKey {
  id: string;
  tier: KeyTier;
  allowedModels: string[];
  rateLimit: number | null;
  allows(model: string): boolean;
}

export const NO_AUTH_KEY_ID = "__noauth__";

/** What requests carry when authentication is off, or on loopback with no key yet: the owner. */
export const NO_AUTH_KEY: ResolvedKey = { id: NO_AUTH_KEY_ID, tier: "admin", allowedModels: ["*"], rateLimit: null, allows: () => true };

export type Resolution =
  /** `open`: let through only because a loopback server has no key yet. */
  | { key: ResolvedKey; open?: boolean }
  | { reason: "missing" | "malformed" | "unknown" | "revoked" | "no_keys"; keyId?: string };

/** Bound on cached lookups, so a flood of well-formed but unknown secrets cannot grow memory. */
const CACHE_LIMIT = 10_000;

/**
 * Turns a presented secret into a key. Lookups are cached by hash, and the
 * cache is only trusted while PRAGMA data_version proves no other process has
 * committed since: a key revoked from the CLI is refused on the very next request.
 */
export class KeyResolver {
  private cache = new Map<string, ResolvedKey | { revokedId: string } | null>();
  private version = Number.NaN;
  private activeKeys = 0;

  constructor(
    private readonly store: Store,
    private readonly policy: {
      /** --no-auth: every request passes as __noauth__. */
      authDisabled: boolean;
      /** Loopback listener: with no active key at all, requests pass as __noauth__. */
      openWhenNoKeys: boolean;
    },
  ) {}

  /** How many active keys the database holds (as of this request). */
  activeKeyCount(): number {
    this.revalidate();
    return this.activeKeys;
  }

  resolve(secret: string | undefined): Resolution {
    if (this.policy.authDisabled) return { key: NO_AUTH_KEY };
    this.revalidate();
    if (this.activeKeys === 0) return this.policy.openWhenNoKeys ? { key: NO_AUTH_KEY, open: true } : { reason: "no_keys" };
    if (!secret) return { reason: "missing" };

    const hash = hashSecret(secret);
    let entry = this.cache.get(hash);
    if (entry === undefined) {
      // Only a miss pays for the checksum; a typo or a foreign token never reaches the database.
      if (!isWellFormed(secret)) return { reason: "malformed" };
      entry = toEntry(keyByHash(this.store.db, hash));
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(hash, entry);
    }
    if (entry === null) return { reason: "unknown" };
    if ("revokedId" in entry) return { reason: "revoked", keyId: entry.revokedId };
    return { key: entry };
  }

  /** Drops the cache; for writes to keys made through this process's own connection. */
  invalidate(): void {
    this.version = Number.NaN;
  }

  private revalidate(): void {
    const version = this.store.dataVersion();
    if (version === this.version) return;
    this.cache.clear();
    this.activeKeys = countActiveKeys(this.store.db);
    this.version = version;
  }
}

function toEntry(row: KeyRow | undefined): ResolvedKey | { revokedId: string } | null {
  if (!row) return null;
  if (row.revokedAt !== null) return { revokedId: row.id };
  return { id: row.id, tier: row.tier, allowedModels: row.allowedModels, rateLimit: row.rateLimit, allows: modelMatcher(row.allowedModels) };
}
