CREATE TABLE "queue_limits" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"target" text NOT NULL,
	"max_in_flight" integer,
	"rate_limit" integer,
	"rate_interval_ms" integer,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "queue_limits_kind_check" CHECK ("queue_limits"."kind" IN ('KEY', 'KEY_PREFIX', 'TYPE')),
	CONSTRAINT "queue_limits_values_check" CHECK (("queue_limits"."max_in_flight" IS NULL OR "queue_limits"."max_in_flight" >= 1)
          AND (("queue_limits"."rate_limit" IS NULL AND "queue_limits"."rate_interval_ms" IS NULL) OR ("queue_limits"."rate_limit" >= 1 AND "queue_limits"."rate_interval_ms" >= 1))
          AND ("queue_limits"."max_in_flight" IS NOT NULL OR "queue_limits"."rate_limit" IS NOT NULL))
);
--> statement-breakpoint
CREATE TABLE "queue_pauses" (
	"workspace_id" uuid NOT NULL,
	"item_type" text NOT NULL,
	"paused_by" uuid,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "queue_pauses_workspace_id_item_type_pk" PRIMARY KEY("workspace_id","item_type")
);
--> statement-breakpoint
CREATE TABLE "queue_rate_windows" (
	"workspace_id" uuid NOT NULL,
	"limit_id" uuid NOT NULL,
	"group_key" text NOT NULL,
	"recent" timestamp with time zone[] DEFAULT '{}' NOT NULL,
	CONSTRAINT "queue_rate_windows_limit_id_group_key_pk" PRIMARY KEY("limit_id","group_key")
);
--> statement-breakpoint
CREATE TABLE "work_schedules" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"name" text NOT NULL,
	"cron" text NOT NULL,
	"template_id" uuid NOT NULL,
	"title" text NOT NULL,
	"payload" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"priority" "priority" DEFAULT 'MEDIUM' NOT NULL,
	"paused_at" timestamp with time zone,
	"next_run_at" timestamp with time zone NOT NULL,
	"last_run_at" timestamp with time zone,
	"last_order_id" uuid,
	"last_error" text,
	"created_by" uuid,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "work_items" ADD COLUMN "key" text;--> statement-breakpoint
ALTER TABLE "work_items" ADD COLUMN "depends_on" uuid[];--> statement-breakpoint
ALTER TABLE "work_items" ADD COLUMN "concurrency_key" text;--> statement-breakpoint
ALTER TABLE "work_items" ADD COLUMN "dedup_key" text;--> statement-breakpoint
ALTER TABLE "work_orders" ADD COLUMN "paused_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "work_orders" ADD COLUMN "on_dependency_failure" text DEFAULT 'CANCEL' NOT NULL;--> statement-breakpoint
ALTER TABLE "queue_limits" ADD CONSTRAINT "queue_limits_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "queue_pauses" ADD CONSTRAINT "queue_pauses_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "queue_pauses" ADD CONSTRAINT "queue_pauses_paused_by_users_id_fk" FOREIGN KEY ("paused_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "queue_rate_windows" ADD CONSTRAINT "queue_rate_windows_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "queue_rate_windows" ADD CONSTRAINT "queue_rate_windows_limit_id_queue_limits_id_fk" FOREIGN KEY ("limit_id") REFERENCES "public"."queue_limits"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "work_schedules" ADD CONSTRAINT "work_schedules_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "work_schedules" ADD CONSTRAINT "work_schedules_template_id_workflow_templates_id_fk" FOREIGN KEY ("template_id") REFERENCES "public"."workflow_templates"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "work_schedules" ADD CONSTRAINT "work_schedules_last_order_id_work_orders_id_fk" FOREIGN KEY ("last_order_id") REFERENCES "public"."work_orders"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "work_schedules" ADD CONSTRAINT "work_schedules_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "queue_limits_target_key" ON "queue_limits" USING btree ("workspace_id","kind","target");--> statement-breakpoint
CREATE INDEX "queue_rate_windows_workspace_idx" ON "queue_rate_windows" USING btree ("workspace_id");--> statement-breakpoint
CREATE UNIQUE INDEX "work_schedules_name_key" ON "work_schedules" USING btree ("workspace_id","name");--> statement-breakpoint
CREATE INDEX "work_schedules_due_idx" ON "work_schedules" USING btree ("next_run_at") WHERE "work_schedules"."paused_at" IS NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "work_items_order_key" ON "work_items" USING btree ("work_order_id","key") WHERE "work_items"."key" IS NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "work_items_live_dedup_key" ON "work_items" USING btree ("workspace_id","dedup_key") WHERE "work_items"."dedup_key" IS NOT NULL AND "work_items"."status" IN ('QUEUED', 'AWAITING_APPROVAL', 'PROCESSING');--> statement-breakpoint
CREATE INDEX "work_items_in_flight_key_idx" ON "work_items" USING btree ("workspace_id","concurrency_key") WHERE "work_items"."status" = 'PROCESSING' AND "work_items"."concurrency_key" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "work_orders_paused_idx" ON "work_orders" USING btree ("workspace_id") WHERE "work_orders"."paused_at" IS NOT NULL;--> statement-breakpoint
ALTER TABLE "work_orders" ADD CONSTRAINT "work_orders_dependency_failure_check" CHECK ("work_orders"."on_dependency_failure" IN ('CANCEL', 'HOLD'));