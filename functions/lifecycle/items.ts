/**
 * Set-based state transitions of work items that several contexts apply (approval decisions,
 * dead-letter redrive, scheduled jobs). Every function runs in the caller's transaction, writes
 * its activity rows in that transaction, and leaves order statuses consistent.
 *
 * Lock order, everywhere: work items first, then their work orders. The claim, completion,
 * cancellation and these helpers all follow it, so they cannot deadlock.
 */
import { type SQL, sql } from "drizzle-orm";
import { jsonParam, rows, type Tx } from "../../db/client";
import type { ActorRef } from "../shared/actor";
import { auditCte } from "../shared/audit";
import { cancelledItemsCte } from "./cancelled-items";
import { cancelDependants } from "./dependants";
import { closeFailedItems } from "./failures";
import { refreshOrderStatus } from "./orders";

export { cancelledItemsCte };

/** `workspace_id` filter when the actor is scoped to a workspace (defence in depth beside RLS). */
export const inWorkspace = (column: SQL, actor: ActorRef): SQL =>
  actor.workspaceId ? sql`${column} = ${actor.workspaceId}::uuid` : sql`true`;

/**
 * Items to FAILED with a dead letter each (payload, every attempt's error since the last
 * redrive, plus `reason`), in one statement; then their orders' statuses. Takes items in
 * any non-terminal status (an item that failed review after completing is AWAITING_APPROVAL);
 * a running attempt is closed as FAILED. Items already terminal are skipped.
 */
export async function failItemsToDeadLetter(
  tx: Tx,
  actor: ActorRef,
  items: Array<{ itemId: string; reason: string }>,
): Promise<Array<{ itemId: string; deadLetterId: string }>> {
  if (items.length === 0) return [];
  const failed = await rows<{ item_id: string; dead_letter_id: string; work_order_id: string }>(
    tx,
    sql`with input as (
          select * from jsonb_to_recordset(${jsonParam(items)}) as x("itemId" uuid, reason text)
        ),
        target as (
          update work_items i
          set status = 'FAILED', last_error = x.reason, lease_expires_at = null, locked_by = null, updated_at = now()
          from input x
          where i.id = x."itemId" and ${inWorkspace(sql`i.workspace_id`, actor)}
            and i.status in ('QUEUED', 'AWAITING_APPROVAL', 'PROCESSING')
          returning i.id, i.workspace_id, i.work_order_id, i.status, i.payload, i.current_attempt_id, i.attempt_count,
                    x.reason as error, x.reason
        ),
        ${closeFailedItems("FAILED")},
        ${auditCte(
          "logged",
          actor,
          sql`select t.workspace_id, 'work_item.failed', 'work_item', t.id, null::jsonb,
                     jsonb_build_object('status', 'FAILED', 'reason', t.reason, 'deadLetterId', d.id)
              from target t join dead d on d.work_item_id = t.id
              union all
              select d.workspace_id, 'dead_letter.created', 'dead_letter', d.id, null::jsonb,
                     jsonb_build_object('source', 'work_item', 'workItemId', d.work_item_id)
              from dead d`,
        )}
        select d.work_item_id as item_id, d.id as dead_letter_id, t.work_order_id,
               (select count(*) from attempt) as attempts_closed, (select count(*) from order_lock) as orders_locked
        from dead d join target t on t.id = d.work_item_id`,
  );
  await cancelDependants(
    tx,
    actor,
    failed.map((row) => row.item_id),
  );
  await refreshOrderStatus(
    tx,
    failed.map((row) => row.work_order_id),
    { actor, locked: true },
  );
  return failed.map((row) => ({ itemId: row.item_id, deadLetterId: row.dead_letter_id }));
}
/**
 * Items back to QUEUED (claimable after `delayMs`): from AWAITING_APPROVAL (a before-gate
 * approved, or an after-gate sent back for rework) or FAILED (redrive). `resetAttempts`
 * gives a fresh attempt budget (attempt numbers keep counting: see `budgetAttempts`); `payload` replaces the payload. Items of a cancelled
 * order are never requeued. Returns the ids requeued.
 */
export async function requeueItems(
  tx: Tx,
  actor: ActorRef,
  items: Array<{
    itemId: string;
    reason?: string;
    delayMs?: number;
    resetAttempts?: boolean;
    payload?: Record<string, unknown>;
  }>,
): Promise<string[]> {
  if (items.length === 0) return [];
  const input = items.map((item) => ({
    itemId: item.itemId,
    reason: item.reason ?? null,
    delayMs: Math.max(0, Math.floor(item.delayMs ?? 0)),
    resetAttempts: item.resetAttempts ?? false,
    payload: item.payload ?? null,
  }));
  const requeued = await rows<{ id: string; work_order_id: string; before: string }>(
    tx,
    sql`with input as (
          select * from jsonb_to_recordset(${jsonParam(input)})
            as x("itemId" uuid, reason text, "delayMs" bigint, "resetAttempts" boolean, payload jsonb)
        ),
        previous as (
          select i.id, i.status from work_items i join input x on x."itemId" = i.id
        ),
        target as (
          update work_items i
          set status = 'QUEUED',
              available_at = now() + x."delayMs" * interval '1 millisecond',
              retry_base = case when x."resetAttempts" then i.attempt_count else i.retry_base end,
              payload = coalesce(x.payload, i.payload),
              lease_expires_at = null, locked_by = null, completed_at = null, updated_at = now()
          from input x, work_orders o
          where i.id = x."itemId" and o.id = i.work_order_id and o.status <> 'CANCELLED'
            and ${inWorkspace(sql`i.workspace_id`, actor)}
            and i.status in ('AWAITING_APPROVAL', 'FAILED')
          returning i.id, i.workspace_id, i.work_order_id, x.reason
        ),
        ${auditCte(
          "logged",
          actor,
          sql`select t.workspace_id, 'work_item.requeued', 'work_item', t.id,
                     jsonb_build_object('status', p.status), jsonb_build_object('status', 'QUEUED', 'reason', t.reason)
              from target t join previous p on p.id = t.id`,
        )}
        select t.id, t.work_order_id, p.status::text as before from target t join previous p on p.id = t.id`,
  );
  await refreshOrderStatus(
    tx,
    requeued.map((row) => row.work_order_id),
    { actor },
  );
  return requeued.map((row) => row.id);
}
/**
 * Items to CANCELLED (any non-terminal status; a running attempt is closed as CANCELLED,
 * so its worker's completion gets 409). Returns the ids cancelled.
 */
export async function cancelItems(
  tx: Tx,
  actor: ActorRef,
  items: Array<{ itemId: string; reason?: string }>,
): Promise<string[]> {
  if (items.length === 0) return [];
  const input = items.map((item) => ({ itemId: item.itemId, reason: item.reason ?? null }));
  const cancelled = await rows<{ id: string; work_order_id: string }>(
    tx,
    sql`with input as (
          select * from jsonb_to_recordset(${jsonParam(input)}) as x("itemId" uuid, reason text)
        ),
        ${cancelledItemsCte(sql`i.id in (select "itemId" from input) and ${inWorkspace(sql`i.workspace_id`, actor)}`, actor, sql`(select reason from input where "itemId" = t.id)`)}
        select t.id, t.work_order_id, (select count(*) from attempt) as attempts_closed from target t`,
  );
  await refreshOrderStatus(
    tx,
    cancelled.map((row) => row.work_order_id),
    { actor },
  );
  return cancelled.map((row) => row.id);
}

/**
 * Items AWAITING_APPROVAL after completing (an after-gate) become COMPLETED: their stored
 * result is accepted by the approval request that names them.
 */
export async function completeReviewedItems(
  tx: Tx,
  actor: ActorRef,
  requests: Array<{ workItemId: string; requestId: string }>,
): Promise<string[]> {
  if (requests.length === 0) return [];

  const completed = await rows<{ id: string; work_order_id: string }>(
    tx,
    sql`with input as (
          select * from jsonb_to_recordset(${jsonParam(requests)}) as x("workItemId" uuid, "requestId" uuid)
        ),
        target as (
          update work_items i
          set status = 'COMPLETED', completed_at = now(), updated_at = now()
          from input x
          where i.id = x."workItemId" and i.status = 'AWAITING_APPROVAL'
          returning i.id, i.workspace_id, i.work_order_id, x."requestId" as request_id
        ),
        ${auditCte(
          "logged",
          actor,
          sql`select t.workspace_id, 'work_item.completed', 'work_item', t.id,
                     jsonb_build_object('status', 'AWAITING_APPROVAL'),
                     jsonb_build_object('status', 'COMPLETED', 'approvalRequestId', t.request_id)
              from target t`,
        )}
        select id, work_order_id from target`,
  );
  await refreshOrderStatus(
    tx,
    completed.map((row) => row.work_order_id),
    { actor },
  );
  return completed.map((row) => row.id);
}
