// The single source of the schema. Change a table here, run
// `bun run db:generate`, and commit the file it writes under drizzle/.
import { sql } from "drizzle-orm";
import { check, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const KEY_TIERS = ["admin", "client"] as const;
export type KeyTier = (typeof KEY_TIERS)[number];

/** API keys. Only the SHA-256 of a secret is stored; the plaintext is shown once at creation. */
export const keys = sqliteTable(
  "keys",
  {
    /** Short public id: shown in lists, recorded on events. */
    id: text("id").primaryKey(),
    /** SHA-256 hex of the secret; the unique index makes resolution one B-tree probe. */
    hash: text("hash").notNull().unique(),
    tier: text("tier", { enum: KEY_TIERS }).notNull().default("client"),
    label: text("label").notNull().default(""),
    /** JSON array of model names or globs (claude-*); ["*"] allows every model. */
    allowedModels: text("allowed_models", { mode: "json" }).$type<string[]>().notNull().default(["*"]),
    /** Requests per minute; null means unlimited. */
    rateLimit: integer("rate_limit"),
    createdAt: integer("created_at").notNull(),
    lastUsedAt: integer("last_used_at"),
    revokedAt: integer("revoked_at"),
  },
  (t) => [
    check("keys_tier_valid", sql`${t.tier} IN ('admin', 'client')`),
    check("keys_allowed_models_json", sql`json_valid(${t.allowedModels}) AND json_type(${t.allowedModels}) = 'array'`),
    check("keys_rate_limit_positive", sql`${t.rateLimit} IS NULL OR ${t.rateLimit} > 0`),
  ],
);
