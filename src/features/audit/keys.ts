import type { Store } from "~/db";
import {
  createKey,
  type KeyRow,
  type KeySettingsInput,
  type KeySpec,
  keyById,
  keyForSecret,
  keyView,
  listKeys,
  premiumUsedThisMonth,
  revokeKey,
  updateKey,
} from "~/features/keys";
import type { AuditActor } from "./actors";
import { appendAudit } from "./queries";

/** Creates a key and its audit entry in one transaction (CLI, claude-code, dashboard): a key never exists unaudited. */
export function createKeyAudited(store: Store, spec: KeySpec, actor: AuditActor, now = Date.now()): { row: KeyRow; secret: string } {
  return store.transaction(() => {
    const created = createKey(store.db, spec, now);
    appendAudit(store.db, { ...actor, action: "key.created", target: created.row.id, after: keyView(created.row), ts: now });
    return created;
  });
}

/**
 * The keys as the admin plane (the dashboard) reads and changes them, whatever the store:
 * each change written with its audit entry. SQLite here; PostgreSQL in keys' cli-pg.ts,
 * which also tells every gateway (NOTIFY).
 */
export interface KeyAdmin {
  list(includeRevoked: boolean): Promise<KeyRow[]>;
  get(id: string): Promise<KeyRow | undefined>;
  /** The key a presented secret names (looked up by its SHA-256). */
  bySecret(secret: string): Promise<KeyRow | undefined>;
  /** Premium requests per key this calendar month (UTC). */
  premiumUsedThisMonth(now: number): Promise<Map<string, number>>;
  create(spec: KeySpec, actor: AuditActor, now: number): Promise<{ row: KeyRow; secret: string }>;
  /** `keys update`'s checks; throws an AppError (nothing written) for bad input or a revoked key. */
  update(id: string, input: KeySettingsInput, actor: AuditActor, now: number): Promise<{ before: KeyRow; after: KeyRow }>;
  /** The key as revoked now; undefined when there is no such key or it was already revoked (nothing written). */
  revoke(id: string, actor: AuditActor, now: number): Promise<{ before: KeyRow; after: KeyRow } | undefined>;
}

export function sqliteKeyAdmin(store: Store): KeyAdmin {
  const { db } = store;
  return {
    list: async (includeRevoked) => listKeys(db, { includeRevoked }),
    get: async (id) => keyById(db, id),
    bySecret: async (secret) => keyForSecret(db, secret),
    premiumUsedThisMonth: async (now) => premiumUsedThisMonth(db, now),
    create: async (spec, actor, now) => createKeyAudited(store, spec, actor, now),
    update: async (id, input, actor, now) => {
      const changed = updateKey(store, id, input, now);
      appendAudit(db, { ...actor, action: "key.updated", target: id, before: keyView(changed.before), after: keyView(changed.after), ts: now });
      return changed;
    },
    revoke: async (id, actor, now) =>
      store.transaction(() => {
        const before = keyById(db, id);
        if (!before || !revokeKey(db, id, now)) return undefined;
        const after = keyById(db, id) ?? before;
        appendAudit(db, { ...actor, action: "key.revoked", target: id, before: keyView(before), after: keyView(after), ts: now });
        return { before, after };
      }),
  };
}
