CREATE TABLE `audit_log` (
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
	CONSTRAINT "audit_log_action_known" CHECK("audit_log"."action" IN ('key.created', 'key.updated', 'key.revoked', 'dashboard.sign_in', 'dashboard.sign_in_failed', 'dashboard.sign_out', 'dashboard.session_ended', 'retention.run', 'db.backup', 'db.restore', 'db.migrations_applied')),
	CONSTRAINT "audit_log_actor_kind_known" CHECK("audit_log"."actor_kind" IN ('key', 'session', 'cli', 'gateway'))
);
--> statement-breakpoint
CREATE INDEX `audit_log_ts_idx` ON `audit_log` (`ts`);