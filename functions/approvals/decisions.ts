/**
 * Decisions on approval requests. Every decision locks its request row first
 * (SELECT ... FOR UPDATE), so concurrent deciders are serialised: the count is never
 * lost and a request closes exactly once. A decision that arrives at a request that is
 * already closed (or past its deadline) is refused with 409 and is NOT recorded: the log
 * holds exactly the decisions that took part in the outcome, in the order they were made.
 */

import { z } from "@hono/zod-openapi";
import { and, eq, type SQL, sql } from "drizzle-orm";
import { rows, type Tx } from "../../db/client";
import { approvalEvents, approvalRequests, workItems, workOrders } from "../../db/schema";
import type { Actor, ActorRef } from "../shared/actor";
import { actorRef } from "../shared/actor";
import { audit } from "../shared/audit";
import { Conflict, Forbidden, Invalid, NotFound } from "../shared/errors";
import { parseInput } from "../shared/validation";
import { applyApprovalEffects, type ClosedRequest } from "./effects";
import { getApproval } from "./requests";

export const DecisionInput = z
  .strictObject({
    decision: z.enum(["APPROVED", "REJECTED", "ESCALATED"]),
    reason: z.string().trim().min(1).max(2000).optional(),
  })
  .refine((input) => input.decision === "APPROVED" || input.reason !== undefined, {
    message: "A rejection or an escalation needs a reason",
    path: ["reason"],
  })
  .openapi("DecisionInput");
export type DecisionInput = z.infer<typeof DecisionInput>;

export type RequestRow = typeof approvalRequests.$inferSelect;

/**
 * The event's time: the clock after the lock was taken, and strictly after the request's
 * previous event, so the log's order is the order decisions were applied.
 */
const eventTime = (requestId: string) =>
  sql`greatest(clock_timestamp(), (select max(e.created_at) + interval '1 millisecond'
                                   from approval_events e where e.request_id = ${requestId}::uuid))`;

/**
 * The time of the request's latest decision (the database's clock, like every timestamp of a
 * decision): a request closes, or moves on, at the time of the decision that made it.
 */
const lastDecisionTime = (requestId: SQL) =>
  sql`(select max(e.created_at) from approval_events e where e.request_id = ${requestId})`;

export interface NewEvent {
  request: RequestRow;
  actorType: "USER" | "SYSTEM";
  actorUserId: string | null;
  /** The key the person decided with (null for the system). */
  apiKeyId: string | null;
  decision: "APPROVED" | "REJECTED" | "ESCALATED";
  reason: string | null;
}

/** Appends decisions to the log (one INSERT), each with the policy version its request was made under. */
export async function insertEvents(tx: Tx, events: NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  await tx.insert(approvalEvents).values(
    events.map(({ request, ...event }) => ({
      workspaceId: request.workspaceId,
      requestId: request.id,
      workItemId: request.workItemId,
      actorType: event.actorType,
      actorUserId: event.actorUserId,
      apiKeyId: event.apiKeyId,
      decision: event.decision,
      reason: event.reason,
      policyId: request.policyId,
      policyVersion: request.policyVersion,
      createdAt: eventTime(request.id),
    })),
  );
}

/**
 * Closes requests and applies their effects on the items, in the caller's transaction. Each
 * request's closing decision is in the log already: `decidedAt` is that decision's `createdAt`.
 */
export async function closeRequests(
  tx: Tx,
  actor: ActorRef,
  closing: Array<{ request: RequestRow; status: "APPROVED" | "REJECTED"; reason: string | null }>,
): Promise<void> {
  for (const status of ["APPROVED", "REJECTED"] as const) {
    const ids = closing.filter((c) => c.status === status).map((c) => c.request.id);
    if (ids.length === 0) continue;
    const decided = lastDecisionTime(sql`approval_requests.id`);
    await tx.execute(
      sql`update approval_requests set status = ${status}, decided_at = ${decided}, updated_at = ${decided}
          where id in (${sql.join(
            ids.map((id) => sql`${id}::uuid`),
            sql`, `,
          )}) and status = 'PENDING'`,
    );
  }
  const closed: ClosedRequest[] = closing.map(({ request, status, reason }) => ({
    id: request.id,
    workspaceId: request.workspaceId,
    workItemId: request.workItemId,
    workOrderId: request.workOrderId,
    gate: request.gate,
    onReject: request.onReject,
    status,
    reason,
  }));
  await applyApprovalEffects(tx, actor, closed);
}

/**
 * Hands a request to its escalation roles with a new deadline, counted from `now` (the sweeper's
 * clock) or, by default, from the escalating decision. After an escalation the deadline action is
 * REJECT: an escalated request that is still ignored does not pass.
 */
export async function escalateRequests(
  tx: Tx,
  requests: RequestRow[],
  now: Date | SQL = lastDecisionTime(sql`approval_requests.id`),
): Promise<void> {
  if (requests.length === 0) return;
  await tx.execute(
    sql`update approval_requests
        set approver_roles = escalate_to_roles, approver_user_ids = '{}', escalation_level = escalation_level + 1,
            deadline = case when escalation_timeout_seconds is null then null
                            else ${now}::timestamptz + make_interval(secs => escalation_timeout_seconds) end,
            timeout_action = 'REJECT', updated_at = ${now}
        where id in (${sql.join(
          requests.map((r) => sql`${r.id}::uuid`),
          sql`, `,
        )}) and status = 'PENDING'`,
  );
}

function mayDecide(request: RequestRow, person: { userId: string; role: Actor["role"] }): boolean {
  if (person.role === null) return false; // no longer a member of the workspace
  return request.approverRoles.includes(person.role) || request.approverUserIds.includes(person.userId);
}

/**
 * Records one decision (the route has checked the `approvals:decide` scope). Order of the
 * checks: unknown id 404; closed or past its deadline 409; the requester (four-eyes) or a
 * caller who is not an allowed approver 403; a second decision by the same approver 409.
 */
export async function recordDecision(tx: Tx, actor: Actor, requestId: string, raw: z.input<typeof DecisionInput>) {
  const input = parseInput(DecisionInput, raw);
  const { userId } = actor;
  if (userId === null) {
    throw new Forbidden("A service key acts as no person and cannot decide an approval; decisions are people's");
  }
  // The deadline is compared on the database's clock, the one every decision is stamped with.
  const [locked] = await tx
    .select({
      request: approvalRequests,
      pastDeadline: sql<boolean>`coalesce(${approvalRequests.deadline} <= clock_timestamp(), false)`,
    })
    .from(approvalRequests)
    .where(and(eq(approvalRequests.workspaceId, actor.workspaceId), eq(approvalRequests.id, requestId)))
    .for("update");
  if (!locked) throw new NotFound("Approval request", requestId);
  const { request } = locked;
  if (request.status !== "PENDING")
    throw new Conflict(`The approval request is already ${request.status}`, { status: request.status });
  if (locked.pastDeadline) {
    throw new Conflict("The approval request is past its deadline; its timeout action applies", {
      deadline: request.deadline,
      timeoutAction: request.timeoutAction,
    });
  }
  const [context] = await tx
    .select({ orderRequestedBy: workOrders.requestedBy, itemStatus: workItems.status })
    .from(workItems)
    .innerJoin(workOrders, eq(workOrders.id, workItems.workOrderId))
    .where(eq(workItems.id, request.workItemId));
  if (context?.itemStatus !== "AWAITING_APPROVAL") {
    throw new Conflict(`The work item is no longer awaiting approval (it is ${context?.itemStatus ?? "gone"})`);
  }
  // Four-eyes compares people: whoever's key it was, the person who asked does not decide.
  if (request.requestedBy === userId || context.orderRequestedBy === userId) {
    throw new Forbidden("The requester of the work cannot decide its approval (four-eyes rule)");
  }
  if (!mayDecide(request, { userId, role: actor.role })) {
    throw new Forbidden("The caller is not an allowed approver of this request", {
      approverRoles: request.approverRoles,
      role: actor.role,
    });
  }
  const [previous] = await rows<{ decision: string }>(
    tx,
    sql`select decision from approval_events where request_id = ${request.id} and actor_user_id = ${userId} limit 1`,
  );
  if (previous) throw new Conflict(`The caller already decided this request (${previous.decision})`);
  if (input.decision === "ESCALATED") {
    if (request.escalateToRoles.length === 0) throw new Invalid("This request has no roles to escalate to");
    if (request.escalationLevel > 0) throw new Conflict("The approval request has already been escalated");
  }

  await insertEvents(tx, [
    {
      request,
      actorType: "USER",
      actorUserId: userId,
      apiKeyId: actor.apiKeyId,
      decision: input.decision,
      reason: input.reason ?? null,
    },
  ]);
  const who = actorRef(actor);
  if (input.decision === "APPROVED") {
    const approvals = request.approvalsCount + 1;
    await tx
      .update(approvalRequests)
      .set({ approvalsCount: approvals, updatedAt: lastDecisionTime(sql`${request.id}::uuid`) })
      .where(eq(approvalRequests.id, request.id));
    if (approvals >= request.requiredApprovals) {
      await closeRequests(tx, who, [{ request, status: "APPROVED", reason: input.reason ?? null }]);
    }
  } else if (input.decision === "REJECTED") {
    await closeRequests(tx, who, [{ request, status: "REJECTED", reason: input.reason ?? null }]);
  } else {
    await escalateRequests(tx, [request]);
  }
  await audit(tx, actorRef(actor), {
    action: `approval.${input.decision.toLowerCase()}`,
    entity: { type: "approval_request", id: request.id },
    before: { status: request.status, approvalsCount: request.approvalsCount },
    after: { decision: input.decision, reason: input.reason ?? null },
  });
  return getApproval(tx, actor, request.id);
}
