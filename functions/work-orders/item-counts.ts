/** How many items each order has in each status: one grouped query for a page of orders. */
import { and, count, eq, inArray } from "drizzle-orm";
import type { Tx } from "../../db/client";
import { workItems } from "../../db/schema";

export async function itemCountsByOrder(
  tx: Tx,
  workspaceId: string,
  orderIds: string[],
): Promise<Map<string, Record<string, number>>> {
  const counts = new Map<string, Record<string, number>>(orderIds.map((id) => [id, {}]));
  if (orderIds.length === 0) return counts;
  const grouped = await tx
    .select({ orderId: workItems.workOrderId, status: workItems.status, n: count() })
    .from(workItems)
    .where(and(eq(workItems.workspaceId, workspaceId), inArray(workItems.workOrderId, orderIds)))
    .groupBy(workItems.workOrderId, workItems.status);
  for (const row of grouped) {
    const forOrder = counts.get(row.orderId);
    if (forOrder) forOrder[row.status] = row.n;
  }
  return counts;
}
