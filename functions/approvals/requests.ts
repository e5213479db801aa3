/** Reading approval requests: the inbox (oldest deadline first) and one request with its decisions. */

import { z } from "@hono/zod-openapi";
import { and, asc, eq, type SQL, sql } from "drizzle-orm";
import { pgArray, rows, type Tx } from "../../db/client";
import { approvalEvents, approvalStatus } from "../../db/schema";
import type { Actor } from "../shared/actor";
import { BadRequest, NotFound } from "../shared/errors";
import { parseInput } from "../shared/validation";
import { summarizePayload } from "./summary";

export const ApprovalListQuery = z.object({
  status: z.enum(approvalStatus.enumValues).optional(),
  mine: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true")
    .openapi({
      description: "Only requests the caller may decide now (allowed approver, not the requester, not yet decided)",
    }),
  workItemId: z.string().uuid().optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(300).optional().openapi({ description: "`nextCursor` of the previous page" }),
});
export type ApprovalListQuery = z.infer<typeof ApprovalListQuery>;

interface RequestRow {
  id: string;
  status: string;
  gate: string;
  work_item_id: string;
  work_order_id: string;
  policy_id: string | null;
  policy_version: number | null;
  required_approvals: number;
  approvals_count: number;
  approver_roles: string[] | string;
  approver_user_ids: string[] | string;
  requested_by: string | null;
  deadline: string | Date | null;
  timeout_action: string;
  escalate_to_roles: string[] | string;
  escalation_timeout_seconds: number | null;
  escalation_level: number;
  on_reject: string;
  decided_at: string | Date | null;
  created_at: string | Date;
  item_type: string;
  item_status: string;
  item_payload: Record<string, unknown>;
  order_title: string;
  order_requested_by: string | null;
}

const date = (value: string | Date | null) => (value === null ? null : new Date(value));

function requestView(row: RequestRow) {
  return {
    id: row.id,
    status: row.status,
    gate: row.gate,
    workItemId: row.work_item_id,
    workOrderId: row.work_order_id,
    policyId: row.policy_id,
    policyVersion: row.policy_version,
    requiredApprovals: row.required_approvals,
    approvalsCount: row.approvals_count,
    approverRoles: pgArray(row.approver_roles),
    approverUserIds: pgArray(row.approver_user_ids),
    requestedBy: row.requested_by,
    deadline: date(row.deadline),
    timeoutAction: row.timeout_action,
    escalateToRoles: pgArray(row.escalate_to_roles),
    escalationTimeoutSeconds: row.escalation_timeout_seconds,
    escalationLevel: row.escalation_level,
    onReject: row.on_reject,
    decidedAt: date(row.decided_at),
    createdAt: date(row.created_at)!,
    item: {
      type: row.item_type,
      status: row.item_status,
      orderTitle: row.order_title,
      payloadSummary: summarizePayload(row.item_payload ?? {}),
    },
  };
}
export type ApprovalRequestView = ReturnType<typeof requestView>;

const selectRequests = sql`
  select r.id, r.status, r.gate, r.work_item_id, r.work_order_id, r.policy_id, r.policy_version,
         r.required_approvals, r.approvals_count, r.approver_roles, r.approver_user_ids, r.requested_by,
         r.deadline, r.timeout_action, r.escalate_to_roles, r.escalation_timeout_seconds, r.escalation_level,
         r.on_reject, r.decided_at, r.created_at,
         i.type as item_type, i.status as item_status, i.payload as item_payload,
         o.title as order_title, o.requested_by as order_requested_by
  from approval_requests r
  join work_items i on i.id = r.work_item_id
  join work_orders o on o.id = r.work_order_id`;

/** The inbox sorts by deadline (none last), then age; the cursor carries that position. */
const InboxCursor = z.object({ d: z.string().datetime().nullable(), t: z.string().datetime(), id: z.string().uuid() });
function encodeCursor(view: ApprovalRequestView): string {
  return Buffer.from(
    JSON.stringify({ d: view.deadline?.toISOString() ?? null, t: view.createdAt.toISOString(), id: view.id }),
  ).toString("base64url");
}
function decodeCursor(cursor: string): z.infer<typeof InboxCursor> {
  try {
    return parseInput(InboxCursor, JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")));
  } catch {
    throw new BadRequest("The cursor is not valid; pass the nextCursor of a previous page");
  }
}

/** SQL: the caller may decide this request now (mirrors the checks in `recordDecision`). */
export function callerMayDecide(actor: Pick<Actor, "userId" | "role">): SQL {
  return sql`r.status = 'PENDING' and i.status = 'AWAITING_APPROVAL' and (r.deadline is null or r.deadline > now())
    and ${actor.role !== null}
    and (${actor.role ?? ""}::text = any(r.approver_roles::text[]) or ${actor.userId}::uuid = any(r.approver_user_ids))
    and r.requested_by is distinct from ${actor.userId}::uuid
    and o.requested_by is distinct from ${actor.userId}::uuid
    and not exists (select 1 from approval_events e where e.request_id = r.id and e.actor_user_id = ${actor.userId}::uuid)`;
}

export async function listApprovals(tx: Tx, actor: Actor, query: ApprovalListQuery) {
  const filters: SQL[] = [sql`r.workspace_id = ${actor.workspaceId}`];
  if (query.status) filters.push(sql`r.status = ${query.status}`);
  if (query.workItemId) filters.push(sql`r.work_item_id = ${query.workItemId}`);
  if (query.mine) filters.push(callerMayDecide(actor));
  if (query.cursor) {
    const position = decodeCursor(query.cursor);
    filters.push(
      sql`(coalesce(r.deadline, 'infinity'::timestamptz), r.created_at, r.id)
          > (coalesce(${position.d}::timestamptz, 'infinity'::timestamptz), ${position.t}::timestamptz, ${position.id}::uuid)`,
    );
  }
  const found = await rows<RequestRow>(
    tx,
    sql`${selectRequests}
        where ${sql.join(filters, sql` and `)}
        order by coalesce(r.deadline, 'infinity'::timestamptz), r.created_at, r.id
        limit ${query.limit + 1}`,
  );
  const items = found.slice(0, query.limit).map(requestView);
  const last = items[items.length - 1];
  return { items, nextCursor: found.length > query.limit && last ? encodeCursor(last) : null };
}

export async function getApproval(tx: Tx, actor: Pick<Actor, "workspaceId">, requestId: string) {
  const [row] = await rows<RequestRow>(
    tx,
    sql`${selectRequests} where r.workspace_id = ${actor.workspaceId} and r.id = ${requestId}`,
  );
  if (!row) throw new NotFound("Approval request", requestId);
  const decisions = await tx
    .select({
      id: approvalEvents.id,
      actorType: approvalEvents.actorType,
      actorUserId: approvalEvents.actorUserId,
      decision: approvalEvents.decision,
      reason: approvalEvents.reason,
      policyId: approvalEvents.policyId,
      policyVersion: approvalEvents.policyVersion,
      createdAt: approvalEvents.createdAt,
    })
    .from(approvalEvents)
    .where(and(eq(approvalEvents.workspaceId, actor.workspaceId), eq(approvalEvents.requestId, requestId)))
    .orderBy(asc(approvalEvents.createdAt), asc(approvalEvents.id));
  return { ...requestView(row), decisions };
}
