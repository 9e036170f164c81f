import type { Store } from "~/db";
import { credentialLabels } from "~/features/credentials";
import { listKeys } from "~/features/keys";
import { type PartsQuery, readUsageParts, type UsagePart } from "./queries";
import { UsageReader } from "./read-model";

/**
 * Usage as the admin plane reads it (/admin/usage, the dashboard, `usage`), whatever the
 * store: the parts of a window, which read-model.ts folds, and the names of what they group.
 * SQLite here; PostgreSQL in pg.ts.
 */
export interface UsageStore {
  parts(query: PartsQuery): Promise<UsagePart[]>;
  /** The dashboard's window, by hour or UTC day: settled days may come from a cache. */
  window(query: Pick<PartsQuery, "since" | "step">, now: number): Promise<UsagePart[]>;
  /** Each key's label, or each credential's, by id. */
  labels(of: "key" | "credential"): Promise<Map<string, string>>;
}

export function sqliteUsage(store: Store): UsageStore {
  const reader = new UsageReader(store);
  return {
    parts: async (query) => readUsageParts(store.db, query),
    window: async (query, now) => reader.read(query, now),
    labels: async (of) =>
      new Map(of === "key" ? listKeys(store.db, { includeRevoked: true }).map((k) => [k.id, k.label] as const) : credentialLabels(store.db)),
  };
}
