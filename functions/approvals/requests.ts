/** Reading approval requests: the inbox (oldest deadline first) and one request with its decisions. */

import { z } from "@hono/zod-openapi";
import { and, asc, eq, type SQL, sql } from "drizzle-orm";
import { mapRow, rows, type Tx } from "../../db/client";
import { approvalEvents, approvalRequests, approvalStatus } from "../../db/schema";
import type { Actor } from "../shared/actor";
import { BadRequest, NotFound } from "../shared/errors";
import { parseInput } from "../shared/validation";
import { type ApprovalRequest, decisionColumns } from "./schemas";
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

/** A request row (r.*) joined with what its inbox entry shows of the item and order. */
type RequestRow = Record<string, unknown> & {
  item_type: string;
  item_status: string;
  item_payload: Record<string, unknown> | null;
  order_title: string;
};

function requestView(row: RequestRow): ApprovalRequest {
  const { workspaceId: _workspace, updatedAt: _updated, ...request } = mapRow(approvalRequests, row);
  return {
    ...request,
    item: {
      type: row.item_type,
      status: row.item_status,
      orderTitle: row.order_title,
      payloadSummary: summarizePayload(row.item_payload ?? {}),
    },
  };
}

const selectRequests = sql`
  select r.*, i.type as item_type, i.status as item_status, i.payload as item_payload, o.title as order_title
  from approval_requests r
  join work_items i on i.id = r.work_item_id
  join work_orders o on o.id = r.work_order_id`;

/** The inbox sorts by deadline (none last), then age; the cursor carries that position. */
const InboxCursor = z.object({ d: z.string().datetime().nullable(), t: z.string().datetime(), id: z.string().uuid() });
function encodeCursor(view: ApprovalRequest): string {
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
    .select(decisionColumns)
    .from(approvalEvents)
    .where(and(eq(approvalEvents.workspaceId, actor.workspaceId), eq(approvalEvents.requestId, requestId)))
    .orderBy(asc(approvalEvents.createdAt), asc(approvalEvents.id));
  return { ...requestView(row), decisions };
}
