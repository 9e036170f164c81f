PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_events` (
	`id` integer PRIMARY KEY NOT NULL,
	`ts` integer NOT NULL,
	`key_id` text NOT NULL,
	`route` text NOT NULL,
	`model` text,
	`upstream_model` text,
	`stream` integer DEFAULT false NOT NULL,
	`prompt_tokens` integer,
	`completion_tokens` integer,
	`cache_read_tokens` integer,
	`cache_creation_tokens` integer,
	`reasoning_tokens` integer,
	`initiator` text,
	`premium_multiplier` real,
	`premium_requests` real DEFAULT 0 NOT NULL,
	`usage_unknown` integer DEFAULT false NOT NULL,
	`status` integer NOT NULL,
	`latency_ms` integer NOT NULL,
	`error` text,
	CONSTRAINT "events_error_known" CHECK("__new_events"."error" IS NULL OR "__new_events"."error" IN ('bad_request', 'unauthorized', 'forbidden', 'payload_too_large', 'rate_limited', 'quota_exceeded', 'not_authenticated', 'upstream_rate_limited', 'upstream_error', 'client_aborted', 'internal_error'))
);
--> statement-breakpoint
INSERT INTO `__new_events`("id", "ts", "key_id", "route", "model", "upstream_model", "stream", "prompt_tokens", "completion_tokens", "usage_unknown", "status", "latency_ms", "error") SELECT "id", "ts", "key_id", "route", "model", "upstream_model", "stream", "prompt_tokens", "completion_tokens", "usage_unknown", "status", "latency_ms", "error" FROM `events`;--> statement-breakpoint
DROP TABLE `events`;--> statement-breakpoint
ALTER TABLE `__new_events` RENAME TO `events`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `events_ts_idx` ON `events` (`ts`);--> statement-breakpoint
CREATE TABLE `__new_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`hash` text NOT NULL,
	`tier` text DEFAULT 'client' NOT NULL,
	`label` text DEFAULT '' NOT NULL,
	`allowed_models` text DEFAULT '["*"]' NOT NULL,
	`rate_limit` integer,
	`created_at` integer NOT NULL,
	`last_used_at` integer,
	`revoked_at` integer,
	`premium_quota` integer,
	`expires_at` integer,
	CONSTRAINT "keys_tier_valid" CHECK("__new_keys"."tier" IN ('admin', 'client')),
	CONSTRAINT "keys_allowed_models_json" CHECK(json_valid("__new_keys"."allowed_models") AND json_type("__new_keys"."allowed_models") = 'array'),
	CONSTRAINT "keys_rate_limit_positive" CHECK("__new_keys"."rate_limit" IS NULL OR "__new_keys"."rate_limit" > 0),
	CONSTRAINT "keys_premium_quota_positive" CHECK("__new_keys"."premium_quota" IS NULL OR "__new_keys"."premium_quota" > 0)
);
--> statement-breakpoint
INSERT INTO `__new_keys`("id", "hash", "tier", "label", "allowed_models", "rate_limit", "created_at", "last_used_at", "revoked_at") SELECT "id", "hash", "tier", "label", "allowed_models", "rate_limit", "created_at", "last_used_at", "revoked_at" FROM `keys`;--> statement-breakpoint
DROP TABLE `keys`;--> statement-breakpoint
ALTER TABLE `__new_keys` RENAME TO `keys`;--> statement-breakpoint
CREATE UNIQUE INDEX `keys_hash_unique` ON `keys` (`hash`);--> statement-breakpoint
ALTER TABLE `usage_hourly` ADD `cache_read_tokens` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `usage_hourly` ADD `cache_creation_tokens` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `usage_hourly` ADD `reasoning_tokens` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `usage_hourly` ADD `premium_requests` real DEFAULT 0 NOT NULL;