/**
 * Approval webhooks through an outbox: `openApprovalRequests` writes one `processing_jobs`
 * row (job_type 'approval_webhook') per request and active API connector in the request's
 * transaction; delivery runs after commit. A failed POST is retried with backoff; after
 * `max_attempts` the job is FAILED and a dead letter (source 'webhook') is written in the
 * same statement, so a notification is never silently lost.
 *
 * The body is signed: `X-Cairn-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`
 * with `X-Cairn-Timestamp: <unix seconds>`; receivers recompute it over the raw body and
 * reject old timestamps (replays).
 *
 * Destinations must be public addresses unless the deployment allows private ones
 * (functions/shared/outbound.ts); a refused one fails like an unreachable receiver, with the
 * reason in the job's errors and, in the end, its dead letter.
 */
import { and, inArray, type SQL, sql } from "drizzle-orm";
import { type Database, pgArray, rows, type Tx } from "../../db/client";
import { processingJobs } from "../../db/schema";
import { logger } from "../shared/logger";
import { postToDestination } from "../shared/outbound";
import { SIGNATURE_HEADER, signBody, TIMESTAMP_HEADER } from "../shared/signatures";
import { summarizePayload } from "./summary";

export const APPROVAL_WEBHOOK_JOB = "approval_webhook";
export const WEBHOOK_MAX_ATTEMPTS = 5;
export const WEBHOOK_TIMEOUT_MS = 5_000;
/** How long a claimed delivery is ours before another deliverer may take it over. */
const CLAIM_LEASE_SECONDS = 60;
const BATCH = 50;
/** Retry backoff: 30 s doubling per attempt, capped at one hour, with ±25 % jitter. */
const BACKOFF_BASE_SECONDS = 30;
const BACKOFF_CAP_SECONDS = 3600;

interface ClaimedDelivery {
  job_id: string;
  workspace_id: string;
  attempts: number;
  max_attempts: number;
  request_id: string | null;
  connector_id: string | null;
  webhook_url: string | null;
  signing_secret: string | null;
  connector_status: string | null;
  gate: string | null;
  status: string | null;
  required_approvals: number | null;
  approvals_count: number | null;
  approver_roles: string[] | string | null;
  approver_user_ids: string[] | string | null;
  deadline: string | Date | null;
  timeout_action: string | null;
  policy_id: string | null;
  policy_version: number | null;
  requested_by: string | null;
  request_created_at: string | Date | null;
  work_item_id: string | null;
  work_order_id: string | null;
  item_type: string | null;
  item_payload: Record<string, unknown> | null;
  order_title: string | null;
}

interface Outcome {
  jobId: string;
  ok: boolean;
  error?: string;
  ms: number;
}

const toIso = (value: string | Date | null) => (value === null ? null : new Date(value).toISOString());

/**
 * The transactions a delivery runs in: the request's tenant (RLS on) right after a request
 * commits, the maintenance role for the scheduled retry across workspaces.
 */
type Run = <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>;

/**
 * Claims due deliveries (pending and due, or claimed by a deliverer that died) and reads
 * what each needs, in one short transaction that commits before any POST is made.
 */
async function claim(run: Run, now: Date, only?: SQL): Promise<ClaimedDelivery[]> {
  return run(async (tx) => {
    const claimed = await rows<{ id: string }>(
      tx,
      sql`with due as (
            select id from processing_jobs
            where job_type = ${APPROVAL_WEBHOOK_JOB}
              and ((status = 'PENDING' and available_at <= ${now})
                   or (status = 'PROCESSING' and locked_until < ${now}))
              ${only ? sql`and ${only}` : sql``}
            order by available_at
            limit ${BATCH}
            for update skip locked)
          update processing_jobs j
          set status = 'PROCESSING', attempts = j.attempts + 1, started_at = ${now},
              locked_until = ${now}::timestamptz + make_interval(secs => ${CLAIM_LEASE_SECONDS}), updated_at = ${now}
          from due where j.id = due.id
          returning j.id`,
    );
    if (claimed.length === 0) return [];
    return rows<ClaimedDelivery>(
      tx,
      sql`select j.id as job_id, j.workspace_id, j.attempts, j.max_attempts,
                 r.id as request_id, c.id as connector_id, c.webhook_url, c.signing_secret, c.status as connector_status,
                 r.gate, r.status, r.required_approvals, r.approvals_count, r.approver_roles, r.approver_user_ids,
                 r.deadline, r.timeout_action, r.policy_id, r.policy_version, r.requested_by,
                 r.created_at as request_created_at, r.work_item_id, r.work_order_id,
                 i.type as item_type, i.payload as item_payload, o.title as order_title
          from processing_jobs j
          left join approval_requests r on r.id = (j.input_data->>'requestId')::uuid and r.workspace_id = j.workspace_id
          left join connectors c on c.id = (j.input_data->>'connectorId')::uuid and c.workspace_id = j.workspace_id
          left join work_items i on i.id = r.work_item_id
          left join work_orders o on o.id = r.work_order_id
          where ${inArray(
            sql`j.id`,
            claimed.map((c) => c.id),
          )}`,
    );
  });
}

export function notificationBody(delivery: ClaimedDelivery): string {
  return JSON.stringify({
    type: "approval.requested",
    deliveryId: delivery.job_id,
    workspaceId: delivery.workspace_id,
    request: {
      id: delivery.request_id,
      gate: delivery.gate,
      status: delivery.status,
      requiredApprovals: delivery.required_approvals,
      approvalsCount: delivery.approvals_count,
      approverRoles: pgArray(delivery.approver_roles),
      approverUserIds: pgArray(delivery.approver_user_ids),
      deadline: toIso(delivery.deadline),
      timeoutAction: delivery.timeout_action,
      policyId: delivery.policy_id,
      policyVersion: delivery.policy_version,
      requestedBy: delivery.requested_by,
      createdAt: toIso(delivery.request_created_at),
    },
    item: {
      id: delivery.work_item_id,
      workOrderId: delivery.work_order_id,
      type: delivery.item_type,
      orderTitle: delivery.order_title,
      payloadSummary: summarizePayload(delivery.item_payload ?? {}),
    },
  });
}

async function post(delivery: ClaimedDelivery, now: Date): Promise<Outcome> {
  const started = performance.now();
  const body = notificationBody(delivery);
  const timestamp = String(Math.floor(now.getTime() / 1000));
  try {
    const status = await postToDestination(delivery.webhook_url!, {
      headers: {
        "content-type": "application/json",
        "user-agent": "Cairn-Webhooks/1",
        "x-cairn-event": "approval.requested",
        "x-cairn-delivery": delivery.job_id,
        [TIMESTAMP_HEADER]: timestamp,
        [SIGNATURE_HEADER]: signBody(delivery.signing_secret!, timestamp, body),
      },
      body,
      timeoutMs: WEBHOOK_TIMEOUT_MS,
    });
    const ms = Math.round(performance.now() - started);
    if (status >= 200 && status < 300) return { jobId: delivery.job_id, ok: true, ms };
    return { jobId: delivery.job_id, ok: false, error: `HTTP ${status}`, ms };
  } catch (error) {
    const ms = Math.round(performance.now() - started);
    const code = (error as { code?: string }).code;
    const message = `${(error as Error).message}${code && !(error as Error).message.includes(code) ? ` (${code})` : ""}`;
    return { jobId: delivery.job_id, ok: false, error: message.slice(0, 500), ms };
  }
}

/** Records every outcome in one transaction: completions, retries with backoff, dead letters. */
async function record(run: Run, outcomes: Outcome[], skipped: string[], now: Date): Promise<void> {
  if (outcomes.length === 0 && skipped.length === 0) return;
  await run(async (tx) => {
    const done = [...outcomes.filter((o) => o.ok).map((o) => o.jobId), ...skipped];
    if (done.length > 0) {
      await tx
        .update(processingJobs)
        .set({ status: "COMPLETED", completedAt: now, lockedUntil: null, error: null, updatedAt: now })
        .where(inArray(processingJobs.id, done));
    }
    for (const outcome of outcomes.filter((o) => o.ok)) {
      await tx.execute(sql`update processing_jobs set duration_ms = ${outcome.ms} where id = ${outcome.jobId}`);
    }
    const failed = outcomes.filter((o) => !o.ok);
    if (failed.length > 0) await recordFailures(tx, failed, now);
  });
}

/**
 * Failed deliveries: the error is appended to `output_data.errors`; a job with attempts
 * left goes back to PENDING with a backed-off `available_at`, an exhausted one becomes
 * FAILED and gets its dead letter in the same statement.
 */
async function recordFailures(tx: Tx, failed: Array<{ jobId: string; error?: string }>, now: Date): Promise<void> {
  const errorOf = sql.join(
    failed.map((f) => sql`when ${f.jobId}::uuid then ${f.error ?? "failed"}::text`),
    sql` `,
  );
  await tx.execute(sql`
    with failed as (
      update processing_jobs j
      set status = (case when j.attempts >= j.max_attempts then 'FAILED' else 'PENDING' end)::processing_status,
          error = case j.id ${errorOf} end,
          output_data = jsonb_build_object('errors',
            coalesce(j.output_data->'errors', '[]'::jsonb)
            || jsonb_build_array(jsonb_build_object('attempt', j.attempts, 'error', case j.id ${errorOf} end, 'at', ${now.toISOString()}::text))),
          available_at = ${now}::timestamptz + make_interval(secs =>
            least(${BACKOFF_CAP_SECONDS}, ${BACKOFF_BASE_SECONDS} * power(2, greatest(j.attempts - 1, 0))) * (0.75 + random() * 0.5)),
          locked_until = null,
          completed_at = case when j.attempts >= j.max_attempts then ${now}::timestamptz else null end,
          updated_at = ${now}
      where ${inArray(
        sql`j.id`,
        failed.map((f) => f.jobId),
      )}
      returning j.id, j.workspace_id, j.status, j.attempts, j.input_data, j.output_data, j.error)
    insert into dead_letters (workspace_id, source, reason, payload, errors)
    select f.workspace_id, 'webhook',
           'Approval notification was not delivered after ' || f.attempts || ' attempts: ' || f.error,
           jsonb_build_object('jobId', f.id, 'jobType', ${APPROVAL_WEBHOOK_JOB}::text,
                              'requestId', f.input_data->'requestId', 'connectorId', f.input_data->'connectorId'),
           f.output_data->'errors'
    from failed f where f.status = 'FAILED'`);
}

async function deliver(
  run: Run,
  now: Date,
  only?: SQL,
): Promise<{ delivered: number; failed: number; deadLettered: number }> {
  const claimed = await claim(run, now, only);
  const skipped: string[] = [];
  const sendable: ClaimedDelivery[] = [];
  const exhausted: Outcome[] = [];
  for (const delivery of claimed) {
    if (
      !delivery.request_id ||
      !delivery.connector_id ||
      !delivery.webhook_url ||
      delivery.connector_status !== "ACTIVE"
    ) {
      skipped.push(delivery.job_id); // the connector was removed or switched off: nothing to deliver to
    } else if (delivery.attempts > delivery.max_attempts) {
      exhausted.push({ jobId: delivery.job_id, ok: false, error: "delivery abandoned mid-attempt", ms: 0 });
    } else {
      sendable.push(delivery);
    }
  }
  const outcomes = [...exhausted, ...(await Promise.all(sendable.map((delivery) => post(delivery, now))))];
  await record(run, outcomes, skipped, new Date(Math.max(Date.now(), now.getTime())));
  const byId = new Map(claimed.map((d) => [d.job_id, d]));
  const failed = outcomes.filter((o) => !o.ok);
  for (const outcome of failed) {
    const delivery = byId.get(outcome.jobId)!;
    logger.warn("approval webhook delivery failed", {
      jobId: outcome.jobId,
      requestId: delivery.request_id,
      attempt: delivery.attempts,
      error: outcome.error,
    });
  }
  return {
    delivered: outcomes.length - failed.length,
    failed: failed.length,
    deadLettered: failed.filter((o) => byId.get(o.jobId)!.attempts >= byId.get(o.jobId)!.max_attempts).length,
  };
}

/**
 * Delivers the notifications of requests that were just committed, as the requests' tenant
 * (a request path never needs the maintenance role). Runs after commit and never throws:
 * what it cannot deliver stays in the outbox for `deliverPendingNotifications`.
 */
export async function deliverApprovalNotifications(
  database: Database,
  workspaceId: string,
  requestIds: string[],
): Promise<void> {
  if (requestIds.length === 0) return;
  try {
    await deliver(
      (fn) => database.withTenant({ workspaceId }, fn),
      new Date(),
      and(sql`workspace_id = ${workspaceId}::uuid`, inArray(sql`input_data->>'requestId'`, requestIds)),
    );
  } catch (error) {
    logger.error("approval notifications not delivered; they stay queued", { requestIds, error });
  }
}

/**
 * The scheduled retry: delivers due notifications across workspaces in bounded batches
 * (at most `maxBatches`) and returns counts.
 */
export async function deliverPendingNotifications(
  database: Database,
  now: Date = new Date(),
  maxBatches = 10,
): Promise<{ delivered: number; failed: number; deadLettered: number }> {
  const total = { delivered: 0, failed: 0, deadLettered: 0 };
  for (let batch = 0; batch < maxBatches; batch++) {
    const result = await deliver((fn) => database.withMaintenance(fn), now);
    total.delivered += result.delivered;
    total.failed += result.failed;
    total.deadLettered += result.deadLettered;
    if (result.delivered + result.failed < BATCH) break;
  }
  return total;
}

/**
 * Redrives a webhook dead letter: its notification job goes back to PENDING with a fresh
 * attempt budget and the dead letter is marked REDRIVEN, in the caller's transaction
 * (for the dead-letter API; deliver after commit with `deliverPendingNotifications`).
 * Returns false when the dead letter is not an open webhook one of this workspace.
 */
export async function redriveWebhookDeadLetter(
  tx: Tx,
  workspaceId: string,
  deadLetterId: string,
  redrivenBy: string,
): Promise<boolean> {
  const redriven = await rows<{ id: string }>(
    tx,
    sql`with letter as (
          update dead_letters
          set status = 'REDRIVEN', redrive_count = redrive_count + 1, redriven_at = now(), redriven_by = ${redrivenBy}, updated_at = now()
          where id = ${deadLetterId}::uuid and workspace_id = ${workspaceId}::uuid and source = 'webhook' and status = 'OPEN'
          returning payload)
        update processing_jobs j
        set status = 'PENDING', attempts = 0, available_at = now(), locked_until = null, completed_at = null, updated_at = now()
        from letter l
        where j.id = (l.payload->>'jobId')::uuid and j.workspace_id = ${workspaceId}::uuid and j.status = 'FAILED'
        returning j.id`,
  );
  return redriven.length > 0;
}
