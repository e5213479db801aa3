/**
 * Pausing claiming per item type (queue_pauses) and per order (work_orders.paused_at). A pause
 * only stops new claims: items already PROCESSING run to the end of their lease as usual.
 * Cairn has no deadline on a queued item's claiming (only `runAt`, a start, and leases of
 * running attempts), so paused time counts against nothing.
 */
import { z } from "@hono/zod-openapi";
import type { SQL } from "drizzle-orm";
import { and, asc, eq, sql } from "drizzle-orm";
import type { Tx } from "../../../db/client";
import { queuePauses, workOrders } from "../../../db/schema";
import { type Actor, actorRef } from "../../shared/actor";
import { audit } from "../../shared/audit";
import { NotFound } from "../../shared/errors";
import { parseInput } from "../../shared/validation";

export const ItemTypeParam = z.object({
  type: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .openapi({ param: { name: "type", in: "path" }, example: "summarize" }),
});

export const PausedType = z
  .object({ type: z.string(), pausedAt: z.date(), pausedBy: z.string().uuid().nullable() })
  .openapi("PausedItemType");

/**
 * Candidate condition on `work_items i` of workspace `ws`: neither its type nor its order is
 * paused. Both lists are computed once per statement (InitPlans), so the ordered index scan
 * keeps a plain filter; they are empty after one index probe each when nothing is paused.
 */
export const notPaused = (ws: SQL): SQL =>
  sql`i.type <> all(array(select p.item_type from queue_pauses p where p.workspace_id = ${ws}))
      and i.work_order_id <> all(array(select o.id from work_orders o where o.workspace_id = ${ws} and o.paused_at is not null))`;

export async function pauseItemType(tx: Tx, actor: Actor, rawType: string) {
  const { type } = parseInput(ItemTypeParam, { type: rawType });
  const [row] = await tx
    .insert(queuePauses)
    .values({ workspaceId: actor.workspaceId, itemType: type, pausedBy: actor.userId })
    .onConflictDoUpdate({
      target: [queuePauses.workspaceId, queuePauses.itemType],
      set: { itemType: sql`excluded.item_type` },
    })
    .returning();
  await audit(tx, actorRef(actor), {
    action: "item_type.paused",
    entity: { type: "workspace", id: actor.workspaceId },
    after: { type },
  });
  return { type, pausedAt: row?.createdAt ?? new Date(), pausedBy: row?.pausedBy ?? null };
}

export async function resumeItemType(tx: Tx, actor: Actor, rawType: string) {
  const { type } = parseInput(ItemTypeParam, { type: rawType });
  const removed = await tx
    .delete(queuePauses)
    .where(and(eq(queuePauses.workspaceId, actor.workspaceId), eq(queuePauses.itemType, type)))
    .returning({ type: queuePauses.itemType });
  if (removed.length === 0) throw new NotFound("Paused item type", type);
  await audit(tx, actorRef(actor), {
    action: "item_type.resumed",
    entity: { type: "workspace", id: actor.workspaceId },
    after: { type },
  });
}

export async function listPausedTypes(tx: Tx, actor: Actor) {
  const list = await tx
    .select()
    .from(queuePauses)
    .where(eq(queuePauses.workspaceId, actor.workspaceId))
    .orderBy(asc(queuePauses.itemType));
  return list.map((row) => ({ type: row.itemType, pausedAt: row.createdAt, pausedBy: row.pausedBy }));
}

/** Pauses (`paused` true) or resumes claiming an order's items; an order that finished cannot change. */
export async function setOrderPaused(tx: Tx, actor: Actor, orderId: string, paused: boolean) {
  const [row] = await tx
    .update(workOrders)
    .set({ pausedAt: paused ? sql`coalesce(${workOrders.pausedAt}, now())` : null, updatedAt: sql`now()` })
    .where(and(eq(workOrders.workspaceId, actor.workspaceId), eq(workOrders.id, orderId)))
    .returning({ id: workOrders.id, pausedAt: workOrders.pausedAt });
  if (!row) throw new NotFound("Work order", orderId);
  await audit(tx, actorRef(actor), {
    action: paused ? "work_order.paused" : "work_order.resumed",
    entity: { type: "work_order", id: orderId },
    after: { pausedAt: row.pausedAt },
  });
  return row;
}
