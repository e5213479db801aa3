CREATE TABLE "projects" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "work_item_memories" (
	"workspace_id" uuid NOT NULL,
	"work_item_id" uuid NOT NULL,
	"memory_id" uuid NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "work_item_memories_work_item_id_memory_id_pk" PRIMARY KEY("work_item_id","memory_id")
);
--> statement-breakpoint
DROP INDEX "memories_content_hash_key";--> statement-breakpoint
ALTER TABLE "memories" ADD COLUMN "valid_from" timestamp (3) with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "memories" ADD COLUMN "valid_to" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "memories" ADD COLUMN "supersedes_id" uuid;--> statement-breakpoint
ALTER TABLE "memories" ADD COLUMN "user_id" text;--> statement-breakpoint
ALTER TABLE "memories" ADD COLUMN "agent_id" text;--> statement-breakpoint
ALTER TABLE "memories" ADD COLUMN "session_id" text;--> statement-breakpoint
ALTER TABLE "memories" ADD COLUMN "project_id" uuid;--> statement-breakpoint
ALTER TABLE "memories" ADD COLUMN "expires_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "memories" ADD COLUMN "source_item_id" uuid;--> statement-breakpoint
ALTER TABLE "work_orders" ADD COLUMN "project_id" uuid;--> statement-breakpoint
ALTER TABLE "projects" ADD CONSTRAINT "projects_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "work_item_memories" ADD CONSTRAINT "work_item_memories_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "work_item_memories" ADD CONSTRAINT "work_item_memories_work_item_id_work_items_id_fk" FOREIGN KEY ("work_item_id") REFERENCES "public"."work_items"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "work_item_memories" ADD CONSTRAINT "work_item_memories_memory_id_memories_id_fk" FOREIGN KEY ("memory_id") REFERENCES "public"."memories"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "projects_name_key" ON "projects" USING btree ("workspace_id","name");--> statement-breakpoint
CREATE INDEX "projects_listing_idx" ON "projects" USING btree ("workspace_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "work_item_memories_memory_idx" ON "work_item_memories" USING btree ("memory_id");--> statement-breakpoint
CREATE INDEX "work_item_memories_workspace_idx" ON "work_item_memories" USING btree ("workspace_id");--> statement-breakpoint
ALTER TABLE "memories" ADD CONSTRAINT "memories_supersedes_id_memories_id_fk" FOREIGN KEY ("supersedes_id") REFERENCES "public"."memories"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "memories" ADD CONSTRAINT "memories_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "work_orders" ADD CONSTRAINT "work_orders_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "memories_user_idx" ON "memories" USING btree ("workspace_id","user_id") WHERE "memories"."user_id" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "memories_agent_idx" ON "memories" USING btree ("workspace_id","agent_id") WHERE "memories"."agent_id" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "memories_session_idx" ON "memories" USING btree ("workspace_id","session_id") WHERE "memories"."session_id" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "memories_project_idx" ON "memories" USING btree ("workspace_id","project_id") WHERE "memories"."project_id" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "memories_expiry_idx" ON "memories" USING btree ("expires_at") WHERE "memories"."expires_at" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "memories_source_item_idx" ON "memories" USING btree ("source_item_id") WHERE "memories"."source_item_id" IS NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "memories_supersedes_key" ON "memories" USING btree ("supersedes_id");--> statement-breakpoint
CREATE INDEX "work_orders_project_idx" ON "work_orders" USING btree ("workspace_id","project_id") WHERE "work_orders"."project_id" IS NOT NULL;--> statement-breakpoint
ALTER TABLE "memories" ADD CONSTRAINT "memories_validity_check" CHECK ("memories"."valid_to" IS NULL OR "memories"."valid_to" > "memories"."valid_from");