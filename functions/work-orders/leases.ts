/**
 * The lease reaper: attempts whose lease expired without a completion are marked TIMEOUT
 * and their items requeued (with backoff) or, out of attempts, failed into a dead letter —
 * the same rules as a failed call. Runs as the maintenance role across workspaces; the
 * scheduled-jobs context calls it on a schedule.
 */
import { sql } from "drizzle-orm";
import { type Database, rows } from "../../db/client";
import { cancelDependants } from "../lifecycle/dependants";
import { refreshOrderStatus } from "../lifecycle/orders";
import { systemActor } from "../shared/actor";
import { logger } from "../shared/logger";
import { backoffUntil, failureTail, hasAttemptsLeft } from "./claims";

export interface ReapResult {
  timedOut: number;
  requeued: number;
  deadLettered: number;
}

/**
 * Reaps leases that expired before `now`, `batchSize` items per transaction (one statement
 * plus the order refresh), until none are left or `maxBatches` ran. Items locked by a
 * concurrent completion are skipped (SKIP LOCKED) and left to it.
 */
export async function reapExpiredLeases(
  database: Database,
  now: Date = new Date(),
  options: { batchSize?: number; maxBatches?: number } = {},
): Promise<ReapResult> {
  const batchSize = Math.max(1, Math.min(options.batchSize ?? 500, 5000));
  const maxBatches = Math.max(1, options.maxBatches ?? 100);
  const actor = systemActor(null, "lease-reaper");
  const at = now.toISOString();
  const total: ReapResult = { timedOut: 0, requeued: 0, deadLettered: 0 };
  for (let batch = 0; batch < maxBatches; batch++) {
    const reaped = await database.withMaintenance(async (tx) => {
      const result = await rows<{ id: string; work_order_id: string; status: string }>(
        tx,
        sql`with expired as (
              select i.id from work_items i
              where i.status = 'PROCESSING' and i.lease_expires_at < ${at}::timestamptz
              order by i.lease_expires_at
              limit ${batchSize}
              for update skip locked
            ),
            target as (
              update work_items i
              set status = (case when ${hasAttemptsLeft} then 'QUEUED' else 'FAILED' end)::work_item_status,
                  available_at = case when ${hasAttemptsLeft} then ${backoffUntil(sql`${at}::timestamptz`)} else i.available_at end,
                  last_error = 'Lease expired: worker ' || coalesce(i.locked_by, '?') || ' stopped heartbeating',
                  lease_expires_at = null, locked_by = null, updated_at = now()
              from expired e, work_orders o
              where i.id = e.id and o.id = i.work_order_id and i.status = 'PROCESSING'
              returning i.id, i.workspace_id, i.work_order_id, i.status, i.current_attempt_id, i.attempt_count, i.payload,
                        i.available_at, i.last_error as error,
                        'Lease expired on the last of ' || i.attempt_count || ' attempts: ' || i.last_error as reason
            ),
            ${failureTail(actor, "TIMEOUT")}
            select t.id, t.work_order_id, t.status::text as status,
                   (select count(*) from attempt) as attempts, (select count(*) from order_lock) as orders_locked
            from target t`,
      );
      const failed = result.filter((row) => row.status === "FAILED");
      await cancelDependants(
        tx,
        actor,
        failed.map((row) => row.id),
      );
      const failedOrders = failed.map((row) => row.work_order_id);
      await refreshOrderStatus(tx, failedOrders, { actor, locked: true });
      return result;
    });
    total.timedOut += reaped.length;
    total.requeued += reaped.filter((row) => row.status === "QUEUED").length;
    total.deadLettered += reaped.filter((row) => row.status === "FAILED").length;
    if (reaped.length < batchSize) break;
  }
  if (total.timedOut > 0) logger.info("reaped expired leases", { ...total });
  return total;
}
