CREATE TABLE `credentials` (
	`id` text PRIMARY KEY NOT NULL,
	`label` text NOT NULL,
	`kind` text NOT NULL,
	`github_login` text,
	`plan` text,
	`token_sealed` blob NOT NULL,
	`state` text DEFAULT 'ok' NOT NULL,
	`state_since` integer NOT NULL,
	`created_at` integer NOT NULL,
	`last_used_at` integer,
	CONSTRAINT "credentials_kind_known" CHECK("credentials"."kind" IN ('oauth', 'pat')),
	CONSTRAINT "credentials_state_known" CHECK("credentials"."state" IN ('ok', 'refused', 'exhausted'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `credentials_label_unique` ON `credentials` (`label`);--> statement-breakpoint
ALTER TABLE `events` ADD `credential_id` text;--> statement-breakpoint
ALTER TABLE `keys` ADD `credential_id` text REFERENCES credentials(id);--> statement-breakpoint
ALTER TABLE `responses` ADD `credential_id` text;