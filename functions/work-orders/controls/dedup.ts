/**
 * Item-level dedup: while an item with a `dedupKey` is QUEUED, AWAITING_APPROVAL or PROCESSING,
 * creating another with the same key in the workspace is refused (409 naming the live item).
 * The partial unique index work_items_live_dedup_key is the rule; this file turns its verdict
 * into that answer, also when two creations race (the insert skips the conflicting row, waiting
 * for the other transaction, and the live item is then read).
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Tx } from "../../../db/client";
import { workItems } from "../../../db/schema";
import { Conflict, Invalid } from "../../shared/errors";

const LIVE = ["QUEUED", "AWAITING_APPROVAL", "PROCESSING"] as const;

/** The arbiter of the insert's ON CONFLICT: the partial unique index's columns and predicate. */
export const dedupConflictTarget = {
  target: [workItems.workspaceId, workItems.dedupKey],
  where: sql`${workItems.dedupKey} IS NOT NULL AND ${workItems.status} IN ('QUEUED', 'AWAITING_APPROVAL', 'PROCESSING')`,
};

/** The dedup keys of a new order's items; a key given twice in one order is a 422. */
export function dedupKeysOf(specs: Array<{ dedupKey?: string }>): string[] {
  const keys = specs.flatMap((spec) => (spec.dedupKey === undefined ? [] : [spec.dedupKey]));
  const seen = new Set<string>();
  for (const key of keys) {
    if (seen.has(key)) throw new Invalid(`Two items of the order have the dedupKey '${key}'`);
    seen.add(key);
  }
  return keys;
}

/** The live item holding one of `keys`, if any (undefined when there are no keys: nothing to ask). */
export function liveDuplicateQuery(tx: Tx, workspaceId: string, keys: string[]) {
  if (keys.length === 0) return undefined;
  return tx
    .select({
      id: workItems.id,
      workOrderId: workItems.workOrderId,
      status: workItems.status,
      dedupKey: workItems.dedupKey,
    })
    .from(workItems)
    .where(
      and(
        eq(workItems.workspaceId, workspaceId),
        inArray(workItems.dedupKey, [...new Set(keys)]),
        inArray(workItems.status, [...LIVE]),
      ),
    )
    .limit(1);
}

/** Refuses (409) when `liveDuplicateQuery` found a live item, naming it. */
export function refuseLiveDuplicate(
  found: Array<{ id: string; workOrderId: string; status: string; dedupKey: string | null }>,
): void {
  const [existing] = found;
  if (existing) {
    throw new Conflict(`A live item with the dedupKey '${existing.dedupKey}' already exists: ${existing.id}`, {
      existingItemId: existing.id,
      workOrderId: existing.workOrderId,
      status: existing.status,
      dedupKey: existing.dedupKey,
    });
  }
}

/** Refuses (409) when a live item already holds one of `keys`, naming it. */
export async function refuseLiveDuplicates(tx: Tx, workspaceId: string, keys: string[]): Promise<void> {
  const query = liveDuplicateQuery(tx, workspaceId, keys);
  if (query) refuseLiveDuplicate(await query);
}
