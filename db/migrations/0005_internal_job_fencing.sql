ALTER TABLE "processing_jobs" ADD COLUMN "fencing_token" bigint;--> statement-breakpoint
ALTER TABLE "processing_jobs" ADD COLUMN "dedup_key" text;--> statement-breakpoint
CREATE UNIQUE INDEX "processing_jobs_dedup_key" ON "processing_jobs" USING btree ("job_type","dedup_key") WHERE "processing_jobs"."dedup_key" IS NOT NULL AND "processing_jobs"."status" IN ('PENDING', 'PROCESSING');