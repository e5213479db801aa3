/** The CTEs that cancel work items: shared by item and order cancellation and dependants of a failure. */
import { type SQL, sql } from "drizzle-orm";
import type { ActorRef } from "../shared/actor";
import { auditCte } from "../shared/audit";

/**
 * CTEs `target` (the items cancelled), `attempt`, `withdrawn` and `logged` that cancel the
 * non-terminal items matching `where` (alias `i`); shared by cancelItems and order
 * cancellation. Approval requests still pending for those items are withdrawn (CANCELLED),
 * so nobody is asked to decide on work that will not run. `lastError` (over `i`) records why on
 * the item itself.
 */
export function cancelledItemsCte(where: SQL, actor: ActorRef, reason: SQL, options: { lastError?: SQL } = {}): SQL {
  return sql`previous as (
          select i.id, i.status from work_items i where ${where} and i.status in ('QUEUED', 'AWAITING_APPROVAL', 'PROCESSING')
        ),
        target as (
          update work_items i
          set status = 'CANCELLED', lease_expires_at = null, locked_by = null, updated_at = now(),
              last_error = ${options.lastError ?? sql`i.last_error`}
          from previous p
          where i.id = p.id and i.status in ('QUEUED', 'AWAITING_APPROVAL', 'PROCESSING')
          returning i.id, i.workspace_id, i.work_order_id, i.current_attempt_id, p.status as before
        ),
        attempt as (
          update attempts a set status = 'CANCELLED', finished_at = now(), updated_at = now()
          from target t where a.id = t.current_attempt_id and a.status = 'STARTED'
          returning a.id
        ),
        withdrawn as (
          update approval_requests r set status = 'CANCELLED', decided_at = now(), updated_at = now()
          from target t where r.work_item_id = t.id and r.status = 'PENDING'
          returning r.id
        ),
        ${auditCte(
          "logged",
          actor,
          sql`select t.workspace_id, 'work_item.cancelled', 'work_item', t.id,
                     jsonb_build_object('status', t.before), jsonb_build_object('status', 'CANCELLED', 'reason', ${reason})
              from target t`,
        )}`;
}
