/**
 * `POST /v1/work-orders` sends its writes with COMMIT in one round trip, so a creation that loses
 * a race for its Idempotency-Key or a dedup key cannot settle it inside its transaction: it is
 * rolled back whole and retried once, and the retry finds the winner. Each test holds the winner's
 * transaction open until the route's insert waits on it, then commits it. PostgreSQL only: PGlite
 * runs one transaction at a time, so nothing can race there.
 */
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Database, rows } from "../../db/client";
import { createWorkOrder } from "../../functions/work-orders/work-orders";
import { openTestDatabase, type TestDatabase, targets } from "../support/databases";
import { call, ownerActor, seedWorkspace, testApp } from "../support/http";

/** Resolves once some session of this database waits for a lock (the route's insert). */
async function someoneWaitsForALock(database: Database): Promise<void> {
  for (let tries = 0; tries < 500; tries++) {
    const [waiting] = await rows<{ n: number }>(
      database.db,
      sql`select count(*)::int as n from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock'`,
    );
    if ((waiting?.n ?? 0) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error("no session waited for a lock");
}

/** Runs `create` in a transaction held open until `release` is called; `created` says it has written. */
function heldCreation<T>(
  database: Database,
  tenant: { workspaceId: string; userId: string },
  create: (tx: never) => Promise<T>,
) {
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let written = () => {};
  const created = new Promise<void>((resolve) => {
    written = resolve;
  });
  const done = database.withTenant(tenant, async (tx) => {
    const result = await create(tx as never);
    written();
    await released;
    return result;
  });
  return { created, release, done };
}

if (targets.includes("postgres")) {
  describe("work order creation races [postgres]", () => {
    let current: TestDatabase;
    beforeAll(async () => {
      current = await openTestDatabase("postgres");
    });
    afterAll(() => current.close());

    it("a creation that loses the race for its Idempotency-Key is retried and answered as the winner's replay", async () => {
      const { database } = current;
      const app = testApp(database);
      const ws = await seedWorkspace(database);
      const body = { title: "held key", items: [{ type: "t", payload: { n: 1 } }] };
      const winner = heldCreation(database, ws, (tx) =>
        createWorkOrder(tx, ownerActor(ws), body, { idempotencyKey: "held-1" }),
      );
      await winner.created;
      const loser = call(app, "POST", "/v1/work-orders", {
        key: ws.adminKey,
        body,
        headers: { "Idempotency-Key": "held-1" },
      });
      await someoneWaitsForALock(database);
      winner.release();
      const [won, lost] = await Promise.all([winner.done, loser]);
      expect(lost.status).toBe(200);
      expect(lost.body.id).toBe(won.order.id);
      expect(lost.body.items.map((item: { id: string }) => item.id)).toEqual(won.items.map((item) => item.id));
      const [count] = await rows<{ orders: number; items: number }>(
        database.db,
        sql`select (select count(*)::int from work_orders where workspace_id = ${ws.workspaceId}::uuid) as orders,
                   (select count(*)::int from work_items where workspace_id = ${ws.workspaceId}::uuid) as items`,
      );
      expect(count).toEqual({ orders: 1, items: 1 });
    });

    it("a creation that loses the race for a dedup key gets the 409 naming the winner's item, with nothing half-created", async () => {
      const { database } = current;
      const app = testApp(database);
      const ws = await seedWorkspace(database);
      const winner = heldCreation(database, ws, (tx) =>
        createWorkOrder(tx, ownerActor(ws), { title: "first", items: [{ type: "t", dedupKey: "same" }] }),
      );
      await winner.created;
      const loser = call(app, "POST", "/v1/work-orders", {
        key: ws.adminKey,
        body: {
          title: "second",
          items: [
            { type: "t", payload: { n: 1 } },
            { type: "t", dedupKey: "same" },
          ],
        },
      });
      await someoneWaitsForALock(database);
      winner.release();
      const [won, lost] = await Promise.all([winner.done, loser]);
      expect(lost.status).toBe(409);
      expect(lost.body.error.details).toMatchObject({ existingItemId: won.items[0]?.id, dedupKey: "same" });
      const [left] = await rows<{ orders: number; items: number; activity: number }>(
        database.db,
        sql`select (select count(*)::int from work_orders where title = 'second') as orders,
                   (select count(*)::int from work_items i join work_orders o on o.id = i.work_order_id
                     where o.title = 'second') as items,
                   (select count(*)::int from activity_log
                     where workspace_id = ${ws.workspaceId}::uuid and action = 'work_order.created') as activity`,
      );
      expect(left).toEqual({ orders: 0, items: 0, activity: 1 });
    });
  });
}
