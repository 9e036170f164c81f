DROP INDEX `usage_hourly_key_premium_idx`;--> statement-breakpoint
DROP INDEX `usage_hourly_key_cost_idx`;--> statement-breakpoint
CREATE INDEX `usage_hourly_key_hour_idx` ON `usage_hourly` (`key_id`,`hour`);