import { and, count, desc, eq, gte, isNull, lt, or, sql, sum } from "drizzle-orm";
import { type AppDatabase, preparedFor, rowsChanged, type Store } from "~/db";
import { credentials, type KeyTier, keys, usageHourly } from "~/db/schema";
import { cmd } from "~/lib/command-name";
import { AppError } from "~/lib/errors";

/** Every query on the keys table lives here; routes, middleware and the CLI call these by name. */
export type KeyRow = typeof keys.$inferSelect;

export interface NewKey {
  id: string;
  hash: string;
  tier: KeyTier;
  label: string;
  allowedModels: string[];
  rateLimit: number | null;
  premiumQuota?: number | null;
  budgetNanoAiu?: number | null;
  expiresAt?: number | null;
}

/** What `keys update` (or a dashboard) may change on a key; the secret, tier and history stay. */
export type KeySettings = Partial<Pick<KeyRow, "label" | "allowedModels" | "rateLimit" | "premiumQuota" | "budgetNanoAiu" | "expiresAt">>;

/** Binds a key to a credential (by its label), or unbinds it with `none`; false when the key does not exist or was revoked. */
export function bindKey(db: AppDatabase, id: string, credentialLabel: string): boolean {
  let credentialId: string | null = null;
  if (credentialLabel !== "none") {
    credentialId = db.select({ id: credentials.id }).from(credentials).where(eq(credentials.label, credentialLabel)).get()?.id ?? null;
    if (credentialId === null)
      throw new AppError(`no credential labelled ${credentialLabel}`, `list them with \`${cmd("credentials list")}\`, or pass --credential none`);
  }
  return (
    rowsChanged(
      db
        .update(keys)
        .set({ credentialId })
        .where(and(eq(keys.id, id), isNull(keys.revokedAt)))
        .run(),
    ) === 1
  );
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

/** Every key's label by id, revoked ones too (their past requests still carry them): what /metrics labels series with. */
export function keyLabels(db: AppDatabase): Map<string, string> {
  return new Map(
    db
      .select({ id: keys.id, label: keys.label })
      .from(keys)
      .all()
      .map((k) => [k.id, k.label]),
  );
}

export function keyById(db: AppDatabase, id: string): KeyRow | undefined {
  return db.select().from(keys).where(eq(keys.id, id)).get();
}

/** Applies settings to a key that is not revoked; undefined when there is no such key or it was revoked. */
export function updateKeySettings(db: AppDatabase, id: string, settings: KeySettings): KeyRow | undefined {
  return db
    .update(keys)
    .set(settings)
    .where(and(eq(keys.id, id), isNull(keys.revokedAt)))
    .returning()
    .get();
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

/** A usage_hourly counter that a monthly limit reads: premium requests (--premium-quota) or nano-AIU (--budget). */
type LimitColumn = typeof usageHourly.premiumRequests | typeof usageHourly.costNanoAiu;

/** What a key used of a counter in [from, to): whole hours of usage_hourly. Prepared: read by the limit checks. */
const keySumOf = (column: LimitColumn) =>
  preparedFor((db) =>
    db
      .select({ used: sum(column).mapWith(Number) })
      .from(usageHourly)
      .where(and(eq(usageHourly.keyId, sql.placeholder("keyId")), gte(usageHourly.hour, sql.placeholder("from")), lt(usageHourly.hour, sql.placeholder("to"))))
      .prepare(),
  );
const premiumOfKey = keySumOf(usageHourly.premiumRequests);
const costOfKey = keySumOf(usageHourly.costNanoAiu);

export const premiumUsedBetween = (db: AppDatabase, keyId: string, from: number, to: number): number => premiumOfKey(db).get({ keyId, from, to })?.used ?? 0;
export const costBetween = (db: AppDatabase, keyId: string, from: number, to: number): number => costOfKey(db).get({ keyId, from, to })?.used ?? 0;

/** A counter per key in [from, to), for lists; keys that used none are absent. */
function sumByKey(db: AppDatabase, column: LimitColumn, from: number, to: number): Map<string, number> {
  const rows = db
    .select({ keyId: usageHourly.keyId, used: sum(column).mapWith(Number) })
    .from(usageHourly)
    .where(and(gte(usageHourly.hour, from), lt(usageHourly.hour, to)))
    .groupBy(usageHourly.keyId)
    .all();
  return new Map(rows.map((r) => [r.keyId, r.used ?? 0]));
}

export const premiumUsedByKey = (db: AppDatabase, from: number, to: number) => sumByKey(db, usageHourly.premiumRequests, from, to);
export const costByKey = (db: AppDatabase, from: number, to: number) => sumByKey(db, usageHourly.costNanoAiu, from, to);

/** A key's settings and state, never its secret or hash: what the CLI prints and the audit log keeps. */
export function keyView(row: KeyRow) {
  return {
    id: row.id,
    tier: row.tier,
    label: row.label,
    allowedModels: row.allowedModels,
    rateLimit: row.rateLimit,
    premiumQuota: row.premiumQuota,
    budgetNanoAiu: row.budgetNanoAiu,
    expiresAt: row.expiresAt,
    revokedAt: row.revokedAt,
    credentialId: row.credentialId,
  };
}
