import { sql } from "drizzle-orm";
import { bigint, check, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { id, timestamps } from "./columns";
import { processingStatus } from "./enums";
import { rawEvents } from "./memory";
import { workspaceId } from "./tenancy";

/**
 * The internal job queue (functions/jobs/runtime): event processing, approval webhooks and
 * dead-letter redrives are rows here, claimed with a lease and a fencing token. `event_id`
 * names the raw event an event-processing job works on, so that deleting the event deletes its
 * jobs; every other job keeps its input in `input_data`.
 */
export const processingJobs = pgTable(
  "processing_jobs",
  {
    id: id(),
    workspaceId: workspaceId(),
    jobType: text("job_type").notNull(),
    eventId: uuid("event_id").references(() => rawEvents.id, { onDelete: "cascade" }),
    status: processingStatus("status").notNull().default("PENDING"),
    inputData: jsonb("input_data").notNull().default({}),
    outputData: jsonb("output_data"),
    error: text("error"),
    attempts: integer("attempts").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull().default(3),
    availableAt: timestamp("available_at", { withTimezone: true }).notNull().defaultNow(),
    lockedUntil: timestamp("locked_until", { withTimezone: true }),
    /** Set by each claim from the `fencing_tokens` sequence; completion and failure must present it. */
    fencingToken: bigint("fencing_token", { mode: "bigint" }),
    /** At most one live (PENDING or PROCESSING) job of a type per key: enqueueing it again is a no-op. */
    dedupKey: text("dedup_key"),
    startedAt: timestamp("started_at", { withTimezone: true }),
    completedAt: timestamp("completed_at", { withTimezone: true }),
    durationMs: integer("duration_ms"),
    ...timestamps(),
  },
  (t) => [
    index("processing_jobs_claim_idx").on(t.availableAt).where(sql`${t.status} IN ('PENDING', 'PROCESSING')`),
    index("processing_jobs_status_idx").on(t.workspaceId, t.status, t.createdAt.desc()),
    index("processing_jobs_event_idx").on(t.eventId),
    uniqueIndex("processing_jobs_dedup_key")
      .on(t.jobType, t.dedupKey)
      .where(sql`${t.dedupKey} IS NOT NULL AND ${t.status} IN ('PENDING', 'PROCESSING')`),
    check("processing_jobs_attempts_check", sql`${t.attempts} >= 0 AND ${t.maxAttempts} >= 1`),
  ],
);
