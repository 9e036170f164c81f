CREATE TABLE `events` (
	`id` integer PRIMARY KEY NOT NULL,
	`ts` integer NOT NULL,
	`key_id` text NOT NULL,
	`route` text NOT NULL,
	`model` text,
	`upstream_model` text,
	`stream` integer DEFAULT false NOT NULL,
	`prompt_tokens` integer,
	`completion_tokens` integer,
	`usage_unknown` integer DEFAULT false NOT NULL,
	`status` integer NOT NULL,
	`latency_ms` integer NOT NULL,
	`error` text,
	CONSTRAINT "events_error_known" CHECK("events"."error" IS NULL OR "events"."error" IN ('bad_request', 'unauthorized', 'forbidden', 'payload_too_large', 'rate_limited', 'not_authenticated', 'upstream_error', 'client_aborted', 'internal_error'))
);
--> statement-breakpoint
CREATE INDEX `events_ts_idx` ON `events` (`ts`);--> statement-breakpoint
CREATE TABLE `usage_hourly` (
	`hour` integer NOT NULL,
	`key_id` text NOT NULL,
	`model` text NOT NULL,
	`requests` integer DEFAULT 0 NOT NULL,
	`errors` integer DEFAULT 0 NOT NULL,
	`prompt_tokens` integer DEFAULT 0 NOT NULL,
	`completion_tokens` integer DEFAULT 0 NOT NULL,
	`usage_unknown` integer DEFAULT 0 NOT NULL,
	`latency_ms_sum` integer DEFAULT 0 NOT NULL,
	`latency_ms_max` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`hour`, `key_id`, `model`)
);
