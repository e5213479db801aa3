/**
 * What a closed request does to its item, in the transaction that closes it:
 * - BEFORE gate: approved → the item becomes QUEUED (claimable); rejected → CANCELLED.
 * - AFTER gate: approved → COMPLETED (its stored result is accepted); rejected → FAILED
 *   with a dead letter (`onReject` FAIL) or QUEUED again for rework (`onReject` REWORK).
 * Then the orders' statuses follow their items. Set-based: one statement per kind of effect.
 */
import { sql } from "drizzle-orm";
import { rows, type Tx } from "../../db/client";
import {
  type ActorRef,
  cancelItems,
  failItemsToDeadLetter,
  refreshOrderStatus,
  requeueItems,
} from "../work-orders/lifecycle";

export type { ActorRef };

export interface ClosedRequest {
  id: string;
  workspaceId: string;
  workItemId: string;
  workOrderId: string;
  gate: "BEFORE" | "AFTER";
  onReject: "FAIL" | "REWORK";
  status: "APPROVED" | "REJECTED";
  reason: string | null;
}

/** After-gate approval: the stored result is accepted (no lifecycle helper completes items). */
async function completeReviewedItems(tx: Tx, actor: ActorRef, requests: ClosedRequest[]): Promise<string[]> {
  if (requests.length === 0) return [];
  const items = JSON.stringify(requests.map((r) => ({ itemId: r.workItemId, requestId: r.id })));
  const completed = await rows<{ id: string; work_order_id: string }>(
    tx,
    sql`with input as (
          select * from jsonb_to_recordset(${items}::jsonb) as x("itemId" uuid, "requestId" uuid)
        ),
        target as (
          update work_items i
          set status = 'COMPLETED', completed_at = now(), updated_at = now()
          from input x
          where i.id = x."itemId" and i.status = 'AWAITING_APPROVAL'
          returning i.id, i.workspace_id, i.work_order_id, x."requestId" as request_id
        ),
        logged as (
          insert into activity_log (workspace_id, actor_type, actor_id, action, entity_type, entity_id, before, after)
          select t.workspace_id, ${actor.type}::actor_type, ${actor.id}, 'work_item.completed', 'work_item', t.id,
                 jsonb_build_object('status', 'AWAITING_APPROVAL'),
                 jsonb_build_object('status', 'COMPLETED', 'approvalRequestId', t.request_id)
          from target t
        )
        select id, work_order_id from target`,
  );
  await refreshOrderStatus(
    tx,
    completed.map((row) => row.work_order_id),
    { actor },
  );
  return completed.map((row) => row.id);
}

/** Applies the effects of requests that just closed; returns the items that changed. */
export async function applyApprovalEffects(tx: Tx, actor: ActorRef, closed: ClosedRequest[]): Promise<string[]> {
  if (closed.length === 0) return [];
  const approved = closed.filter((r) => r.status === "APPROVED");
  const rejected = closed.filter((r) => r.status === "REJECTED");
  const why = (r: ClosedRequest) => `Approval ${r.id} rejected${r.reason ? `: ${r.reason}` : ""}`;

  const released = await requeueItems(
    tx,
    actor,
    approved
      .filter((r) => r.gate === "BEFORE")
      .map((r) => ({ itemId: r.workItemId, reason: `Approval ${r.id} approved` })),
  );
  const completed = await completeReviewedItems(
    tx,
    actor,
    approved.filter((r) => r.gate === "AFTER"),
  );
  const cancelled = await cancelItems(
    tx,
    actor,
    rejected.filter((r) => r.gate === "BEFORE").map((r) => ({ itemId: r.workItemId, reason: why(r) })),
  );
  const failed = await failItemsToDeadLetter(
    tx,
    actor,
    rejected
      .filter((r) => r.gate === "AFTER" && r.onReject === "FAIL")
      .map((r) => ({ itemId: r.workItemId, reason: why(r) })),
  );
  const rework = await requeueItems(
    tx,
    actor,
    rejected
      .filter((r) => r.gate === "AFTER" && r.onReject === "REWORK")
      .map((r) => ({ itemId: r.workItemId, reason: why(r) })),
  );
  return [...released, ...completed, ...cancelled, ...failed.map((f) => f.itemId), ...rework];
}
