/**
 * What a closed request does to its item, in the transaction that closes it:
 * - BEFORE gate: approved → the item becomes QUEUED (claimable); rejected → CANCELLED.
 * - AFTER gate: approved → COMPLETED (its stored result is accepted); rejected → FAILED
 *   with a dead letter (`onReject` FAIL) or QUEUED again for rework (`onReject` REWORK).
 * Then the orders' statuses follow their items. Set-based: one statement per kind of effect.
 */
import type { Tx } from "../../db/client";
import { cancelItems, completeReviewedItems, failItemsToDeadLetter, requeueItems } from "../lifecycle/items";
import type { ActorRef } from "../shared/actor";

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
    approved.filter((r) => r.gate === "AFTER").map((r) => ({ workItemId: r.workItemId, requestId: r.id })),
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
