/** Enqueueing jobs, always inside the caller's transaction, so a job exists exactly when the change that needs it commits. */
import { type SQL, sql } from "drizzle-orm";
import { jsonParam, rows, type Tx } from "../../../../db/client";

export interface NewJob {
  workspaceId: string;
  type: string;
  input?: Record<string, unknown>;
  eventId?: string | null;
  maxAttempts: number;
  /** Not claimable before (default: at once). */
  availableAt?: Date;
  /** While a job of this type and key is PENDING or PROCESSING, enqueueing another is a no-op. */
  dedupKey?: string | null;
}

/** One INSERT for all of them; returns the ids of the jobs created (a deduplicated one creates none). */
export async function enqueueJobs(tx: Tx, jobs: NewJob[]): Promise<string[]> {
  if (jobs.length === 0) return [];
  const records = jobs.map((job) => ({
    workspace_id: job.workspaceId,
    job_type: job.type,
    input_data: job.input ?? {},
    event_id: job.eventId ?? null,
    max_attempts: job.maxAttempts,
    available_at: (job.availableAt ?? null)?.toISOString() ?? null,
    dedup_key: job.dedupKey ?? null,
  }));
  const created = await rows<{ id: string }>(
    tx,
    sql`insert into processing_jobs (workspace_id, job_type, input_data, event_id, max_attempts, available_at, dedup_key)
        select workspace_id, job_type, input_data, event_id, max_attempts, coalesce(available_at, now()), dedup_key
        from jsonb_to_recordset(${jsonParam(records)})
          as x(workspace_id uuid, job_type text, input_data jsonb, event_id uuid, max_attempts int,
               available_at timestamptz, dedup_key text)
        on conflict do nothing
        returning id`,
  );
  return created.map((row) => row.id);
}

/**
 * The CTE form, for a statement that creates the jobs' subjects itself (event intake stores
 * events and their jobs in one statement): `rows` is a SELECT of
 * `(workspace_id, job_type, event_id, input_data, max_attempts)` in that order.
 */
export function enqueueCte(name: string, rows: SQL): SQL {
  return sql`${sql.identifier(name)} as (
    insert into processing_jobs (workspace_id, job_type, event_id, input_data, max_attempts)
    select j.workspace_id, j.job_type, j.event_id, j.input_data, j.max_attempts
    from (${rows}) as j(workspace_id, job_type, event_id, input_data, max_attempts)
    on conflict do nothing
    returning id)`;
}
