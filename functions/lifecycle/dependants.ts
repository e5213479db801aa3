/**
 * Dependencies within an order (work_items.depends_on): when an item fails for good (FAILED,
 * dead-lettered), the items that depend on it, directly or through others, can never become
 * claimable. In an order whose `on_dependency_failure` is CANCEL (the default) they are
 * cancelled with the reason; HOLD leaves them queued, to run if the failed item is redriven
 * and completes. The callers refresh the order's status afterwards (dependants share the order).
 */
import { sql } from "drizzle-orm";
import { jsonParam, rows, type Tx } from "../../db/client";
import type { ActorRef } from "../shared/actor";
import { cancelledItemsCte } from "./cancelled-items";

/** Cancels the transitive dependants of `failedItemIds` (in CANCEL orders); returns how many. */
export async function cancelDependants(tx: Tx, actor: ActorRef, failedItemIds: string[]): Promise<number> {
  if (failedItemIds.length === 0) return 0;
  const cancelled = await rows<{ id: string }>(
    tx,
    sql`with recursive failed as (
          select f.id, f.work_order_id, coalesce(f.key, f.id::text) as name, f.last_error
          from work_items f
          where f.id in (select value::uuid from jsonb_array_elements_text(${jsonParam(failedItemIds)}))
            and f.status = 'FAILED'
        ),
        dependant (id, root_name, root_error) as (
          select d.id, f.name, f.last_error
          from failed f
          join work_orders o on o.id = f.work_order_id and o.on_dependency_failure = 'CANCEL'
          join work_items d on d.work_order_id = f.work_order_id and d.depends_on @> array[f.id]
          union
          select d.id, x.root_name, x.root_error
          from dependant x
          join work_items p on p.id = x.id
          join work_items d on d.work_order_id = p.work_order_id and d.depends_on @> array[p.id]
        ),
        reasons as (
          select distinct on (id) id, 'Dependency ' || root_name || ' failed for good: ' || coalesce(root_error, 'no error given') as reason
          from dependant order by id, root_name
        ),
        ${cancelledItemsCte(
          sql`i.id in (select id from reasons)`,
          actor,
          sql`(select r.reason from reasons r where r.id = t.id)`,
          {
            lastError: sql`(select r.reason from reasons r where r.id = i.id)`,
          },
        )}
        select t.id from target t`,
  );
  return cancelled.length;
}
