import { and, count, desc, eq, isNull, lt, or, sql } from "drizzle-orm";
import { type AppDatabase, preparedFor, rowsChanged, type Store } from "~/db";
import { type KeyTier, keys } from "~/db/schema";

/** Every query on the keys table lives here; routes, middleware and the CLI call these by name. */
export type KeyRow = typeof keys.$inferSelect;

export interface NewKey {
  id: string;
  hash: string;
  tier: KeyTier;
  label: string;
  allowedModels: string[];
  rateLimit: number | null;
}

export function insertKey(db: AppDatabase, key: NewKey, now = Date.now()): KeyRow {
  return db
    .insert(keys)
    .values({ ...key, createdAt: now })
    .returning()
    .get();
}

export function listKeys(db: AppDatabase, options: { includeRevoked: boolean }): KeyRow[] {
  const query = db.select().from(keys).orderBy(desc(keys.createdAt));
  return options.includeRevoked ? query.all() : query.where(isNull(keys.revokedAt)).all();
}

export function keyById(db: AppDatabase, id: string): KeyRow | undefined {
  return db.select().from(keys).where(eq(keys.id, id)).get();
}

/** Returns false when the key was already revoked (or does not exist); the row is kept either way. */
export function revokeKey(db: AppDatabase, id: string, now = Date.now()): boolean {
  return (
    rowsChanged(
      db
        .update(keys)
        .set({ revokedAt: now })
        .where(and(eq(keys.id, id), isNull(keys.revokedAt)))
        .run(),
    ) === 1
  );
}

// Hot path: prepared once per connection (see preparedFor in src/db/index.ts).
const byHash = preparedFor((db) =>
  db
    .select()
    .from(keys)
    .where(eq(keys.hash, sql.placeholder("hash")))
    .prepare(),
);
// count(revoked_at) counts only the non-null ones: the revoked keys.
const counts = preparedFor((db) =>
  db
    .select({ total: count(), revoked: count(keys.revokedAt) })
    .from(keys)
    .prepare(),
);

export const keyByHash = (db: AppDatabase, hash: string): KeyRow | undefined => byHash(db).get({ hash });

export interface KeyCounts {
  /** Every row the keys table holds, revoked ones included (rows are never deleted). */
  total: number;
  /** The keys not revoked. */
  active: number;
}

export function keyCounts(db: AppDatabase): KeyCounts {
  const row = counts(db).get();
  const total = row?.total ?? 0;
  return { total, active: total - (row?.revoked ?? 0) };
}

/** One transaction for a whole batch of last-used times; never moves a time backwards. */
export function recordLastUsed(store: Store, used: Map<string, number>): void {
  if (used.size === 0) return;
  store.transaction((tx) => {
    for (const [id, at] of used) {
      tx.update(keys)
        .set({ lastUsedAt: at })
        .where(and(eq(keys.id, id), or(isNull(keys.lastUsedAt), lt(keys.lastUsedAt, at))))
        .run();
    }
  });
}
