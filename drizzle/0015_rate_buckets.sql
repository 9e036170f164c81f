CREATE TABLE `rate_buckets` (
	`key_id` text PRIMARY KEY NOT NULL,
	`tokens` real NOT NULL,
	`at` integer NOT NULL
);
