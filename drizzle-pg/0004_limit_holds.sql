CREATE TABLE "limit_holds" (
	"id" text PRIMARY KEY NOT NULL,
	"key_id" text NOT NULL,
	"premium_requests" double precision DEFAULT 0 NOT NULL,
	"cost_nano_aiu" bigint DEFAULT 0 NOT NULL,
	"expires_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE INDEX "limit_holds_key_id_idx" ON "limit_holds" USING btree ("key_id","expires_at");