/**
 * Work orders follow their items: one set-based statement recomputes the status of the orders
 * whose items just changed and logs each change. Every lifecycle change calls it, in the
 * transaction of the change.
 */
import { sql } from "drizzle-orm";
import { jsonParam, rows, type Tx } from "../../db/client";
import type { workOrderStatus } from "../../db/schema";
import { type ActorRef, systemActor } from "../shared/actor";
import { auditCte } from "../shared/audit";

export type WorkOrderStatus = (typeof workOrderStatus.enumValues)[number];

const uniq = (values: string[]) => [...new Set(values)];

/**
 * Recomputes the status of the given orders from their items, in one statement (plus a
 * row lock first unless the caller already holds the orders' locks):
 * all items COMPLETED (or some CANCELLED) → COMPLETED; all terminal with a failure → FAILED;
 * all CANCELLED → CANCELLED; otherwise PROCESSING once any item was claimed (a finished
 * order reopens to PROCESSING when an item is redriven). A CANCELLED order never changes.
 *
 * The lock matters: two transactions completing an order's last two items would each see
 * the other's item unfinished under their own snapshot. Holding the order row lock before
 * the counting statement (whose snapshot is then taken) serialises exactly that case.
 */
export async function refreshOrderStatus(
  tx: Tx,
  workOrderIds: string[],
  options: { actor?: ActorRef; locked?: boolean } = {},
): Promise<Array<{ id: string; status: WorkOrderStatus }>> {
  const ids = uniq(workOrderIds);
  if (ids.length === 0) return [];
  const actor = options.actor ?? systemActor();
  if (!options.locked) {
    await rows(
      tx,
      sql`select id from work_orders
          where id in (select value::uuid from jsonb_array_elements_text(${jsonParam(ids)}))
          order by id for update`,
    );
  }
  return rows<{ id: string; status: WorkOrderStatus }>(
    tx,
    sql`with summary as (
          select i.work_order_id as id,
                 count(*) as total,
                 count(*) filter (where i.status = 'COMPLETED') as completed,
                 count(*) filter (where i.status = 'FAILED') as failed,
                 count(*) filter (where i.status = 'CANCELLED') as cancelled,
                 bool_or(i.attempt_count > 0 or i.status in ('PROCESSING', 'COMPLETED', 'FAILED')) as started
          from work_items i
          where i.work_order_id in (select value::uuid from jsonb_array_elements_text(${jsonParam(ids)}))
          group by i.work_order_id
        ),
        next as (
          select o.id, o.workspace_id, o.status as before,
                 (case
                   when s.completed + s.failed + s.cancelled = s.total then
                     case when s.failed > 0 then 'FAILED' when s.completed > 0 then 'COMPLETED' else 'CANCELLED' end
                   when o.status in ('COMPLETED', 'FAILED') then 'PROCESSING'
                   when o.status = 'PENDING' and s.started then 'PROCESSING'
                   else o.status::text
                 end)::work_order_status as after
          from work_orders o join summary s on s.id = o.id
          where o.status <> 'CANCELLED'
        ),
        changed as (
          update work_orders o
          set status = n.after,
              completed_at = case when n.after in ('COMPLETED', 'FAILED', 'CANCELLED') then now() else null end,
              updated_at = now()
          from next n
          where o.id = n.id and n.after <> n.before
          returning o.id, o.workspace_id, n.before, o.status
        ),
        ${auditCte(
          "logged",
          actor,
          sql`select c.workspace_id, 'work_order.' || lower(c.status::text), 'work_order', c.id,
                     jsonb_build_object('status', c.before), jsonb_build_object('status', c.status)
              from changed c`,
        )}
        select id, status::text as status from changed`,
  );
}
