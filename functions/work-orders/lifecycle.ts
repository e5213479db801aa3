/**
 * Set-based state transitions of work items and orders that other contexts reuse
 * (approval decisions, scheduled jobs). Every function runs in the caller's transaction,
 * writes its activity rows in that transaction, and leaves order statuses consistent.
 *
 * Stable signatures (approvals and jobs call these):
 *   refreshOrderStatus(tx, workOrderIds: string[], options?: { actor?: ActorRef; locked?: boolean })
 *     → Promise<Array<{ id: string; status: WorkOrderStatus }>>   (orders whose status changed)
 *   failItemsToDeadLetter(tx, actor: ActorRef, items: Array<{ itemId: string; reason: string }>)
 *     → Promise<Array<{ itemId: string; deadLetterId: string }>>
 *   requeueItems(tx, actor: ActorRef, items: Array<{ itemId: string; reason?: string; delayMs?: number;
 *                resetAttempts?: boolean; payload?: Record<string, unknown> }>)
 *     → Promise<string[]>   (ids requeued)
 *   cancelItems(tx, actor: ActorRef, items: Array<{ itemId: string; reason?: string }>)
 *     → Promise<string[]>   (ids cancelled)
 *
 * Lock order, everywhere in this context: work items first, then their work orders. The
 * claim, completion, cancellation and these helpers all follow it, so they cannot deadlock.
 */
import { type SQL, sql } from "drizzle-orm";
import { jsonParam, rows, type Tx } from "../../db/client";
import type { Actor } from "../shared/auth";

export type WorkOrderStatus = "PENDING" | "PROCESSING" | "COMPLETED" | "FAILED" | "CANCELLED";

/**
 * Who caused a change, for the activity log. `workspaceId` scopes the change to one
 * workspace (API requests); null for maintenance jobs that run across workspaces.
 */
export interface ActorRef {
  workspaceId: string | null;
  type: "USER" | "API_KEY" | "SYSTEM";
  id: string | null;
}

export const actorRef = (actor: Pick<Actor, "workspaceId" | "userId">): ActorRef => ({
  workspaceId: actor.workspaceId,
  type: "USER",
  id: actor.userId,
});

export const systemActor = (workspaceId: string | null = null, id = "system"): ActorRef => ({
  workspaceId,
  type: "SYSTEM",
  id,
});

/** `workspace_id` filter when the actor is scoped to a workspace (defence in depth beside RLS). */
export const inWorkspace = (column: SQL, actor: ActorRef): SQL =>
  actor.workspaceId ? sql`${column} = ${actor.workspaceId}::uuid` : sql`true`;

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
        logged as (
          insert into activity_log (workspace_id, actor_type, actor_id, action, entity_type, entity_id, before, after)
          select c.workspace_id, ${actor.type}::actor_type, ${actor.id}, 'work_order.' || lower(c.status::text), 'work_order', c.id,
                 jsonb_build_object('status', c.before), jsonb_build_object('status', c.status)
          from changed c
        )
        select id, status::text as status from changed`,
  );
}

/**
 * Items to FAILED with a dead letter each (payload, every attempt's error since the last
 * redrive, plus `reason`), in one statement; then their orders' statuses. Takes items in
 * any non-terminal status (an item that failed review after completing is AWAITING_APPROVAL);
 * a running attempt is closed as FAILED. Items already terminal are skipped.
 */
export async function failItemsToDeadLetter(
  tx: Tx,
  actor: ActorRef,
  items: Array<{ itemId: string; reason: string }>,
): Promise<Array<{ itemId: string; deadLetterId: string }>> {
  if (items.length === 0) return [];
  const failed = await rows<{ item_id: string; dead_letter_id: string; work_order_id: string }>(
    tx,
    sql`with input as (
          select * from jsonb_to_recordset(${jsonParam(items)}) as x("itemId" uuid, reason text)
        ),
        target as (
          update work_items i
          set status = 'FAILED', last_error = x.reason, lease_expires_at = null, locked_by = null, updated_at = now()
          from input x
          where i.id = x."itemId" and ${inWorkspace(sql`i.workspace_id`, actor)}
            and i.status in ('QUEUED', 'AWAITING_APPROVAL', 'PROCESSING')
          returning i.id, i.workspace_id, i.work_order_id, i.status, i.payload, i.current_attempt_id, i.attempt_count,
                    x.reason as error, x.reason
        ),
        ${closeFailedItems("FAILED")},
        logged as (
          insert into activity_log (workspace_id, actor_type, actor_id, action, entity_type, entity_id, after)
          select t.workspace_id, ${actor.type}::actor_type, ${actor.id}, 'work_item.failed', 'work_item', t.id,
                 jsonb_build_object('status', 'FAILED', 'reason', t.reason, 'deadLetterId', d.id)
          from target t join dead d on d.work_item_id = t.id
          union all
          select d.workspace_id, ${actor.type}::actor_type, ${actor.id}, 'dead_letter.created', 'dead_letter', d.id,
                 jsonb_build_object('source', 'work_item', 'workItemId', d.work_item_id)
          from dead d
        )
        select d.work_item_id as item_id, d.id as dead_letter_id, t.work_order_id,
               (select count(*) from attempt) as attempts_closed, (select count(*) from order_lock) as orders_locked
        from dead d join target t on t.id = d.work_item_id`,
  );
  await refreshOrderStatus(
    tx,
    failed.map((row) => row.work_order_id),
    { actor, locked: true },
  );
  return failed.map((row) => ({ itemId: row.item_id, deadLetterId: row.dead_letter_id }));
}

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
                                                      'status', ${attemptStatus}::text, 'error', t.error, 'at', now()))
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
                                                           'error', a.error, 'at', a.finished_at) order by a.started_at), '[]'::jsonb)
              from attempts a
              where a.work_item_id = ${itemId} and a.status in ('FAILED', 'TIMEOUT')
                and a.started_at > coalesce((select max(dl.redriven_at) from dead_letters dl where dl.work_item_id = ${itemId}), '-infinity'))`;
}

/**
 * Items back to QUEUED (claimable after `delayMs`): from AWAITING_APPROVAL (a before-gate
 * approved, or an after-gate sent back for rework) or FAILED (redrive). `resetAttempts`
 * gives a fresh attempt budget; `payload` replaces the payload. Items of a cancelled
 * order are never requeued. Returns the ids requeued.
 */
export async function requeueItems(
  tx: Tx,
  actor: ActorRef,
  items: Array<{
    itemId: string;
    reason?: string;
    delayMs?: number;
    resetAttempts?: boolean;
    payload?: Record<string, unknown>;
  }>,
): Promise<string[]> {
  if (items.length === 0) return [];
  const input = items.map((item) => ({
    itemId: item.itemId,
    reason: item.reason ?? null,
    delayMs: Math.max(0, Math.floor(item.delayMs ?? 0)),
    resetAttempts: item.resetAttempts ?? false,
    payload: item.payload ?? null,
  }));
  const requeued = await rows<{ id: string; work_order_id: string; before: string }>(
    tx,
    sql`with input as (
          select * from jsonb_to_recordset(${jsonParam(input)})
            as x("itemId" uuid, reason text, "delayMs" bigint, "resetAttempts" boolean, payload jsonb)
        ),
        previous as (
          select i.id, i.status from work_items i join input x on x."itemId" = i.id
        ),
        target as (
          update work_items i
          set status = 'QUEUED',
              available_at = now() + x."delayMs" * interval '1 millisecond',
              attempt_count = case when x."resetAttempts" then 0 else i.attempt_count end,
              payload = coalesce(x.payload, i.payload),
              lease_expires_at = null, locked_by = null, completed_at = null, updated_at = now()
          from input x, work_orders o
          where i.id = x."itemId" and o.id = i.work_order_id and o.status <> 'CANCELLED'
            and ${inWorkspace(sql`i.workspace_id`, actor)}
            and i.status in ('AWAITING_APPROVAL', 'FAILED')
          returning i.id, i.workspace_id, i.work_order_id, x.reason
        ),
        logged as (
          insert into activity_log (workspace_id, actor_type, actor_id, action, entity_type, entity_id, before, after)
          select t.workspace_id, ${actor.type}::actor_type, ${actor.id}, 'work_item.requeued', 'work_item', t.id,
                 jsonb_build_object('status', p.status), jsonb_build_object('status', 'QUEUED', 'reason', t.reason)
          from target t join previous p on p.id = t.id
        )
        select t.id, t.work_order_id, p.status::text as before from target t join previous p on p.id = t.id`,
  );
  await refreshOrderStatus(
    tx,
    requeued.map((row) => row.work_order_id),
    { actor },
  );
  return requeued.map((row) => row.id);
}

/**
 * Items to CANCELLED (any non-terminal status; a running attempt is closed as CANCELLED,
 * so its worker's completion gets 409). Returns the ids cancelled.
 */
export async function cancelItems(
  tx: Tx,
  actor: ActorRef,
  items: Array<{ itemId: string; reason?: string }>,
): Promise<string[]> {
  if (items.length === 0) return [];
  const input = items.map((item) => ({ itemId: item.itemId, reason: item.reason ?? null }));
  const cancelled = await rows<{ id: string; work_order_id: string }>(
    tx,
    sql`with input as (
          select * from jsonb_to_recordset(${jsonParam(input)}) as x("itemId" uuid, reason text)
        ),
        ${cancelledItemsCte(sql`i.id in (select "itemId" from input) and ${inWorkspace(sql`i.workspace_id`, actor)}`, actor, sql`(select reason from input where "itemId" = t.id)`)}
        select t.id, t.work_order_id, (select count(*) from attempt) as attempts_closed from target t`,
  );
  await refreshOrderStatus(
    tx,
    cancelled.map((row) => row.work_order_id),
    { actor },
  );
  return cancelled.map((row) => row.id);
}

/**
 * CTEs `target` (the items cancelled), `attempt`, `withdrawn` and `logged` that cancel the
 * non-terminal items matching `where` (alias `i`); shared by cancelItems and order
 * cancellation. Approval requests still pending for those items are withdrawn (CANCELLED),
 * so nobody is asked to decide on work that will not run.
 */
export function cancelledItemsCte(where: SQL, actor: ActorRef, reason: SQL): SQL {
  return sql`previous as (
          select i.id, i.status from work_items i where ${where} and i.status in ('QUEUED', 'AWAITING_APPROVAL', 'PROCESSING')
        ),
        target as (
          update work_items i
          set status = 'CANCELLED', lease_expires_at = null, locked_by = null, updated_at = now()
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
        logged as (
          insert into activity_log (workspace_id, actor_type, actor_id, action, entity_type, entity_id, before, after)
          select t.workspace_id, ${actor.type}::actor_type, ${actor.id}, 'work_item.cancelled', 'work_item', t.id,
                 jsonb_build_object('status', t.before), jsonb_build_object('status', 'CANCELLED', 'reason', ${reason})
          from target t
        )`;
}
