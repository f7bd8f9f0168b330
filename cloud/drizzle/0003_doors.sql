CREATE TABLE "door_access_events" (
	"attempt_id" uuid PRIMARY KEY NOT NULL,
	"community_id" uuid NOT NULL,
	"door_id" uuid,
	"method" text NOT NULL,
	"outcome" text NOT NULL,
	"reason" text,
	"detail" text,
	"credential_id" uuid,
	"holder_kind" text,
	"holder_id" uuid,
	"gateway_id" uuid,
	"reader_id" text,
	"decided_by" text NOT NULL,
	"requested_at" timestamp with time zone NOT NULL,
	"decided_at" timestamp with time zone,
	"received_at" timestamp with time zone NOT NULL,
	"gateway_seq" bigint
);
--> statement-breakpoint
CREATE TABLE "door_credentials" (
	"id" uuid PRIMARY KEY NOT NULL,
	"community_id" uuid NOT NULL,
	"holder_kind" text NOT NULL,
	"holder_id" uuid NOT NULL,
	"house_id" uuid,
	"device_public_key" text NOT NULL,
	"key_id" text NOT NULL,
	"scope" jsonb NOT NULL,
	"valid_from" timestamp with time zone NOT NULL,
	"valid_until" timestamp with time zone NOT NULL,
	"use_limit" integer DEFAULT 0 NOT NULL,
	"uses" integer DEFAULT 0 NOT NULL,
	"credential" text NOT NULL,
	"issued_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone,
	"revoke_reason" text
);
--> statement-breakpoint
CREATE TABLE "door_group_members" (
	"group_id" uuid NOT NULL,
	"door_id" uuid NOT NULL,
	CONSTRAINT "door_group_members_group_id_door_id_pk" PRIMARY KEY("group_id","door_id")
);
--> statement-breakpoint
CREATE TABLE "door_groups" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"community_id" uuid NOT NULL,
	"code" integer NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"building_id" uuid,
	CONSTRAINT "door_groups_code_range" CHECK ("door_groups"."code" between 1 and 32767)
);
--> statement-breakpoint
CREATE TABLE "door_shared_state" (
	"community_id" uuid PRIMARY KEY NOT NULL,
	"key_set_version" integer DEFAULT 0 NOT NULL,
	"revocations_version" integer DEFAULT 0 NOT NULL,
	"key_set_published_at" timestamp with time zone,
	"revocations_published_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "door_signing_keys" (
	"key_id" text PRIMARY KEY NOT NULL,
	"community_id" uuid NOT NULL,
	"public_key" text NOT NULL,
	"private_key_sealed" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"retired_at" timestamp with time zone,
	"not_after" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "doors" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"community_id" uuid NOT NULL,
	"code" integer NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"building_id" uuid,
	"gateway_id" uuid,
	"lock_id" text NOT NULL,
	"lock_address" text NOT NULL,
	"lock_secret_sealed" text NOT NULL,
	"hold_ms" integer DEFAULT 5000 NOT NULL,
	"battery" integer,
	"door_open" boolean,
	"lock_status" jsonb,
	"status_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	"removed_at" timestamp with time zone,
	CONSTRAINT "doors_code_range" CHECK ("doors"."code" between 1 and 32767),
	CONSTRAINT "doors_building_entrance_has_building" CHECK ("doors"."kind" <> 'building-entrance' or "doors"."building_id" is not null)
);
--> statement-breakpoint
CREATE TABLE "gateway_door_rosters" (
	"gateway_id" uuid PRIMARY KEY NOT NULL,
	"revision" integer NOT NULL,
	"sent_at" timestamp with time zone NOT NULL,
	"last_command_id" uuid
);
--> statement-breakpoint
CREATE TABLE "lock_events" (
	"gateway_id" uuid NOT NULL,
	"seq" bigint NOT NULL,
	"door_id" uuid,
	"lock_id" text NOT NULL,
	"kind" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"battery" integer NOT NULL,
	"status" jsonb NOT NULL,
	CONSTRAINT "lock_events_gateway_id_seq_pk" PRIMARY KEY("gateway_id","seq")
);
--> statement-breakpoint
CREATE TABLE "visitor_passes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"community_id" uuid NOT NULL,
	"house_id" uuid NOT NULL,
	"created_by" uuid NOT NULL,
	"visitor_name" text NOT NULL,
	"valid_from" timestamp with time zone NOT NULL,
	"valid_until" timestamp with time zone NOT NULL,
	"use_limit" integer NOT NULL,
	"door_scope" jsonb NOT NULL,
	"claim_secret_hash" text NOT NULL,
	"credential_id" uuid,
	"claimed_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "house_members" ADD COLUMN "door_access" text DEFAULT 'all' NOT NULL;--> statement-breakpoint
ALTER TABLE "door_access_events" ADD CONSTRAINT "door_access_events_community_id_communities_id_fk" FOREIGN KEY ("community_id") REFERENCES "public"."communities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "door_access_events" ADD CONSTRAINT "door_access_events_door_id_doors_id_fk" FOREIGN KEY ("door_id") REFERENCES "public"."doors"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "door_credentials" ADD CONSTRAINT "door_credentials_community_id_communities_id_fk" FOREIGN KEY ("community_id") REFERENCES "public"."communities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "door_credentials" ADD CONSTRAINT "door_credentials_house_id_houses_id_fk" FOREIGN KEY ("house_id") REFERENCES "public"."houses"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "door_credentials" ADD CONSTRAINT "door_credentials_key_id_door_signing_keys_key_id_fk" FOREIGN KEY ("key_id") REFERENCES "public"."door_signing_keys"("key_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "door_group_members" ADD CONSTRAINT "door_group_members_group_id_door_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."door_groups"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "door_group_members" ADD CONSTRAINT "door_group_members_door_id_doors_id_fk" FOREIGN KEY ("door_id") REFERENCES "public"."doors"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "door_groups" ADD CONSTRAINT "door_groups_community_id_communities_id_fk" FOREIGN KEY ("community_id") REFERENCES "public"."communities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "door_groups" ADD CONSTRAINT "door_groups_building_id_buildings_id_fk" FOREIGN KEY ("building_id") REFERENCES "public"."buildings"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "door_shared_state" ADD CONSTRAINT "door_shared_state_community_id_communities_id_fk" FOREIGN KEY ("community_id") REFERENCES "public"."communities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "door_signing_keys" ADD CONSTRAINT "door_signing_keys_community_id_communities_id_fk" FOREIGN KEY ("community_id") REFERENCES "public"."communities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "doors" ADD CONSTRAINT "doors_community_id_communities_id_fk" FOREIGN KEY ("community_id") REFERENCES "public"."communities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "doors" ADD CONSTRAINT "doors_building_id_buildings_id_fk" FOREIGN KEY ("building_id") REFERENCES "public"."buildings"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "doors" ADD CONSTRAINT "doors_gateway_id_gateways_id_fk" FOREIGN KEY ("gateway_id") REFERENCES "public"."gateways"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "gateway_door_rosters" ADD CONSTRAINT "gateway_door_rosters_gateway_id_gateways_id_fk" FOREIGN KEY ("gateway_id") REFERENCES "public"."gateways"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "lock_events" ADD CONSTRAINT "lock_events_door_id_doors_id_fk" FOREIGN KEY ("door_id") REFERENCES "public"."doors"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "visitor_passes" ADD CONSTRAINT "visitor_passes_community_id_communities_id_fk" FOREIGN KEY ("community_id") REFERENCES "public"."communities"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "visitor_passes" ADD CONSTRAINT "visitor_passes_house_id_houses_id_fk" FOREIGN KEY ("house_id") REFERENCES "public"."houses"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "visitor_passes" ADD CONSTRAINT "visitor_passes_credential_id_door_credentials_id_fk" FOREIGN KEY ("credential_id") REFERENCES "public"."door_credentials"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "door_access_events_community_idx" ON "door_access_events" USING btree ("community_id","requested_at","attempt_id");--> statement-breakpoint
CREATE INDEX "door_access_events_door_idx" ON "door_access_events" USING btree ("door_id","requested_at");--> statement-breakpoint
CREATE INDEX "door_access_events_credential_idx" ON "door_access_events" USING btree ("credential_id");--> statement-breakpoint
CREATE INDEX "door_credentials_holder_idx" ON "door_credentials" USING btree ("holder_kind","holder_id");--> statement-breakpoint
CREATE INDEX "door_credentials_revoked_idx" ON "door_credentials" USING btree ("community_id","valid_until") WHERE "door_credentials"."revoked_at" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "door_groups_code_uq" ON "door_groups" USING btree ("community_id","code");--> statement-breakpoint
CREATE UNIQUE INDEX "door_groups_building_uq" ON "door_groups" USING btree ("building_id") WHERE "door_groups"."kind" = 'building';--> statement-breakpoint
CREATE UNIQUE INDEX "door_groups_gates_uq" ON "door_groups" USING btree ("community_id") WHERE "door_groups"."kind" = 'community-gates';--> statement-breakpoint
CREATE UNIQUE INDEX "door_signing_keys_one_active_uq" ON "door_signing_keys" USING btree ("community_id") WHERE "door_signing_keys"."retired_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "doors_code_uq" ON "doors" USING btree ("community_id","code");--> statement-breakpoint
CREATE UNIQUE INDEX "doors_lock_uq" ON "doors" USING btree ("gateway_id","lock_id") WHERE "doors"."removed_at" is null;--> statement-breakpoint
CREATE INDEX "lock_events_door_idx" ON "lock_events" USING btree ("door_id","at");--> statement-breakpoint
CREATE INDEX "visitor_passes_house_idx" ON "visitor_passes" USING btree ("house_id","created_at");