// The single source of the schema. Change a table here, run
// `bun run db:generate`, and commit the file it writes under drizzle/.
import { sql } from "drizzle-orm";
import { blob, check, index, integer, primaryKey, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const KEY_TIERS = ["admin", "client"] as const;
export type KeyTier = (typeof KEY_TIERS)[number];

export const CREDENTIAL_KINDS = ["oauth", "pat"] as const;
export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];
export const CREDENTIAL_STATES = ["ok", "refused", "exhausted"] as const;
export type CredentialState = (typeof CREDENTIAL_STATES)[number];

/**
 * GitHub credentials, each its own Copilot seat: keys bound to one spend that seat.
 * The token is sealed (AES-256-GCM, see lib/secret-box.ts) under a key file kept
 * beside the database, never in it: a backup or a replica holds only ciphertext.
 */
export const credentials = sqliteTable(
  "credentials",
  {
    /** Short public id (`cred_…`): recorded on events, the sealed token's associated data. */
    id: text("id").primaryKey(),
    label: text("label").notNull().unique(),
    /** oauth: a device-flow token (`auth --label`); pat: a fine-grained personal access token. */
    kind: text("kind", { enum: CREDENTIAL_KINDS }).notNull(),
    githubLogin: text("github_login"),
    /** Copilot plan as GitHub names it (copilot_plan), when known. */
    plan: text("plan"),
    /** The sealed GitHub token. */
    tokenSealed: blob("token_sealed", { mode: "buffer" }).notNull(),
    /** ok, refused (GitHub refused the token), exhausted (a usage window ran out). */
    state: text("state", { enum: CREDENTIAL_STATES }).notNull().default("ok"),
    /** Unix milliseconds since the state holds. */
    stateSince: integer("state_since").notNull(),
    createdAt: integer("created_at").notNull(),
    lastUsedAt: integer("last_used_at"),
  },
  (t) => [
    check("credentials_kind_known", sql`${t.kind} IN (${sql.raw(CREDENTIAL_KINDS.map((k) => `'${k}'`).join(", "))})`),
    check("credentials_state_known", sql`${t.state} IN (${sql.raw(CREDENTIAL_STATES.map((k) => `'${k}'`).join(", "))})`),
  ],
);
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
    /** Premium requests per calendar month (UTC); null means no quota. */
    premiumQuota: integer("premium_quota"),
    /** Unix milliseconds after which the key stops working; null means never. */
    expiresAt: integer("expires_at"),
    /** The credential (Copilot seat) this key's requests go to; null: the default GitHub token, or the pool. Removing a credential unbinds its keys first. */
    credentialId: text("credential_id").references(() => credentials.id),
    /** GitHub AI credits this key may spend per calendar month (UTC), in nano-AIU (1 credit = 1e9); null means no budget. No CHECK: it would rebuild keys; settings.ts is the one path that writes it. */
    budgetNanoAiu: integer("budget_nano_aiu"),
  },
  (t) => [
    check("keys_tier_valid", sql`${t.tier} IN ('admin', 'client')`),
    check("keys_allowed_models_json", sql`json_valid(${t.allowedModels}) AND json_type(${t.allowedModels}) = 'array'`),
    check("keys_rate_limit_positive", sql`${t.rateLimit} IS NULL OR ${t.rateLimit} > 0`),
    check("keys_premium_quota_positive", sql`${t.premiumQuota} IS NULL OR ${t.premiumQuota} > 0`),
  ],
);

/** The short, fixed vocabulary of what went wrong with a request; never a body. */
export const EVENT_ERRORS = [
  "bad_request",
  "unauthorized",
  "forbidden",
  "payload_too_large",
  "rate_limited",
  "quota_exceeded",
  /** A key's monthly credit budget (--budget) is spent, or held by requests in flight. */
  "budget_exceeded",
  /** Copilot's session or weekly window is exhausted: answered by the gateway until its reset, or refused by Copilot. */
  "window_exhausted",
  /** The window is past the share --reserve-window keeps for admin keys. */
  "window_reserved",
  "not_authenticated",
  "upstream_rate_limited",
  "upstream_error",
  "client_aborted",
  "internal_error",
] as const;
export type EventError = (typeof EVENT_ERRORS)[number];

export const INITIATORS = ["user", "agent"] as const;

/** One row per proxied request. key_id has no foreign key so sentinels like __noauth__ fit. */
export const events = sqliteTable(
  "events",
  {
    id: integer("id").primaryKey(),
    /** Unix milliseconds when the request arrived. */
    ts: integer("ts").notNull(),
    keyId: text("key_id").notNull(),
    route: text("route").notNull(),
    /** The model the client asked for. */
    model: text("model"),
    /** The model Copilot says answered. */
    upstreamModel: text("upstream_model"),
    stream: integer("stream", { mode: "boolean" }).notNull().default(false),
    promptTokens: integer("prompt_tokens"),
    completionTokens: integer("completion_tokens"),
    /** Prompt tokens Copilot served from its cache (OpenAI cached_tokens, Anthropic cache_read_input_tokens). */
    cacheReadTokens: integer("cache_read_tokens"),
    /** Prompt tokens written to the cache (Anthropic cache_creation_input_tokens). */
    cacheCreationTokens: integer("cache_creation_tokens"),
    /** Completion tokens spent thinking (reasoning_tokens). */
    reasoningTokens: integer("reasoning_tokens"),
    /** The X-Initiator the gateway sent: only `user` requests are billed as premium. */
    initiator: text("initiator", { enum: INITIATORS }),
    /** The model's premium multiplier in the catalog at the time; null when unknown or not premium. */
    premiumMultiplier: real("premium_multiplier"),
    /** Premium requests this request cost: the multiplier for a user-initiated request to a premium model, else 0. */
    premiumRequests: real("premium_requests").notNull().default(0),
    /** The response carried no usage block (errors, cut streams). */
    usageUnknown: integer("usage_unknown", { mode: "boolean" }).notNull().default(false),
    /** What Copilot metered for the answer (copilot_usage.total_nano_aiu; 1 AI credit = 1e9); null when it sent none: unknown, never zero. */
    costNanoAiu: integer("cost_nano_aiu"),
    /** Copilot's copilot_usage.token_details as compact JSON ([{ token_type, token_count, … }]), bounded; null when absent. */
    tokenDetails: text("token_details"),
    status: integer("status").notNull(),
    latencyMs: integer("latency_ms").notNull(),
    error: text("error", { enum: EVENT_ERRORS }),
    /** The credential whose seat answered; null for the default GitHub token. No foreign key: events outlive credentials. */
    credentialId: text("credential_id"),
    /** The event of the request that caused this one (a web search the gateway ran for it); null for a client's own request. No foreign key: retention deletes by age. */
    parentEventId: integer("parent_event_id"),
  },
  (t) => [
    // Retention deletes by age, and reports read the newest partial hour by time.
    index("events_ts_idx").on(t.ts),
    check("events_error_known", sql`${t.error} IS NULL OR ${t.error} IN (${sql.raw(EVENT_ERRORS.map((e) => `'${e}'`).join(", "))})`),
  ],
);

/**
 * Hourly totals per key, model and credential, kept in the same transaction as the events
 * they count, so usage reports over months read a few thousand rows instead of
 * scanning millions of events.
 */
export const usageHourly = sqliteTable(
  "usage_hourly",
  {
    /** Unix milliseconds of the start of the UTC hour. */
    hour: integer("hour").notNull(),
    keyId: text("key_id").notNull(),
    /** The requested model; '' when the request named none. */
    model: text("model").notNull(),
    /** The credential whose seat answered; '' for the default GitHub token (part of the key, so never null). */
    credentialId: text("credential_id").notNull().default(""),
    requests: integer("requests").notNull().default(0),
    errors: integer("errors").notNull().default(0),
    promptTokens: integer("prompt_tokens").notNull().default(0),
    completionTokens: integer("completion_tokens").notNull().default(0),
    cacheReadTokens: integer("cache_read_tokens").notNull().default(0),
    cacheCreationTokens: integer("cache_creation_tokens").notNull().default(0),
    reasoningTokens: integer("reasoning_tokens").notNull().default(0),
    premiumRequests: real("premium_requests").notNull().default(0),
    usageUnknown: integer("usage_unknown").notNull().default(0),
    /** Sum of the known costs in nano-AIU. */
    costNanoAiu: integer("cost_nano_aiu").notNull().default(0),
    /** Requests that reached Copilot and came back without a cost (older backends, errors, cut streams). */
    costUnknown: integer("cost_unknown").notNull().default(0),
    latencyMsSum: integer("latency_ms_sum").notNull().default(0),
    latencyMsMax: integer("latency_ms_max").notNull().default(0),
    // Requests by latency bucket (upper bound in ms): percentiles without scanning events.
    latencyLe100: integer("latency_le_100").notNull().default(0),
    latencyLe250: integer("latency_le_250").notNull().default(0),
    latencyLe500: integer("latency_le_500").notNull().default(0),
    latencyLe1000: integer("latency_le_1000").notNull().default(0),
    latencyLe2500: integer("latency_le_2500").notNull().default(0),
    latencyLe5000: integer("latency_le_5000").notNull().default(0),
    latencyLe10000: integer("latency_le_10000").notNull().default(0),
    latencyLe30000: integer("latency_le_30000").notNull().default(0),
    latencyOver30000: integer("latency_over_30000").notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.hour, t.keyId, t.model, t.credentialId] }),
    // A key's month (--premium-quota, --budget) without scanning every key's hours. Only columns an
    // upsert never changes: a covering index on the sums was rewritten by every request's commit
    // (two more pages per commit, a third of its cost), while the sums are read once and then cached.
    index("usage_hourly_key_hour_idx").on(t.keyId, t.hour),
  ],
);

/**
 * Dashboard sessions: one row per signed-in browser. Only the SHA-256 of the
 * session id is stored (the cookie holds the id), so a copy of the database
 * signs nobody in. A session ends at sign-out (the row is deleted), when its
 * sliding expiry passes, or when its admin key is revoked or expires.
 */
export const sessions = sqliteTable(
  "sessions",
  {
    /** SHA-256 hex of the session id the cookie carries. */
    idHash: text("id_hash").primaryKey(),
    /** The admin key that signed in. */
    keyId: text("key_id")
      .notNull()
      .references(() => keys.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull(),
    /** Unix milliseconds; pushed ahead on use (sliding expiry). */
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("sessions_key_id_idx").on(t.keyId), index("sessions_expires_at_idx").on(t.expiresAt)],
);

/**
 * One-time dashboard sign-in links (`copilot-api dashboard`): a short-lived,
 * single-use token that opens a session for an admin key, so nobody pastes a
 * key into a form. Only the token's SHA-256 is stored; using it deletes the row.
 */
export const signInLinks = sqliteTable("sign_in_links", {
  /** SHA-256 hex of the token the link carries. */
  tokenHash: text("token_hash").primaryKey(),
  /** The admin key the session will belong to. */
  keyId: text("key_id")
    .notNull()
    .references(() => keys.id, { onDelete: "cascade" }),
  createdAt: integer("created_at").notNull(),
  /** Unix milliseconds; the link is refused from then on. */
  expiresAt: integer("expires_at").notNull(),
});

export const RESPONSE_STATUSES = ["completed", "incomplete", "failed"] as const;
export const RESPONSE_ENCODINGS = ["json", "zstd"] as const;
export type ResponseEncoding = (typeof RESPONSE_ENCODINGS)[number];

/**
 * Responses API answers kept for `previous_response_id` and `GET /v1/responses/{id}`: user
 * data, owned by one key (key_id has no foreign key, like events, so __noauth__ fits) and
 * deleted after --responses-retention-days. `body` holds `{ input, response }` as JSON: the
 * input items this request gave (not the expanded chain) and the Response as answered;
 * large bodies are zstd-compressed (`encoding`).
 */
export const responses = sqliteTable(
  "responses",
  {
    /** The Response's id (`resp_…`), ours or Copilot's. */
    id: text("id").primaryKey(),
    keyId: text("key_id").notNull(),
    /** The model the client asked for. */
    model: text("model").notNull(),
    /** Unix milliseconds. */
    createdAt: integer("created_at").notNull(),
    status: text("status", { enum: RESPONSE_STATUSES }).notNull(),
    /** The response this one continued; the chain is walked through it, oldest first. */
    previousResponseId: text("previous_response_id"),
    /** The credential that answered: a pooled conversation continues on the same seat. */
    credentialId: text("credential_id"),
    encoding: text("encoding", { enum: RESPONSE_ENCODINGS }).notNull(),
    body: blob("body", { mode: "buffer" }).notNull(),
  },
  (t) => [
    // Retention deletes by age.
    index("responses_created_at_idx").on(t.createdAt),
    check("responses_status_known", sql`${t.status} IN (${sql.raw(RESPONSE_STATUSES.map((s) => `'${s}'`).join(", "))})`),
    check("responses_encoding_known", sql`${t.encoding} IN (${sql.raw(RESPONSE_ENCODINGS.map((s) => `'${s}'`).join(", "))})`),
  ],
);

/** Every admin action the audit log records; the vocabulary is fixed so filters and reports can rely on it. */
export const AUDIT_ACTIONS = [
  "key.created",
  "key.updated",
  "key.revoked",
  "dashboard.sign_in",
  "dashboard.sign_in_failed",
  "dashboard.sign_out",
  "dashboard.session_ended",
  "retention.run",
  "db.backup",
  "db.restore",
  "db.migrations_applied",
  "credential.added",
  "credential.removed",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** Who acted: an admin key over HTTP, a dashboard session (its key), the CLI (the OS user), or the gateway itself (retention). */
export const AUDIT_ACTOR_KINDS = ["key", "session", "cli", "gateway"] as const;
export type AuditActorKind = (typeof AUDIT_ACTOR_KINDS)[number];

/**
 * The audit log: who did which admin action, from where, what changed, when. Append-only
 * for the gateway: rows are inserted, and deleted only by --audit-retention-days. Secrets
 * never go in before/after (a key's hash neither); client-supplied text is bounded.
 */
export const auditLog = sqliteTable(
  "audit_log",
  {
    id: integer("id").primaryKey(),
    /** Unix milliseconds. */
    ts: integer("ts").notNull(),
    action: text("action", { enum: AUDIT_ACTIONS }).notNull(),
    actorKind: text("actor_kind", { enum: AUDIT_ACTOR_KINDS }).notNull(),
    /** A key id (key, session), the OS user name (cli), or "gateway". */
    actor: text("actor").notNull(),
    /** The client's address (HTTP actions). */
    address: text("address"),
    /** The client's User-Agent, bounded (HTTP actions). */
    userAgent: text("user_agent"),
    /** What the action was on: a key id, a file, a retention target. */
    target: text("target"),
    /** JSON of the state before (updates, revokes), never a secret. */
    before: text("before", { mode: "json" }),
    /** JSON of the state after, or what the action did (rows deleted, migrations applied). */
    after: text("after", { mode: "json" }),
  },
  (t) => [
    // Listing and retention go by time; --key filters by actor or target.
    index("audit_log_ts_idx").on(t.ts),
    check("audit_log_action_known", sql`${t.action} IN (${sql.raw(AUDIT_ACTIONS.map((a) => `'${a}'`).join(", "))})`),
    check("audit_log_actor_kind_known", sql`${t.actorKind} IN (${sql.raw(AUDIT_ACTOR_KINDS.map((a) => `'${a}'`).join(", "))})`),
  ],
);

/**
 * What requests in flight hold of a key's monthly --premium-quota and --budget while several
 * gateways share one PostgreSQL store: each instance sees the others' holds, so a limit holds
 * across them. A hold is deleted once its request's event is committed; one left by a gateway
 * that died is ignored past expires_at. (A single SQLite gateway keeps its holds in memory.)
 */
export const limitHolds = sqliteTable(
  "limit_holds",
  {
    /** Random, per request. */
    id: text("id").primaryKey(),
    keyId: text("key_id").notNull(),
    premiumRequests: real("premium_requests").notNull().default(0),
    costNanoAiu: integer("cost_nano_aiu").notNull().default(0),
    /** Unix milliseconds after which the hold no longer counts (its gateway died). */
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("limit_holds_key_id_idx").on(t.keyId, t.expiresAt)],
);

/**
 * Each key's --rate-limit token bucket while several gateways share one PostgreSQL store, so
 * the limit is one across them. (A single SQLite gateway keeps its buckets in memory.)
 */
export const rateBuckets = sqliteTable("rate_buckets", {
  keyId: text("key_id").primaryKey(),
  /** Requests the key may still send at once, as of `at`. */
  tokens: real("tokens").notNull(),
  /** Unix milliseconds of the last request counted. */
  at: integer("at").notNull(),
});

/**
 * Bytes each key's stored responses take, kept with every write while several gateways share one
 * PostgreSQL store: the per-key cap holds on the database's total, not one gateway's count. An
 * upper bound (retention and deletes do not subtract): passing the cap recounts exactly before
 * anything is trimmed. (A single SQLite gateway counts in memory and leaves this table empty.)
 */
export const responseBytes = sqliteTable("response_bytes", {
  keyId: text("key_id").primaryKey(),
  bytes: integer("bytes").notNull(),
});
