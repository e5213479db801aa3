/**
 * Claiming due jobs in one statement: PENDING ones whose time has come, and PROCESSING ones
 * whose lease expired (the run that held them died), oldest first, `FOR UPDATE SKIP LOCKED` so
 * concurrent runs split them. Each claim counts an attempt and takes a fresh fencing token.
 */
import { sql } from "drizzle-orm";
import { rows, type Tx } from "../../../../db/client";
import type { ClaimedJob, JobError } from "../job";

export interface ClaimOptions {
  types: string[];
  limit: number;
  now: Date;
  leaseMs: number;
  /** Only these jobs (a request delivering what it just enqueued). */
  jobIds?: string[];
}

interface ClaimedRow {
  id: string;
  workspace_id: string;
  job_type: string;
  input_data: Record<string, unknown> | null;
  event_id: string | null;
  attempts: number;
  max_attempts: number;
  fencing_token: string;
  errors: JobError[] | null;
}

export async function claimJobs(tx: Tx, options: ClaimOptions): Promise<ClaimedJob[]> {
  if (options.types.length === 0 || options.limit < 1 || options.jobIds?.length === 0) return [];
  const at = options.now.toISOString();
  const types = sql.join(
    options.types.map((type) => sql`${type}`),
    sql`, `,
  );
  const only = options.jobIds
    ? sql`and id in (${sql.join(
        options.jobIds.map((id) => sql`${id}::uuid`),
        sql`, `,
      )})`
    : sql``;
  const claimed = await rows<ClaimedRow>(
    tx,
    sql`with due as (
          select id from processing_jobs
          where job_type in (${types})
            and ((status = 'PENDING' and available_at <= ${at}::timestamptz)
                 or (status = 'PROCESSING' and locked_until < ${at}::timestamptz))
            ${only}
          order by available_at
          limit ${options.limit}
          for update skip locked
        )
        update processing_jobs j
        set status = 'PROCESSING', attempts = j.attempts + 1, fencing_token = nextval('fencing_tokens'),
            locked_until = ${at}::timestamptz + make_interval(secs => ${options.leaseMs / 1000}),
            started_at = ${at}::timestamptz, updated_at = ${at}::timestamptz
        from due where j.id = due.id
        returning j.id, j.workspace_id, j.job_type, j.input_data, j.event_id, j.attempts, j.max_attempts,
                  j.fencing_token::text as fencing_token, j.output_data -> 'errors' as errors, j.available_at`,
  );
  return claimed.map((row) => ({
    id: row.id,
    workspaceId: row.workspace_id,
    type: row.job_type,
    input: row.input_data ?? {},
    eventId: row.event_id,
    attempts: Number(row.attempts),
    maxAttempts: Number(row.max_attempts),
    fencingToken: row.fencing_token,
    errors: Array.isArray(row.errors) ? row.errors : [],
  }));
}
