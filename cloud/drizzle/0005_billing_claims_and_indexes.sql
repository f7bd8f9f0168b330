ALTER TABLE "bill_runs" ADD COLUMN "due_days" integer;--> statement-breakpoint
ALTER TABLE "bill_runs" ADD COLUMN "claimed_until" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "meter_readings_backwards_idx" ON "meter_readings" USING btree ("meter_id","read_at") WHERE "meter_readings"."anomalies" @> '["backwards"]'::jsonb;--> statement-breakpoint
CREATE INDEX "bill_lines_item_period_idx" ON "bill_lines" USING btree ("fee_item_id","period_end");--> statement-breakpoint
CREATE INDEX "bills_community_period_idx" ON "bills" USING btree ("community_id","period_start" DESC NULLS LAST,"seq" DESC NULLS LAST);