import { eq, sql } from "drizzle-orm";
import { expect, it } from "vitest";
import { type Database, rows } from "../../db/client";
import {
  approvalEvents,
  approvalRequests,
  deadLetters,
  memories,
  workItems,
  workOrders,
  workspaces,
} from "../../db/schema";
import { authenticateKey } from "../../functions/shared/auth";
import { describeEachDatabase } from "../support/databases";
import { databaseError } from "../support/errors";
import { seedWorkspace } from "../support/http";

/** Rows in several tenant tables of one workspace, written as that tenant. */
async function seedTenantRows(database: Database, workspaceId: string, userId: string) {
  return database.withTenant({ workspaceId, userId }, async (tx) => {
    const [order] = await tx.insert(workOrders).values({ workspaceId, title: "order" }).returning();
    const [item] = await tx.insert(workItems).values({ workspaceId, workOrderId: order!.id, type: "T" }).returning();
    const [memory] = await tx
      .insert(memories)
      .values({ workspaceId, content: `memory of ${workspaceId}`, contentHash: workspaceId })
      .returning();
    const [letter] = await tx
      .insert(deadLetters)
      .values({ workspaceId, source: "work_item", workItemId: item!.id, reason: "test" })
      .returning();
    const [request] = await tx
      .insert(approvalRequests)
      .values({ workspaceId, workItemId: item!.id, workOrderId: order!.id, gate: "BEFORE" })
      .returning();
    const [event] = await tx
      .insert(approvalEvents)
      .values({ workspaceId, requestId: request!.id, workItemId: item!.id, actorType: "SYSTEM", decision: "APPROVED" })
      .returning();
    return { order: order!, item: item!, memory: memory!, letter: letter!, event: event! };
  });
}

describeEachDatabase("tenant isolation (RLS)", (db) => {
  it("shows no tenant rows to a transaction without a workspace, and only its own to a tenant", async () => {
    const { database } = db();
    const a = await seedWorkspace(database, "a");
    const b = await seedWorkspace(database, "b");
    await seedTenantRows(database, a.workspaceId, a.userId);
    await seedTenantRows(database, b.workspaceId, b.userId);

    const counts = (tx: Parameters<Parameters<Database["withTenant"]>[1]>[0]) =>
      rows<Record<string, number>>(
        tx,
        sql`select (select count(*)::int from work_orders) as orders, (select count(*)::int from work_items) as items,
                   (select count(*)::int from memories) as memories, (select count(*)::int from dead_letters) as letters,
                   (select count(*)::int from approval_events) as events, (select count(*)::int from api_keys) as keys,
                   (select count(*)::int from workspaces) as workspaces, (select count(*)::int from activity_log) as activity`,
      );
    // As cairn_app with no workspace set: nothing at all.
    const [none] = await database.withSettings({}, counts);
    expect(none).toEqual({
      orders: 0,
      items: 0,
      memories: 0,
      letters: 0,
      events: 0,
      keys: 0,
      workspaces: 0,
      activity: 0,
    });
    // As tenant A: exactly A's rows.
    const [own] = await database.withTenant({ workspaceId: a.workspaceId }, counts);
    expect(own).toMatchObject({ orders: 1, items: 1, memories: 1, letters: 1, events: 1, keys: 1, workspaces: 1 });
    // The owner connection (used only by migrations and tests) sees both, proving the rows exist.
    const [all] = await counts(database.db as never);
    expect(all).toMatchObject({ orders: 2, memories: 2, letters: 2 });
  });

  it("keeps one workspace from reading or writing another's rows, even by id", async () => {
    const { database } = db();
    const a = await seedWorkspace(database, "a");
    const b = await seedWorkspace(database, "b");
    const bRows = await seedTenantRows(database, b.workspaceId, b.userId);
    await database.withTenant({ workspaceId: a.workspaceId, userId: a.userId }, async (tx) => {
      expect(await tx.select().from(workOrders).where(eq(workOrders.id, bRows.order.id))).toEqual([]);
      expect(await tx.select().from(memories).where(eq(memories.id, bRows.memory.id))).toEqual([]);
      expect(await tx.select().from(workspaces).where(eq(workspaces.id, b.workspaceId))).toEqual([]);
      const updated = await tx
        .update(memories)
        .set({ content: "stolen" })
        .where(eq(memories.id, bRows.memory.id))
        .returning();
      expect(updated).toEqual([]);
      const deleted = await tx.delete(deadLetters).where(eq(deadLetters.id, bRows.letter.id)).returning();
      expect(deleted).toEqual([]);
    });
    // Writing a row into another workspace fails the policy's WITH CHECK.
    await expect(
      database.withTenant({ workspaceId: a.workspaceId }, (tx) =>
        tx.insert(workOrders).values({ workspaceId: b.workspaceId, title: "intruder" }),
      ),
    ).rejects.toThrow();
    // Moving one's own row to another workspace fails too.
    const aRows = await seedTenantRows(database, a.workspaceId, a.userId);
    await expect(
      database.withTenant({ workspaceId: a.workspaceId }, (tx) =>
        tx.update(memories).set({ workspaceId: b.workspaceId }).where(eq(memories.id, aRows.memory.id)),
      ),
    ).rejects.toThrow();
    const [untouched] = await database.db.select().from(memories).where(eq(memories.id, bRows.memory.id));
    expect(untouched?.content).toBe(`memory of ${b.workspaceId}`);
  });

  it("makes approval_events append-only for cairn_app (grants and trigger)", async () => {
    const { database } = db();
    const a = await seedWorkspace(database, "a");
    const { event } = await seedTenantRows(database, a.workspaceId, a.userId);
    expect(
      await databaseError(
        database.withTenant({ workspaceId: a.workspaceId }, (tx) =>
          tx.update(approvalEvents).set({ reason: "rewritten" }).where(eq(approvalEvents.id, event.id)),
        ),
      ),
    ).toMatch(/permission denied for table approval_events/);
    expect(
      await databaseError(
        database.withTenant({ workspaceId: a.workspaceId }, (tx) =>
          tx.delete(approvalEvents).where(eq(approvalEvents.id, event.id)),
        ),
      ),
    ).toMatch(/permission denied for table approval_events/);
    // Even the owner connection cannot rewrite the log: the trigger holds for every role.
    expect(
      await databaseError(
        database.db.update(approvalEvents).set({ reason: "x" }).where(eq(approvalEvents.id, event.id)),
      ),
    ).toMatch(/approval_events is append-only: UPDATE is not allowed/);
    expect(await databaseError(database.db.delete(approvalEvents).where(eq(approvalEvents.id, event.id)))).toMatch(
      /approval_events is append-only: DELETE is not allowed/,
    );
    const [kept] = await database.db.select().from(approvalEvents).where(eq(approvalEvents.id, event.id));
    expect(kept?.reason).toBeNull();
  });

  it("runs tenant transactions with JIT off, from the set-up statement, unless the caller's settings say otherwise", async () => {
    const { database } = db();
    const a = await seedWorkspace(database, "a");
    const jit = (tx: Parameters<Parameters<Database["withTenant"]>[1]>[0]) =>
      rows<{ jit: string }>(tx, sql`select current_setting('jit') as jit`).then(([row]) => row?.jit);
    // A claim's planned cost grows with the queue; JIT compiling it cost 0.4–0.8 s per claim.
    expect(await database.withTenant({ workspaceId: a.workspaceId, userId: a.userId }, jit)).toBe("off");
    const { key } = await authenticateKey(database, a.adminKey);
    expect(await database.withTenant({ workspaceId: a.workspaceId, key }, jit)).toBe("off");
    expect(await database.withTenant({ workspaceId: a.workspaceId }, jit, { jit: "on" })).toBe("on");
  });
});
