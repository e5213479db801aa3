/**
 * The CTEs that close failed work items: running attempts closed, a dead letter per item that
 * became FAILED (with every attempt's error since its last redrive), the orders locked for the
 * status refresh that follows. Shared by the fail call, the lease reaper and approval rejections.
 */
import { type SQL, sql } from "drizzle-orm";
import { isoTimestamp } from "../../db/client";

/**
 * CTEs after a `target` CTE of work items just updated (columns id, workspace_id,
 * work_order_id, status, current_attempt_id, attempt_count, payload, error, reason):
 * `attempt` closes their running attempts with `attemptStatus` and the error; for the items
 * that became FAILED, `dead` writes their dead letters (every attempt's error, this one
 * included) and `order_lock` locks their orders for the status refresh that follows.
 */
export function closeFailedItems(attemptStatus: "FAILED" | "TIMEOUT"): SQL {
  return sql`attempt as (
          update attempts a set status = ${attemptStatus}::attempt_status, error = t.error, finished_at = now(), updated_at = now()
          from target t where a.id = t.current_attempt_id and a.status = 'STARTED'
          returning a.id
        ),
        dead as (
          insert into dead_letters (workspace_id, source, work_item_id, reason, payload, errors)
          select t.workspace_id, 'work_item', t.id, t.reason, t.payload,
                 ${attemptErrors(sql`t.id`)} ||
                 jsonb_build_array(jsonb_build_object('attempt', t.attempt_count, 'attemptId', t.current_attempt_id,
                                                      'status', ${attemptStatus}::text, 'error', t.error, 'at', ${isoTimestamp(sql`now()`)}))
          from target t where t.status = 'FAILED'
          returning id, workspace_id, work_item_id
        ),
        order_lock as (
          update work_orders o set updated_at = now()
          where o.id in (select work_order_id from target where status = 'FAILED')
          returning o.id
        )`;
}

/**
 * The attempts' errors of an item since its last redrive, oldest first, as a JSON array
 * (the attempt being closed in the same statement is not visible yet: callers append it).
 */
export function attemptErrors(itemId: SQL): SQL {
  return sql`(select coalesce(jsonb_agg(jsonb_build_object('attempt', a.attempt_number, 'attemptId', a.id, 'status', a.status,
                                                           'error', a.error, 'at', ${isoTimestamp(sql`a.finished_at`)}) order by a.started_at), '[]'::jsonb)
              from attempts a
              where a.work_item_id = ${itemId} and a.status in ('FAILED', 'TIMEOUT')
                and a.started_at > coalesce((select max(dl.redriven_at) from dead_letters dl where dl.work_item_id = ${itemId}), '-infinity'))`;
}
