/**
 * Redriving a dead letter written by the runtime (an event, a webhook): the job is PENDING
 * again with a fresh attempt budget, the dead letter is REDRIVEN, and the job's handler applies
 * what else follows (an event goes back to PENDING) — one transaction, the caller's.
 */
import { sql } from "drizzle-orm";
import { rows, type Tx } from "../../../db/client";
import type { ActorRef } from "../../shared/actor";
import { audit } from "../../shared/audit";
import type { JobHandler } from "./job";

export interface RedrivenJob {
  jobId: string;
  jobType: string;
  eventId: string | null;
  redriveCount: number;
}

/** Null when the dead letter is not an open one of a job that is FAILED (nothing changes then). */
export async function redriveJobDeadLetter(
  tx: Tx,
  actor: ActorRef,
  deadLetterId: string,
  handlers: Pick<JobHandler, "type" | "onRedrive">[],
): Promise<RedrivenJob | null> {
  const [row] = await rows<{
    id: string;
    workspace_id: string;
    job_type: string;
    event_id: string | null;
    redrive_count: number;
  }>(
    tx,
    sql`with letter as (
          update dead_letters
          set status = 'REDRIVEN', redrive_count = redrive_count + 1, redriven_at = now(), redriven_by = ${actor.id ?? actor.type},
              next_retry_at = null, updated_at = now()
          where id = ${deadLetterId}::uuid and status = 'OPEN' and payload ? 'jobId'
            and exists (select 1 from processing_jobs j where j.id = (payload->>'jobId')::uuid and j.status = 'FAILED')
          returning payload, redrive_count
        )
        update processing_jobs j
        set status = 'PENDING', attempts = 0, available_at = now(), locked_until = null, completed_at = null,
            error = null, updated_at = now()
        from letter l
        where j.id = (l.payload->>'jobId')::uuid and j.status = 'FAILED'
        returning j.id, j.workspace_id, j.job_type, j.event_id, l.redrive_count`,
  );
  if (!row) return null;
  const job = { id: row.id, workspaceId: row.workspace_id, eventId: row.event_id };
  await handlers.find((handler) => handler.type === row.job_type)?.onRedrive?.(tx, job);
  await audit(tx, actor, [
    {
      workspaceId: row.workspace_id,
      action: "dead_letter.redriven",
      entity: { type: "dead_letter", id: deadLetterId },
      before: { status: "OPEN" },
      after: { status: "REDRIVEN", jobId: row.id, jobType: row.job_type, redriveCount: Number(row.redrive_count) },
    },
    {
      workspaceId: row.workspace_id,
      action: "job.requeued",
      entity: { type: "processing_job", id: row.id },
      before: { status: "FAILED" },
      after: { status: "PENDING", deadLetterId },
    },
  ]);
  return { jobId: row.id, jobType: row.job_type, eventId: row.event_id, redriveCount: Number(row.redrive_count) };
}
