CREATE TABLE "invitations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"secret_hash" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"redeemed_at" timestamp with time zone,
	"redeemed_key_id" uuid,
	"revoked_at" timestamp with time zone,
	"created_by" uuid,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "api_keys" ALTER COLUMN "user_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "approval_events" ADD COLUMN "api_key_id" uuid;--> statement-breakpoint
ALTER TABLE "approval_requests" ADD COLUMN "payload_hash" text;--> statement-breakpoint
ALTER TABLE "workspace_members" ADD COLUMN "display_name" text;--> statement-breakpoint
ALTER TABLE "workspace_members" ADD COLUMN "identity_verified" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "work_items" ADD COLUMN "requested_approval" jsonb;--> statement-breakpoint
ALTER TABLE "invitations" ADD CONSTRAINT "invitations_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "invitations" ADD CONSTRAINT "invitations_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "invitations" ADD CONSTRAINT "invitations_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "invitations_secret_hash_key" ON "invitations" USING btree ("secret_hash");--> statement-breakpoint
CREATE INDEX "invitations_member_idx" ON "invitations" USING btree ("workspace_id","user_id");--> statement-breakpoint
-- What a workspace knows of a person moves to its membership; existing memberships predate
-- invitations and were made by the people's own owners, so they count as verified.
UPDATE "workspace_members" m SET "display_name" = u."name" FROM "users" u WHERE u."id" = m."user_id";--> statement-breakpoint
UPDATE "workspace_members" SET "identity_verified" = true;--> statement-breakpoint
-- An item's own requirement was stored as its requirement unless a policy supplied it.
UPDATE "work_items" SET "requested_approval" = "approval" WHERE "approval" IS NOT NULL AND "approval"->>'policyId' IS NULL;--> statement-breakpoint
ALTER TABLE "users" DROP COLUMN "name";