CREATE TABLE `responses` (
	`id` text PRIMARY KEY NOT NULL,
	`key_id` text NOT NULL,
	`model` text NOT NULL,
	`created_at` integer NOT NULL,
	`status` text NOT NULL,
	`previous_response_id` text,
	`encoding` text NOT NULL,
	`body` blob NOT NULL,
	CONSTRAINT "responses_status_known" CHECK("responses"."status" IN ('completed', 'incomplete', 'failed')),
	CONSTRAINT "responses_encoding_known" CHECK("responses"."encoding" IN ('json', 'zstd'))
);
--> statement-breakpoint
CREATE INDEX `responses_created_at_idx` ON `responses` (`created_at`);