CREATE TABLE "gateway_commands" (
	"id" uuid PRIMARY KEY NOT NULL,
	"gateway_id" uuid NOT NULL,
	"name" text NOT NULL,
	"params" jsonb NOT NULL,
	"issued_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"result" jsonb,
	"completed_at" timestamp with time zone,
	"issued_by" uuid
);
--> statement-breakpoint
CREATE TABLE "gateway_devices" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"gateway_id" uuid NOT NULL,
	"device_id" text NOT NULL,
	"kind" text NOT NULL,
	"available" boolean NOT NULL,
	"reason" text,
	"since" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "gateways" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"community_id" uuid NOT NULL,
	"name" text NOT NULL,
	"credential_hash" text NOT NULL,
	"state" text DEFAULT 'never_connected' NOT NULL,
	"last_seen_at" timestamp with time zone,
	"version" text,
	"boot_id" uuid,
	"last_health" jsonb,
	"config" jsonb NOT NULL,
	"config_revision" integer DEFAULT 1 NOT NULL,
	"highest_seq" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "gateways_state_known" CHECK ("gateways"."state" in ('never_connected', 'online', 'offline'))
);
--> statement-breakpoint
CREATE TABLE "ingest_rejections" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "ingest_rejections_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"topic" text NOT NULL,
	"gateway_id" uuid,
	"reason" text NOT NULL,
	"detail" text NOT NULL,
	"payload" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "meter_readings" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "meter_readings_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"meter_id" uuid NOT NULL,
	"read_at" timestamp with time zone NOT NULL,
	"value" numeric(20, 6) NOT NULL,
	"values" jsonb NOT NULL,
	"source" text NOT NULL,
	"gateway_id" uuid,
	"gateway_seq" bigint,
	"anomalies" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"entered_by" uuid,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "meter_readings_source_known" CHECK ("meter_readings"."source" in ('gateway', 'manual', 'import')),
	CONSTRAINT "meter_readings_gateway_source" CHECK (("meter_readings"."source" = 'gateway') = ("meter_readings"."gateway_seq" is not null))
);
--> statement-breakpoint
CREATE TABLE "meters" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"community_id" uuid NOT NULL,
	"house_id" uuid,
	"kind" text NOT NULL,
	"model" text NOT NULL,
	"serial_no" text NOT NULL,
	"billing_quantity" text NOT NULL,
	"unit" text NOT NULL,
	"gateway_id" uuid,
	"device_id" text,
	"bus_id" text,
	"modbus_unit_id" integer,
	"poll_seconds" integer DEFAULT 900 NOT NULL,
	"installed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"removed_at" timestamp with time zone,
	"replaced_by_id" uuid,
	CONSTRAINT "meters_kind_known" CHECK ("meters"."kind" in ('electricity', 'water', 'gas', 'heat')),
	CONSTRAINT "meters_gateway_has_device" CHECK (("meters"."gateway_id" is null) = ("meters"."device_id" is null))
);
--> statement-breakpoint
ALTER TABLE "gateway_commands" ADD CONSTRAINT "gateway_commands_gateway_id_gateways_id_fk" FOREIGN KEY ("gateway_id") REFERENCES "public"."gateways"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "gateway_devices" ADD CONSTRAINT "gateway_devices_gateway_id_gateways_id_fk" FOREIGN KEY ("gateway_id") REFERENCES "public"."gateways"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "gateways" ADD CONSTRAINT "gateways_community_id_communities_id_fk" FOREIGN KEY ("community_id") REFERENCES "public"."communities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "meter_readings" ADD CONSTRAINT "meter_readings_meter_id_meters_id_fk" FOREIGN KEY ("meter_id") REFERENCES "public"."meters"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "meters" ADD CONSTRAINT "meters_community_id_communities_id_fk" FOREIGN KEY ("community_id") REFERENCES "public"."communities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "meters" ADD CONSTRAINT "meters_house_id_houses_id_fk" FOREIGN KEY ("house_id") REFERENCES "public"."houses"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "meters" ADD CONSTRAINT "meters_gateway_id_gateways_id_fk" FOREIGN KEY ("gateway_id") REFERENCES "public"."gateways"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "gateway_commands_gateway_idx" ON "gateway_commands" USING btree ("gateway_id","issued_at");--> statement-breakpoint
CREATE UNIQUE INDEX "gateway_devices_gateway_device_uq" ON "gateway_devices" USING btree ("gateway_id","device_id");--> statement-breakpoint
CREATE INDEX "gateways_community_idx" ON "gateways" USING btree ("community_id");--> statement-breakpoint
CREATE INDEX "ingest_rejections_received_idx" ON "ingest_rejections" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "ingest_rejections_gateway_idx" ON "ingest_rejections" USING btree ("gateway_id","received_at");--> statement-breakpoint
CREATE UNIQUE INDEX "meter_readings_meter_time_uq" ON "meter_readings" USING btree ("meter_id","read_at");--> statement-breakpoint
CREATE UNIQUE INDEX "meter_readings_gateway_seq_uq" ON "meter_readings" USING btree ("gateway_id","gateway_seq") WHERE "meter_readings"."gateway_seq" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "meters_gateway_device_active_uq" ON "meters" USING btree ("gateway_id","device_id") WHERE "meters"."removed_at" is null and "meters"."gateway_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "meters_community_serial_uq" ON "meters" USING btree ("community_id","serial_no");--> statement-breakpoint
CREATE INDEX "meters_house_idx" ON "meters" USING btree ("house_id");