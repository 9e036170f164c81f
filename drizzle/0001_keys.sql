CREATE TABLE `keys` (
	`id` text PRIMARY KEY NOT NULL,
	`hash` text NOT NULL,
	`tier` text DEFAULT 'client' NOT NULL,
	`label` text DEFAULT '' NOT NULL,
	`allowed_models` text DEFAULT '["*"]' NOT NULL,
	`rate_limit` integer,
	`created_at` integer NOT NULL,
	`last_used_at` integer,
	`revoked_at` integer,
	CONSTRAINT "keys_tier_valid" CHECK("keys"."tier" IN ('admin', 'client')),
	CONSTRAINT "keys_allowed_models_json" CHECK(json_valid("keys"."allowed_models") AND json_type("keys"."allowed_models") = 'array'),
	CONSTRAINT "keys_rate_limit_positive" CHECK("keys"."rate_limit" IS NULL OR "keys"."rate_limit" > 0)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `keys_hash_unique` ON `keys` (`hash`);