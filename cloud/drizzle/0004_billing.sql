CREATE TABLE "bill_adjustments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"bill_id" uuid NOT NULL,
	"line_id" bigint,
	"kind" text NOT NULL,
	"amount_fen" bigint NOT NULL,
	"reason" text NOT NULL,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "bill_adjustments_nonzero" CHECK ("bill_adjustments"."amount_fen" <> 0),
	CONSTRAINT "bill_adjustments_credit_negative" CHECK ("bill_adjustments"."kind" <> 'credit-note' or "bill_adjustments"."amount_fen" < 0)
);
--> statement-breakpoint
CREATE TABLE "bill_lines" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "bill_lines_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"bill_id" uuid NOT NULL,
	"house_id" uuid NOT NULL,
	"fee_item_id" uuid NOT NULL,
	"fee_type" text NOT NULL,
	"line_kind" text DEFAULT 'charge' NOT NULL,
	"description" text NOT NULL,
	"period_start" date NOT NULL,
	"period_end" date NOT NULL,
	"quantity" numeric(20, 6),
	"unit" text,
	"amount_fen" bigint NOT NULL,
	"estimated" boolean DEFAULT false NOT NULL,
	"provenance" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "bill_run_holds" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "bill_run_holds_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"run_id" uuid NOT NULL,
	"house_id" uuid,
	"fee_item_id" uuid NOT NULL,
	"reason" text NOT NULL,
	"detail" text NOT NULL,
	CONSTRAINT "bill_run_holds_uq" UNIQUE NULLS NOT DISTINCT("run_id","fee_item_id","house_id")
);
--> statement-breakpoint
CREATE TABLE "bill_runs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"community_id" uuid NOT NULL,
	"cycle" text NOT NULL,
	"period_start" date NOT NULL,
	"period_end" date NOT NULL,
	"status" text DEFAULT 'running' NOT NULL,
	"trigger" text NOT NULL,
	"post_when_done" boolean DEFAULT false NOT NULL,
	"due_on" date NOT NULL,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	"posted_at" timestamp with time zone,
	"posted_by" uuid,
	"report" jsonb,
	"failure" text,
	CONSTRAINT "bill_runs_status_known" CHECK ("bill_runs"."status" in ('running', 'draft', 'posted', 'failed', 'discarded'))
);
--> statement-breakpoint
CREATE TABLE "billing_settings" (
	"community_id" uuid PRIMARY KEY NOT NULL,
	"bill_day" integer DEFAULT 1 NOT NULL,
	"due_days" integer DEFAULT 15 NOT NULL,
	"auto_post" boolean DEFAULT true NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "billing_settings_bill_day" CHECK ("billing_settings"."bill_day" between 1 and 28),
	CONSTRAINT "billing_settings_due_days" CHECK ("billing_settings"."due_days" between 0 and 120)
);
--> statement-breakpoint
CREATE TABLE "bills" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"seq" bigint GENERATED ALWAYS AS IDENTITY (sequence name "bills_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"community_id" uuid NOT NULL,
	"house_id" uuid NOT NULL,
	"run_id" uuid,
	"kind" text DEFAULT 'periodic' NOT NULL,
	"cycle" text NOT NULL,
	"period_start" date NOT NULL,
	"period_end" date NOT NULL,
	"status" text NOT NULL,
	"total_fen" bigint NOT NULL,
	"paid_fen" bigint DEFAULT 0 NOT NULL,
	"due_on" date NOT NULL,
	"issued_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "bills_status_known" CHECK ("bills"."status" in ('draft', 'posted'))
);
--> statement-breakpoint
CREATE TABLE "fee_items" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"community_id" uuid NOT NULL,
	"code" text NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"cycle" text NOT NULL,
	"rounding" text DEFAULT 'half-up' NOT NULL,
	"tiered" boolean DEFAULT false NOT NULL,
	"tier_basis" text DEFAULT 'month' NOT NULL,
	"meter_kind" text,
	"shared_meter_id" uuid,
	"share_method" text,
	"on_bad_reading" text DEFAULT 'hold' NOT NULL,
	"vacancy_discount_bp" integer DEFAULT 0 NOT NULL,
	"late_fee" jsonb DEFAULT '{"rule":"none"}'::jsonb NOT NULL,
	"prepay_offers" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"building_ids" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"archived_at" timestamp with time zone,
	CONSTRAINT "fee_items_cycle_known" CHECK ("fee_items"."cycle" in ('monthly', 'quarterly', 'yearly')),
	CONSTRAINT "fee_items_rounding_known" CHECK ("fee_items"."rounding" in ('half-up', 'half-even', 'down', 'up')),
	CONSTRAINT "fee_items_metered_has_kind" CHECK (("fee_items"."kind" = 'metered') = ("fee_items"."meter_kind" is not null)),
	CONSTRAINT "fee_items_shared_has_meter" CHECK (("fee_items"."kind" = 'shared') = ("fee_items"."shared_meter_id" is not null and "fee_items"."share_method" is not null)),
	CONSTRAINT "fee_items_vacancy_bp" CHECK ("fee_items"."vacancy_discount_bp" between 0 and 10000)
);
--> statement-breakpoint
CREATE TABLE "house_vacancies" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"house_id" uuid NOT NULL,
	"starts_on" date NOT NULL,
	"ends_on" date,
	"note" text DEFAULT '' NOT NULL,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "house_vacancies_window" CHECK ("house_vacancies"."ends_on" is null or "house_vacancies"."ends_on" > "house_vacancies"."starts_on")
);
--> statement-breakpoint
CREATE TABLE "late_fee_waivers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"bill_id" uuid NOT NULL,
	"amount_fen" bigint NOT NULL,
	"reason" text NOT NULL,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "late_fee_waivers_positive" CHECK ("late_fee_waivers"."amount_fen" > 0)
);
--> statement-breakpoint
CREATE TABLE "tariff_versions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"fee_item_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"effective_from" date NOT NULL,
	"effective_to" date,
	"unit_price" bigint,
	"tiers" jsonb,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tariff_versions_price_xor_tiers" CHECK (("tariff_versions"."unit_price" is null) <> ("tariff_versions"."tiers" is null)),
	CONSTRAINT "tariff_versions_price_positive" CHECK ("tariff_versions"."unit_price" is null or "tariff_versions"."unit_price" > 0),
	CONSTRAINT "tariff_versions_window" CHECK ("tariff_versions"."effective_to" is null or "tariff_versions"."effective_to" > "tariff_versions"."effective_from")
);
--> statement-breakpoint
ALTER TABLE "houses" ADD COLUMN "billing_starts_on" date;--> statement-breakpoint
ALTER TABLE "houses" ADD COLUMN "billing_ends_on" date;--> statement-breakpoint
ALTER TABLE "bill_adjustments" ADD CONSTRAINT "bill_adjustments_bill_id_bills_id_fk" FOREIGN KEY ("bill_id") REFERENCES "public"."bills"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bill_adjustments" ADD CONSTRAINT "bill_adjustments_line_id_bill_lines_id_fk" FOREIGN KEY ("line_id") REFERENCES "public"."bill_lines"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bill_lines" ADD CONSTRAINT "bill_lines_bill_id_bills_id_fk" FOREIGN KEY ("bill_id") REFERENCES "public"."bills"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bill_lines" ADD CONSTRAINT "bill_lines_fee_item_id_fee_items_id_fk" FOREIGN KEY ("fee_item_id") REFERENCES "public"."fee_items"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bill_run_holds" ADD CONSTRAINT "bill_run_holds_run_id_bill_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."bill_runs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bill_run_holds" ADD CONSTRAINT "bill_run_holds_house_id_houses_id_fk" FOREIGN KEY ("house_id") REFERENCES "public"."houses"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bill_run_holds" ADD CONSTRAINT "bill_run_holds_fee_item_id_fee_items_id_fk" FOREIGN KEY ("fee_item_id") REFERENCES "public"."fee_items"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bill_runs" ADD CONSTRAINT "bill_runs_community_id_communities_id_fk" FOREIGN KEY ("community_id") REFERENCES "public"."communities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "billing_settings" ADD CONSTRAINT "billing_settings_community_id_communities_id_fk" FOREIGN KEY ("community_id") REFERENCES "public"."communities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bills" ADD CONSTRAINT "bills_community_id_communities_id_fk" FOREIGN KEY ("community_id") REFERENCES "public"."communities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bills" ADD CONSTRAINT "bills_house_id_houses_id_fk" FOREIGN KEY ("house_id") REFERENCES "public"."houses"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bills" ADD CONSTRAINT "bills_run_id_bill_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."bill_runs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "fee_items" ADD CONSTRAINT "fee_items_community_id_communities_id_fk" FOREIGN KEY ("community_id") REFERENCES "public"."communities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "fee_items" ADD CONSTRAINT "fee_items_shared_meter_id_meters_id_fk" FOREIGN KEY ("shared_meter_id") REFERENCES "public"."meters"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "house_vacancies" ADD CONSTRAINT "house_vacancies_house_id_houses_id_fk" FOREIGN KEY ("house_id") REFERENCES "public"."houses"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "late_fee_waivers" ADD CONSTRAINT "late_fee_waivers_bill_id_bills_id_fk" FOREIGN KEY ("bill_id") REFERENCES "public"."bills"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tariff_versions" ADD CONSTRAINT "tariff_versions_fee_item_id_fee_items_id_fk" FOREIGN KEY ("fee_item_id") REFERENCES "public"."fee_items"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "bill_adjustments_bill_idx" ON "bill_adjustments" USING btree ("bill_id");--> statement-breakpoint
CREATE UNIQUE INDEX "bill_lines_once_uq" ON "bill_lines" USING btree ("house_id","fee_item_id","period_start") WHERE "bill_lines"."line_kind" = 'charge';--> statement-breakpoint
CREATE INDEX "bill_lines_bill_idx" ON "bill_lines" USING btree ("bill_id");--> statement-breakpoint
CREATE UNIQUE INDEX "bill_runs_one_open_uq" ON "bill_runs" USING btree ("community_id","cycle","period_start") WHERE "bill_runs"."status" in ('running', 'draft');--> statement-breakpoint
CREATE INDEX "bill_runs_community_idx" ON "bill_runs" USING btree ("community_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "bills_seq_uq" ON "bills" USING btree ("seq");--> statement-breakpoint
CREATE INDEX "bills_house_period_idx" ON "bills" USING btree ("house_id","period_start");--> statement-breakpoint
CREATE INDEX "bills_run_idx" ON "bills" USING btree ("run_id");--> statement-breakpoint
CREATE INDEX "bills_community_status_idx" ON "bills" USING btree ("community_id","status","due_on");--> statement-breakpoint
CREATE UNIQUE INDEX "fee_items_community_code_uq" ON "fee_items" USING btree ("community_id","code");--> statement-breakpoint
CREATE INDEX "house_vacancies_house_idx" ON "house_vacancies" USING btree ("house_id");--> statement-breakpoint
CREATE INDEX "late_fee_waivers_bill_idx" ON "late_fee_waivers" USING btree ("bill_id");--> statement-breakpoint
CREATE UNIQUE INDEX "tariff_versions_item_version_uq" ON "tariff_versions" USING btree ("fee_item_id","version");--> statement-breakpoint
ALTER TABLE "houses" ADD CONSTRAINT "houses_billing_window" CHECK ("houses"."billing_ends_on" is null or "houses"."billing_starts_on" is null or "houses"."billing_ends_on" > "houses"."billing_starts_on");--> statement-breakpoint
-- A posted bill is immutable: corrections are adjustment lines or credit notes. Only paid_fen moves
-- (payments), and a draft may become posted once. Enforced here so no code path can forget it.
CREATE FUNCTION "public"."bills_posted_immutable"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.status = 'posted' THEN RAISE EXCEPTION 'bill % is posted and cannot be deleted; post a credit note instead', OLD.seq USING ERRCODE = '55000'; END IF;
    RETURN OLD;
  END IF;
  IF OLD.status = 'posted' AND (NEW.status, NEW.total_fen, NEW.house_id, NEW.period_start, NEW.period_end, NEW.due_on, NEW.community_id, NEW.run_id, NEW.kind, NEW.issued_at)
      IS DISTINCT FROM (OLD.status, OLD.total_fen, OLD.house_id, OLD.period_start, OLD.period_end, OLD.due_on, OLD.community_id, OLD.run_id, OLD.kind, OLD.issued_at) THEN
    RAISE EXCEPTION 'bill % is posted and cannot be changed; post an adjustment instead', OLD.seq USING ERRCODE = '55000';
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER "bills_posted_immutable" BEFORE UPDATE OR DELETE ON "public"."bills" FOR EACH ROW EXECUTE FUNCTION "public"."bills_posted_immutable"();
--> statement-breakpoint
-- Statement-level with transition tables: one check per bulk insert of a bill run, not one per line.
CREATE FUNCTION "public"."bill_lines_posted_immutable"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM changed_lines l JOIN "public"."bills" b ON b.id = l.bill_id WHERE b.status = 'posted') THEN
    RAISE EXCEPTION 'the lines of a posted bill cannot be added, changed or deleted' USING ERRCODE = '55000';
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER "bill_lines_insert_posted" AFTER INSERT ON "public"."bill_lines" REFERENCING NEW TABLE AS changed_lines FOR EACH STATEMENT EXECUTE FUNCTION "public"."bill_lines_posted_immutable"();
--> statement-breakpoint
CREATE TRIGGER "bill_lines_update_posted" AFTER UPDATE ON "public"."bill_lines" REFERENCING OLD TABLE AS changed_lines FOR EACH STATEMENT EXECUTE FUNCTION "public"."bill_lines_posted_immutable"();
--> statement-breakpoint
CREATE TRIGGER "bill_lines_delete_posted" AFTER DELETE ON "public"."bill_lines" REFERENCING OLD TABLE AS changed_lines FOR EACH STATEMENT EXECUTE FUNCTION "public"."bill_lines_posted_immutable"();
