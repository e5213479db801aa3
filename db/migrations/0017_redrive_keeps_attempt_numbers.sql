ALTER TABLE "work_items" ADD COLUMN "retry_base" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "work_items" ADD COLUMN "redriven_at" timestamp with time zone;