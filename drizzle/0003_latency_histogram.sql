ALTER TABLE `usage_hourly` ADD `latency_le_100` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `usage_hourly` ADD `latency_le_250` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `usage_hourly` ADD `latency_le_500` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `usage_hourly` ADD `latency_le_1000` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `usage_hourly` ADD `latency_le_2500` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `usage_hourly` ADD `latency_le_5000` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `usage_hourly` ADD `latency_le_10000` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `usage_hourly` ADD `latency_le_30000` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `usage_hourly` ADD `latency_over_30000` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Hand-written backfill: hours recorded before this migration get their histogram
-- from the events that are still there (one pass over events, not one per hour).
UPDATE `usage_hourly` SET
	`latency_le_100` = b.`le_100`,
	`latency_le_250` = b.`le_250`,
	`latency_le_500` = b.`le_500`,
	`latency_le_1000` = b.`le_1000`,
	`latency_le_2500` = b.`le_2500`,
	`latency_le_5000` = b.`le_5000`,
	`latency_le_10000` = b.`le_10000`,
	`latency_le_30000` = b.`le_30000`,
	`latency_over_30000` = b.`over_30000`
FROM (
	SELECT
		`ts` - `ts` % 3600000 AS `hour`,
		`key_id`,
		coalesce(`model`, '') AS `model`,
		sum(`latency_ms` <= 100) AS `le_100`,
		sum(`latency_ms` > 100 AND `latency_ms` <= 250) AS `le_250`,
		sum(`latency_ms` > 250 AND `latency_ms` <= 500) AS `le_500`,
		sum(`latency_ms` > 500 AND `latency_ms` <= 1000) AS `le_1000`,
		sum(`latency_ms` > 1000 AND `latency_ms` <= 2500) AS `le_2500`,
		sum(`latency_ms` > 2500 AND `latency_ms` <= 5000) AS `le_5000`,
		sum(`latency_ms` > 5000 AND `latency_ms` <= 10000) AS `le_10000`,
		sum(`latency_ms` > 10000 AND `latency_ms` <= 30000) AS `le_30000`,
		sum(`latency_ms` > 30000) AS `over_30000`
	FROM `events`
	GROUP BY 1, 2, 3
) AS b
WHERE `usage_hourly`.`hour` = b.`hour` AND `usage_hourly`.`key_id` = b.`key_id` AND `usage_hourly`.`model` = b.`model`;
