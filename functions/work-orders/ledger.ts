/**
 * The ledger from work to memory, on the work side: the memories a work item used, recorded
 * when it completes (`usedMemoryIds`), and the memories it used and wrote, read with the item.
 * (A memory written from an item's result carries the item as its `sourceItemId`; reading a
 * memory shows the items that used it — functions/memory.)
 */
import { z } from "@hono/zod-openapi";
import { and, asc, eq, sql } from "drizzle-orm";
import { rows, type Tx } from "../../db/client";
import { memories, workItemMemories } from "../../db/schema";
import type { Actor } from "../shared/actor";
import { Invalid } from "../shared/errors";

export const MAX_USED_MEMORIES = 1000;

export const UsedMemoryIds = z
  .array(z.string().uuid())
  .max(MAX_USED_MEMORIES)
  .optional()
  .openapi({ description: "Memories the item used (recorded in the ledger; each must be this workspace's)" });

/** A memory as an item's ledger shows it. */
export const LedgerMemory = z
  .object({ id: z.string().uuid(), content: z.string(), type: z.string(), createdAt: z.date() })
  .openapi("LedgerMemory");

export const ItemMemories = z
  .object({
    used: z.array(LedgerMemory).openapi({ description: "Memories the item used (recorded when it completed)" }),
    written: z.array(LedgerMemory).openapi({ description: "Memories written from the item's result (sourceItemId)" }),
  })
  .openapi("WorkItemMemories");

/**
 * Records that item `itemId` used `memoryIds`: one statement. Only memories of the actor's
 * workspace that have not expired can be linked (another workspace's are invisible to RLS too);
 * any other id is a 422, and the caller's transaction (the completion) rolls back.
 */
export async function recordMemoriesUsed(tx: Tx, actor: Actor, itemId: string, memoryIds: string[] | undefined) {
  if (!memoryIds || memoryIds.length === 0) return;
  const wanted = [...new Set(memoryIds)];
  const linked = await rows<{ memory_id: string }>(
    tx,
    sql`with found as (
          select id from memories
          where workspace_id = ${actor.workspaceId} and id in ${wanted} and (expires_at is null or expires_at > now())
        ),
        inserted as (
          insert into work_item_memories (workspace_id, work_item_id, memory_id)
          select ${actor.workspaceId}, ${itemId}, id from found
          on conflict do nothing
        )
        select id as memory_id from found`,
  );
  const found = new Set(linked.map((row) => row.memory_id));
  const missing = wanted.filter((id) => !found.has(id));
  if (missing.length > 0) {
    throw new Invalid("usedMemoryIds names memories this workspace does not have; nothing was completed", {
      missing,
    });
  }
}

const ledgerColumns = {
  id: memories.id,
  content: memories.content,
  type: memories.type,
  createdAt: memories.createdAt,
};
const notExpired = sql`(${memories.expiresAt} is null or ${memories.expiresAt} > now())`;

/** The memories an item used and wrote (expired ones left out), oldest first. */
export async function itemMemories(tx: Tx, actor: Actor, itemId: string): Promise<z.output<typeof ItemMemories>> {
  const used = await tx
    .select(ledgerColumns)
    .from(workItemMemories)
    .innerJoin(memories, eq(memories.id, workItemMemories.memoryId))
    .where(
      and(eq(workItemMemories.workspaceId, actor.workspaceId), eq(workItemMemories.workItemId, itemId), notExpired),
    )
    .orderBy(asc(memories.createdAt), asc(memories.id));
  const written = await tx
    .select(ledgerColumns)
    .from(memories)
    .where(and(eq(memories.workspaceId, actor.workspaceId), eq(memories.sourceItemId, itemId), notExpired))
    .orderBy(asc(memories.createdAt), asc(memories.id));
  return { used, written };
}
