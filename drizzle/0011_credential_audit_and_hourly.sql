PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_audit_log` (
	`id` integer PRIMARY KEY NOT NULL,
	`ts` integer NOT NULL,
	`action` text NOT NULL,
	`actor_kind` text NOT NULL,
	`actor` text NOT NULL,
	`address` text,
	`user_agent` text,
	`target` text,
	`before` text,
	`after` text,
	CONSTRAINT "audit_log_action_known" CHECK("__new_audit_log"."action" IN ('key.created', 'key.updated', 'key.revoked', 'dashboard.sign_in', 'dashboard.sign_in_failed', 'dashboard.sign_out', 'dashboard.session_ended', 'retention.run', 'db.backup', 'db.restore', 'db.migrations_applied', 'credential.added', 'credential.removed')),
	CONSTRAINT "audit_log_actor_kind_known" CHECK("__new_audit_log"."actor_kind" IN ('key', 'session', 'cli', 'gateway'))
);
--> statement-breakpoint
INSERT INTO `__new_audit_log`("id", "ts", "action", "actor_kind", "actor", "address", "user_agent", "target", "before", "after") SELECT "id", "ts", "action", "actor_kind", "actor", "address", "user_agent", "target", "before", "after" FROM `audit_log`;--> statement-breakpoint
DROP TABLE `audit_log`;--> statement-breakpoint
ALTER TABLE `__new_audit_log` RENAME TO `audit_log`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `audit_log_ts_idx` ON `audit_log` (`ts`);--> statement-breakpoint
CREATE TABLE `__new_usage_hourly` (
	`hour` integer NOT NULL,
	`key_id` text NOT NULL,
	`model` text NOT NULL,
	`credential_id` text DEFAULT '' NOT NULL,
	`requests` integer DEFAULT 0 NOT NULL,
	`errors` integer DEFAULT 0 NOT NULL,
	`prompt_tokens` integer DEFAULT 0 NOT NULL,
	`completion_tokens` integer DEFAULT 0 NOT NULL,
	`cache_read_tokens` integer DEFAULT 0 NOT NULL,
	`cache_creation_tokens` integer DEFAULT 0 NOT NULL,
	`reasoning_tokens` integer DEFAULT 0 NOT NULL,
	`premium_requests` real DEFAULT 0 NOT NULL,
	`usage_unknown` integer DEFAULT 0 NOT NULL,
	`latency_ms_sum` integer DEFAULT 0 NOT NULL,
	`latency_ms_max` integer DEFAULT 0 NOT NULL,
	`latency_le_100` integer DEFAULT 0 NOT NULL,
	`latency_le_250` integer DEFAULT 0 NOT NULL,
	`latency_le_500` integer DEFAULT 0 NOT NULL,
	`latency_le_1000` integer DEFAULT 0 NOT NULL,
	`latency_le_2500` integer DEFAULT 0 NOT NULL,
	`latency_le_5000` integer DEFAULT 0 NOT NULL,
	`latency_le_10000` integer DEFAULT 0 NOT NULL,
	`latency_le_30000` integer DEFAULT 0 NOT NULL,
	`latency_over_30000` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`hour`, `key_id`, `model`, `credential_id`)
);
--> statement-breakpoint
INSERT INTO `__new_usage_hourly`("hour", "key_id", "model", "requests", "errors", "prompt_tokens", "completion_tokens", "cache_read_tokens", "cache_creation_tokens", "reasoning_tokens", "premium_requests", "usage_unknown", "latency_ms_sum", "latency_ms_max", "latency_le_100", "latency_le_250", "latency_le_500", "latency_le_1000", "latency_le_2500", "latency_le_5000", "latency_le_10000", "latency_le_30000", "latency_over_30000") SELECT "hour", "key_id", "model", "requests", "errors", "prompt_tokens", "completion_tokens", "cache_read_tokens", "cache_creation_tokens", "reasoning_tokens", "premium_requests", "usage_unknown", "latency_ms_sum", "latency_ms_max", "latency_le_100", "latency_le_250", "latency_le_500", "latency_le_1000", "latency_le_2500", "latency_le_5000", "latency_le_10000", "latency_le_30000", "latency_over_30000" FROM `usage_hourly`;--> statement-breakpoint
DROP TABLE `usage_hourly`;--> statement-breakpoint
ALTER TABLE `__new_usage_hourly` RENAME TO `usage_hourly`;--> statement-breakpoint
CREATE INDEX `usage_hourly_key_premium_idx` ON `usage_hourly` (`key_id`,`hour`,`premium_requests`);