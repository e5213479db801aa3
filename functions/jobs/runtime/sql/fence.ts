/**
 * Fenced changes of a claimed job: each applies only while the job is PROCESSING under the
 * claim's fencing token, so a run whose lease was taken over changes nothing.
 */
import { sql } from "drizzle-orm";
import { jsonParam, rows, type Tx } from "../../../../db/client";
import type { ClaimedJob } from "../job";

const held = (job: ClaimedJob) =>
  sql`id = ${job.id}::uuid and status = 'PROCESSING' and fencing_token = ${job.fencingToken}::bigint`;

/** Locks the job's row if this claim still holds it. */
export async function lockJob(tx: Tx, job: ClaimedJob): Promise<boolean> {
  const found = await rows<{ id: string }>(tx, sql`select id from processing_jobs where ${held(job)} for update`);
  return found.length > 0;
}

/** COMPLETED with its output; false when the claim no longer holds the job. */
export async function completeJob(
  tx: Tx,
  job: ClaimedJob,
  output: Record<string, unknown>,
  options: { now: Date; durationMs: number },
): Promise<boolean> {
  const at = options.now.toISOString();
  const done = await rows<{ id: string }>(
    tx,
    sql`update processing_jobs
        set status = 'COMPLETED', completed_at = ${at}::timestamptz, locked_until = null, error = null,
            output_data = ${jsonParam(output)}, duration_ms = ${options.durationMs}, updated_at = ${at}::timestamptz
        where ${held(job)}
        returning id`,
  );
  return done.length > 0;
}

/** Claimed jobs that never started go back to PENDING, their attempt refunded. Returns how many. */
export async function releaseJobs(tx: Tx, jobs: ClaimedJob[]): Promise<number> {
  if (jobs.length === 0) return 0;
  const released = await rows<{ id: string }>(
    tx,
    sql`update processing_jobs set status = 'PENDING', attempts = attempts - 1, locked_until = null
        where status = 'PROCESSING' and (id, fencing_token) in (${sql.join(
          jobs.map((job) => sql`(${job.id}::uuid, ${job.fencingToken}::bigint)`),
          sql`, `,
        )})
        returning id`,
  );
  return released.length;
}
