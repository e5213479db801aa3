import { sql } from "drizzle-orm";
import { expect, it } from "vitest";
import { rows } from "../../db/client";
import { createPayloadSchema } from "../../functions/platform/payload-schemas";
import { describeEachDatabase } from "../support/databases";
import { call, seedWorkspace, testApp } from "../support/http";

const item = (type = "summarize", payload: Record<string, unknown> = { text: "hello" }) => ({ type, payload });

describeEachDatabase("work orders API", (db) => {
  async function setup() {
    const { database } = db();
    const app = testApp(database);
    const ws = await seedWorkspace(database);
    return { database, app, ...ws, key: ws.adminKey };
  }

  async function activityFor(entityId: string) {
    return rows<{ action: string }>(
      db().database.db,
      sql`select action from activity_log where entity_id = ${entityId}::uuid order by at, created_at, id`,
    );
  }

  it("creates an order with items, claims, completes and finishes the order", async () => {
    const { app, key } = await setup();
    const created = await call(app, "POST", "/v1/work-orders", {
      key,
      body: { title: "t", priority: "HIGH", metadata: { a: 1 }, items: [item(), item("translate", { to: "fr" })] },
    });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe("PENDING");
    expect(created.body.items).toHaveLength(2);
    expect(created.body.items.every((i: any) => i.status === "QUEUED" && i.priority === "HIGH")).toBe(true);
    expect(created.body.items[0]).not.toHaveProperty("fencingToken");

    const claim = await call(app, "POST", "/v1/work-items/claim", { key, body: { workerId: "w1", limit: 10, leaseSeconds: 60 } });
    expect(claim.status).toBe(200);
    expect(claim.body.items).toHaveLength(2);
    const [first, second] = claim.body.items;
    expect(typeof first.fencingToken).toBe("string");
    expect(BigInt(second.fencingToken)).not.toBe(BigInt(first.fencingToken));
    expect(first.attemptNumber).toBe(1);

    const order = await call(app, "GET", `/v1/work-orders/${created.body.id}`, { key });
    expect(order.body.status).toBe("PROCESSING");

    const hb = await call(app, "POST", `/v1/work-items/${first.id}/heartbeat`, {
      key,
      body: { attemptId: first.attemptId, fencingToken: first.fencingToken },
    });
    expect(hb.status).toBe(200);
    expect(new Date(hb.body.leaseExpiresAt).getTime()).toBeGreaterThan(Date.now() + 50_000);

    for (const claimed of claim.body.items) {
      const done = await call(app, "POST", `/v1/work-items/${claimed.id}/complete`, {
        key,
        body: { attemptId: claimed.attemptId, fencingToken: claimed.fencingToken, result: { ok: claimed.id } },
      });
      expect(done.status).toBe(200);
      expect(done.body.status).toBe("COMPLETED");
    }
    const finished = await call(app, "GET", `/v1/work-orders/${created.body.id}`, { key });
    expect(finished.body.status).toBe("COMPLETED");
    expect(finished.body.completedAt).not.toBeNull();
    expect(finished.body.itemCounts).toEqual({ COMPLETED: 2 });

    const detail = await call(app, "GET", `/v1/work-items/${first.id}`, { key });
    expect(detail.status).toBe(200);
    expect(detail.body.result).toEqual({ ok: first.id });
    expect(detail.body.attempts).toHaveLength(1);
    expect(detail.body.attempts[0]).toMatchObject({ status: "COMPLETED", workerId: "w1", attemptNumber: 1 });

    expect((await activityFor(first.id)).map((r) => r.action)).toEqual(["work_item.created", "work_item.claimed", "work_item.completed"]);
    expect((await activityFor(created.body.id)).map((r) => r.action)).toEqual([
      "work_order.created",
      "work_order.processing",
      "work_order.completed",
    ]);

    // a second completion of the same attempt changes nothing
    const again = await call(app, "POST", `/v1/work-items/${first.id}/complete`, {
      key,
      body: { attemptId: first.attemptId, fencingToken: first.fencingToken, result: 2 },
    });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("conflict");
  });
});
