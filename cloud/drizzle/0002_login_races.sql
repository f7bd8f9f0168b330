CREATE UNIQUE INDEX "house_members_roster_owner_active_uq" ON "house_members" USING btree ("roster_owner_id") WHERE "house_members"."roster_owner_id" is not null and "house_members"."ended_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "staff_accounts_username_lower_uq" ON "staff_accounts" USING btree (lower("username"));--> statement-breakpoint
ALTER TABLE "staff_accounts" DROP COLUMN "failed_logins";--> statement-breakpoint
ALTER TABLE "staff_accounts" DROP COLUMN "locked_until";