CREATE TABLE `response_bytes` (
	`key_id` text PRIMARY KEY NOT NULL,
	`bytes` integer NOT NULL
);
