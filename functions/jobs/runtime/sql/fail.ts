/**
 * A failed attempt, fenced, in one statement: the error joins the job's error history; with
 * attempts left (and a retryable error) the job is PENDING again after the retry policy's
 * delay, otherwise it is FAILED and its dead letter (if the handler names one) and the
 * activity row are written in the same statement.
 */
import { sql } from "drizzle-orm";
import { jsonParam, rows, type Tx } from "../../../../db/client";
import { systemActor } from "../../../shared/actor";
import { auditCte } from "../../../shared/audit";
import { type RetryPolicy, retryDelayMs } from "../../../shared/retry";
import type { ClaimedJob, DeadLetterSpec } from "../job";

export interface Failure {
  error: string;
  /** No retry follows (out of attempts, or not retryable). */
  final: boolean;
  policy: RetryPolicy;
  now: Date;
  random?: () => number;
  /** Written when `final` (null: the job fails without a dead letter). */
  deadLetter: DeadLetterSpec | null;
}

export interface FailureOutcome {
  availableAt: Date | null;
  deadLetterId: string | null;
}

/** Whether a failed attempt is the job's last. */
export const isFinalAttempt = (job: ClaimedJob, retryable: boolean) => !retryable || job.attempts >= job.maxAttempts;

/** Records the failure; null when the claim no longer holds the job (nothing changed). */
export async function failJob(tx: Tx, job: ClaimedJob, failure: Failure): Promise<FailureOutcome | null> {
  const at = failure.now.toISOString();
  const errors = [...job.errors, { attempt: job.attempts, error: failure.error, at }];
  const availableAt = failure.final
    ? null
    : new Date(failure.now.getTime() + retryDelayMs(failure.policy, job.attempts, failure.random));
  const letter = failure.final ? failure.deadLetter : null;
  const [row] = await rows<{ id: string; dead_letter_id: string | null }>(
    tx,
    sql`with failed as (
          update processing_jobs
          set status = ${failure.final ? "FAILED" : "PENDING"}::processing_status,
              error = ${failure.error}, output_data = jsonb_build_object('errors', ${jsonParam(errors)}),
              available_at = coalesce(${availableAt?.toISOString() ?? null}::timestamptz, available_at),
              completed_at = ${failure.final ? at : null}::timestamptz,
              locked_until = null, updated_at = ${at}::timestamptz
          where id = ${job.id}::uuid and status = 'PROCESSING' and fencing_token = ${job.fencingToken}::bigint
          returning id, workspace_id
        ),
        dead as (
          insert into dead_letters (workspace_id, source, raw_event_id, reason, payload, errors)
          select f.workspace_id, ${letter?.source ?? null}::dead_letter_source, ${letter?.rawEventId ?? null}::uuid,
                 ${letter?.reason ?? null}, ${jsonParam(letter?.payload ?? {})}, ${jsonParam(errors)}
          from failed f where ${letter !== null}
          returning id, workspace_id
        ),
        ${auditCte(
          "logged",
          systemActor(job.workspaceId, `jobs:${job.type}`),
          sql`select d.workspace_id, 'dead_letter.created', 'dead_letter', d.id, null::jsonb,
                     jsonb_build_object('source', ${letter?.source ?? null}::text, 'jobId', ${job.id}::uuid,
                                        'jobType', ${job.type}::text, 'reason', ${letter?.reason ?? null}::text)
              from dead d`,
        )}
        select f.id, (select d.id from dead d) as dead_letter_id from failed f`,
  );
  if (!row) return null;
  return { availableAt, deadLetterId: row.dead_letter_id };
}
