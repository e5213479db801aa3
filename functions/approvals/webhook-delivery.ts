/**
 * Approval webhooks, a handler on the internal job runtime. `openApprovalRequests` enqueues one
 * `approval_webhook` job per request and active API connector in the request's transaction (so
 * a notification exists exactly when its request does) and delivers them after commit; the
 * sweeper delivers what is still due. A failed POST is retried with backoff; after
 * `WEBHOOK_MAX_ATTEMPTS` the job fails and a dead letter (source `webhook`) is written in the
 * same statement, so a notification is never silently lost.
 *
 * The body is signed: `X-Cairn-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`
 * with `X-Cairn-Timestamp: <unix seconds>`; receivers recompute it over the raw body and reject
 * old timestamps (replays).
 *
 * Destinations must be public addresses unless the deployment allows private ones
 * (functions/shared/outbound.ts); a refused one fails like an unreachable receiver, with the
 * reason in the job's errors and, in the end, its dead letter.
 */
import { sql } from "drizzle-orm";
import { type Database, pgArray, rows } from "../../db/client";
import type { JobHandler } from "../jobs/runtime/job";
import { runJobs } from "../jobs/runtime/worker";
import { logger } from "../shared/logger";
import { postToDestination } from "../shared/outbound";
import type { RetryPolicy } from "../shared/retry";
import { SIGNATURE_HEADER, signBody, TIMESTAMP_HEADER } from "../shared/signatures";
import { summarizePayload } from "./summary";

export const APPROVAL_WEBHOOK_JOB = "approval_webhook";
export const WEBHOOK_MAX_ATTEMPTS = 5;
export const WEBHOOK_TIMEOUT_MS = 5_000;
/** Deliveries claimed per round. */
const BATCH = 50;
/**
 * 30 s doubling per attempt up to an hour. Equal jitter rather than full: a receiver that is
 * down is not retried at once, and the floor of half the backoff is what its operator can count on.
 */
export const WEBHOOK_RETRY: RetryPolicy = { baseMs: 30_000, capMs: 3_600_000, jitter: "equal" };

interface Delivery {
  workspace_id: string;
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

const toIso = (value: string | Date | null) => (value === null ? null : new Date(value).toISOString());

export function notificationBody(jobId: string, delivery: Delivery): string {
  return JSON.stringify({
    type: "approval.requested",
    deliveryId: jobId,
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

/** Why a failed POST failed, in one line (a non-2xx status, or the network error and its code). */
class DeliveryFailed extends Error {
  constructor(message: string) {
    super(message.slice(0, 500));
    this.name = "DeliveryFailed";
  }
}

export const webhookDeliveryHandler: JobHandler<{ delivered: boolean; ms?: number; skipped?: string }> = {
  type: APPROVAL_WEBHOOK_JOB,
  maxAttempts: WEBHOOK_MAX_ATTEMPTS,
  retry: WEBHOOK_RETRY,
  // A claim outlives the POST's timeout by far; a deliverer that died is replaced after it.
  leaseMs: 60_000,
  concurrency: 10,
  async run(job, context) {
    // Read what the delivery needs, then POST outside any transaction.
    const [delivery] = await context.database.withTenant({ workspaceId: job.workspaceId }, (tx) =>
      rows<Delivery>(
        tx,
        sql`select j.workspace_id, r.id as request_id, c.id as connector_id, c.webhook_url, c.signing_secret,
                   c.status as connector_status, r.gate, r.status, r.required_approvals, r.approvals_count,
                   r.approver_roles, r.approver_user_ids, r.deadline, r.timeout_action, r.policy_id, r.policy_version,
                   r.requested_by, r.created_at as request_created_at, r.work_item_id, r.work_order_id,
                   i.type as item_type, i.payload as item_payload, o.title as order_title
            from processing_jobs j
            left join approval_requests r on r.id = (j.input_data->>'requestId')::uuid and r.workspace_id = j.workspace_id
            left join connectors c on c.id = (j.input_data->>'connectorId')::uuid and c.workspace_id = j.workspace_id
            left join work_items i on i.id = r.work_item_id
            left join work_orders o on o.id = r.work_order_id
            where j.id = ${job.id}::uuid`,
      ),
    );
    const finish = (output: { delivered: boolean; ms?: number; skipped?: string }) =>
      context.inJob(async (_tx, complete) => {
        await complete(output);
        return output;
      });
    if (
      !delivery?.request_id ||
      !delivery.webhook_url ||
      !delivery.signing_secret ||
      delivery.connector_status !== "ACTIVE"
    ) {
      // The connector was removed or switched off: nothing to deliver to.
      return finish({ delivered: false, skipped: "the connector is gone or not active" });
    }
    const started = performance.now();
    const body = notificationBody(job.id, delivery);
    const timestamp = String(Math.floor(context.now.getTime() / 1000));
    let status: number;
    try {
      status = await postToDestination(delivery.webhook_url, {
        headers: {
          "content-type": "application/json",
          "user-agent": "Cairn-Webhooks/1",
          "x-cairn-event": "approval.requested",
          "x-cairn-delivery": job.id,
          [TIMESTAMP_HEADER]: timestamp,
          [SIGNATURE_HEADER]: signBody(delivery.signing_secret, timestamp, body),
        },
        body,
        timeoutMs: WEBHOOK_TIMEOUT_MS,
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      const message = (error as Error).message;
      throw new DeliveryFailed(`${message}${code && !message.includes(code) ? ` (${code})` : ""}`);
    }
    if (status < 200 || status >= 300) throw new DeliveryFailed(`HTTP ${status}`);
    return finish({ delivered: true, ms: Math.round(performance.now() - started) });
  },
  deadLetter: async (_tx, job, error) => ({
    source: "webhook",
    reason: `Approval notification was not delivered after ${job.attempts} attempts: ${error}`,
    payload: {
      jobId: job.id,
      jobType: APPROVAL_WEBHOOK_JOB,
      requestId: job.input.requestId ?? null,
      connectorId: job.input.connectorId ?? null,
    },
  }),
};

export interface DeliverySummary {
  delivered: number;
  failed: number;
  deadLettered: number;
}

const summary = (run: Awaited<ReturnType<typeof runJobs>>): DeliverySummary => ({
  delivered: run.completed.length,
  failed: run.failed,
  deadLettered: run.deadLettered,
});

/**
 * Delivers the notifications a request just enqueued, as its workspace's tenant, after commit.
 * Never throws: what it cannot deliver stays queued for the sweeper.
 */
export async function deliverNotifications(database: Database, workspaceId: string, jobIds: string[]): Promise<void> {
  try {
    await runJobs(database, [webhookDeliveryHandler], { scope: { workspaceId, jobIds }, limit: BATCH });
  } catch (error) {
    logger.error("approval notifications not delivered; they stay queued", { jobIds, error });
  }
}

/** The sweeper's retry: delivers due notifications across workspaces, at most `maxBatches` rounds. */
export async function deliverPendingNotifications(
  database: Database,
  now: Date = new Date(),
  maxBatches = 10,
): Promise<DeliverySummary> {
  return summary(await runJobs(database, [webhookDeliveryHandler], { now, limit: BATCH, maxRounds: maxBatches }));
}
