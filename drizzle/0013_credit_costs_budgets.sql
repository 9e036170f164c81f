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
	`cost_nano_aiu` integer,
	`token_details` text,
	`status` integer NOT NULL,
	`latency_ms` integer NOT NULL,
	`error` text,
	`credential_id` text,
	`parent_event_id` integer,
	CONSTRAINT "events_error_known" CHECK("__new_events"."error" IS NULL OR "__new_events"."error" IN ('bad_request', 'unauthorized', 'forbidden', 'payload_too_large', 'rate_limited', 'quota_exceeded', 'budget_exceeded', 'window_exhausted', 'window_reserved', 'not_authenticated', 'upstream_rate_limited', 'upstream_error', 'client_aborted', 'internal_error'))
);
--> statement-breakpoint
INSERT INTO `__new_events`("id", "ts", "key_id", "route", "model", "upstream_model", "stream", "prompt_tokens", "completion_tokens", "cache_read_tokens", "cache_creation_tokens", "reasoning_tokens", "initiator", "premium_multiplier", "premium_requests", "usage_unknown", "status", "latency_ms", "error", "credential_id", "parent_event_id") SELECT "id", "ts", "key_id", "route", "model", "upstream_model", "stream", "prompt_tokens", "completion_tokens", "cache_read_tokens", "cache_creation_tokens", "reasoning_tokens", "initiator", "premium_multiplier", "premium_requests", "usage_unknown", "status", "latency_ms", "error", "credential_id", "parent_event_id" FROM `events`;--> statement-breakpoint
DROP TABLE `events`;--> statement-breakpoint
ALTER TABLE `__new_events` RENAME TO `events`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `events_ts_idx` ON `events` (`ts`);--> statement-breakpoint
ALTER TABLE `keys` ADD `budget_nano_aiu` integer;--> statement-breakpoint
ALTER TABLE `usage_hourly` ADD `cost_nano_aiu` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `usage_hourly` ADD `cost_unknown` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `usage_hourly_key_cost_idx` ON `usage_hourly` (`key_id`,`hour`,`cost_nano_aiu`);