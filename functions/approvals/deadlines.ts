/**
 * The deadline sweeper: applies each overdue PENDING request's timeout action and records
 * it as a SYSTEM decision. APPROVE closes it approved (a soft gate), REJECT closes it
 * rejected (a hard gate), ESCALATE hands it to the escalation roles with a new deadline
 * (once; an escalated request that times out again is rejected). Runs across workspaces as
 * cairn_maintenance, in bounded batches; rows another sweeper or a decider holds are skipped
 * (SKIP LOCKED) and picked up by the next run.
 */
import { and, asc, eq, lte, sql } from "drizzle-orm";
import { type Database, rows } from "../../db/client";
import { approvalRequests } from "../../db/schema";
import { systemActor } from "../shared/actor";
import { audit } from "../shared/audit";
import { closeRequests, escalateRequests, insertEvents, type NewEvent, type RequestRow } from "./decisions";

export interface SweepCounts {
  approved: number;
  rejected: number;
  escalated: number;
  /** Pending requests closed as CANCELLED because their item no longer awaits approval (cancelled order). */
  cancelled: number;
}

/**
 * Requests whose item left AWAITING_APPROVAL some other way (its order was cancelled) can
 * never be decided: they are closed as CANCELLED, so inboxes and deadlines skip them.
 */
async function cancelOrphanedRequests(database: Database, now: Date, limit: number): Promise<number> {
  return database.withMaintenance(async (tx) => {
    const cancelled = await rows<{ id: string }>(
      tx,
      sql`with orphaned as (
            select r.id from approval_requests r join work_items i on i.id = r.work_item_id
            where r.status = 'PENDING' and i.status <> 'AWAITING_APPROVAL'
            limit ${limit}
            for update of r skip locked)
          update approval_requests r set status = 'CANCELLED', decided_at = ${now}, updated_at = ${now}
          from orphaned o where r.id = o.id
          returning r.id`,
    );
    return cancelled.length;
  });
}

const TIMEOUT_REASON = {
  APPROVED: "Deadline passed: approved by the timeout action",
  REJECTED: "Deadline passed: rejected by the timeout action",
  ESCALATED: "Deadline passed: escalated",
} as const;

function outcomeOf(request: RequestRow): "APPROVED" | "REJECTED" | "ESCALATED" {
  if (request.timeoutAction === "APPROVE") return "APPROVED";
  if (request.timeoutAction === "ESCALATE" && request.escalateToRoles.length > 0 && request.escalationLevel === 0)
    return "ESCALATED";
  return "REJECTED";
}

export async function sweepApprovalDeadlines(
  database: Database,
  now: Date = new Date(),
  options: { batchSize?: number; maxBatches?: number } = {},
): Promise<SweepCounts> {
  const batchSize = options.batchSize ?? 100;
  const maxBatches = options.maxBatches ?? 20;
  const totals: SweepCounts = { approved: 0, rejected: 0, escalated: 0, cancelled: 0 };
  totals.cancelled = await cancelOrphanedRequests(database, now, batchSize * maxBatches);
  for (let batch = 0; batch < maxBatches; batch++) {
    const swept = await database.withMaintenance(async (tx) => {
      const due = await tx
        .select()
        .from(approvalRequests)
        .where(and(eq(approvalRequests.status, "PENDING"), lte(approvalRequests.deadline, now)))
        .orderBy(asc(approvalRequests.deadline))
        .limit(batchSize)
        .for("update", { skipLocked: true });
      const events: NewEvent[] = due.map((request) => {
        const decision = outcomeOf(request);
        return {
          request,
          actorType: "SYSTEM",
          actorUserId: null,
          apiKeyId: null,
          decision,
          reason: TIMEOUT_REASON[decision],
        };
      });
      await insertEvents(tx, events);
      const closing = events
        .filter((e) => e.decision !== "ESCALATED")
        .map((e) => ({ request: e.request, status: e.decision as "APPROVED" | "REJECTED", reason: e.reason }));
      await closeRequests(tx, { workspaceId: null, type: "SYSTEM", id: null }, closing);
      await escalateRequests(
        tx,
        events.filter((e) => e.decision === "ESCALATED").map((e) => e.request),
        now,
      );
      await audit(
        tx,
        systemActor(null, "approval-deadlines"),
        events.map((e) => ({
          workspaceId: e.request.workspaceId,
          action: `approval.timeout.${e.decision.toLowerCase()}`,
          entity: { type: "approval_request", id: e.request.id },
          before: { status: e.request.status, deadline: e.request.deadline, timeoutAction: e.request.timeoutAction },
          after: { decision: e.decision },
        })),
      );
      return events;
    });
    for (const event of swept) {
      if (event.decision === "APPROVED") totals.approved++;
      else if (event.decision === "REJECTED") totals.rejected++;
      else totals.escalated++;
    }
    if (swept.length < batchSize) break;
  }
  return totals;
}
