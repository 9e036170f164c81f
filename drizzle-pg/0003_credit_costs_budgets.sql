ALTER TABLE "events" DROP CONSTRAINT "events_error_known";--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "cost_nano_aiu" bigint;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "token_details" text;--> statement-breakpoint
ALTER TABLE "keys" ADD COLUMN "budget_nano_aiu" bigint;--> statement-breakpoint
ALTER TABLE "usage_hourly" ADD COLUMN "cost_nano_aiu" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_hourly" ADD COLUMN "cost_unknown" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "usage_hourly_key_cost_idx" ON "usage_hourly" USING btree ("key_id","hour","cost_nano_aiu");--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_error_known" CHECK ("events"."error" IS NULL OR "events"."error" IN ('bad_request', 'unauthorized', 'forbidden', 'payload_too_large', 'rate_limited', 'quota_exceeded', 'budget_exceeded', 'window_exhausted', 'window_reserved', 'not_authenticated', 'upstream_rate_limited', 'upstream_error', 'client_aborted', 'internal_error'));