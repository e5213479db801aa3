import { expect, it } from "vitest";
import { describeEachDatabase } from "../support/databases";
import { call, type ResponseBody, seedWorkspace, testApp } from "../support/http";

describeEachDatabase("work order listing", (db) => {
  it("gives each order its items per status, and none of another workspace's", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey: key } = await seedWorkspace(database);
    const { adminKey: otherKey } = await seedWorkspace(database);
    const mixed = await call(app, "POST", "/v1/work-orders", {
      key,
      body: {
        title: "mixed",
        items: [
          { type: "COUNT_A", payload: {} },
          { type: "COUNT_A", payload: {} },
          { type: "COUNT_B", payload: {}, approval: { gate: "BEFORE" } },
        ],
      },
    });
    expect(mixed.status).toBe(201);
    const gated = await call(app, "POST", "/v1/work-orders", {
      key,
      body: { title: "gated", items: [{ type: "COUNT_C", payload: {}, approval: { gate: "BEFORE" } }] },
    });
    expect(gated.status).toBe(201);
    await call(app, "POST", "/v1/work-orders", {
      key: otherKey,
      body: { title: "theirs", items: [{ type: "COUNT_A", payload: {} }] },
    });
    const claimed = await call(app, "POST", "/v1/work-items/claim", {
      key,
      body: { workerId: "w", types: ["COUNT_A"], limit: 1 },
    });
    expect(claimed.body.items).toHaveLength(1);

    const list = await call(app, "GET", "/v1/work-orders", { key });
    expect(list.status).toBe(200);
    const byTitle = Object.fromEntries(list.body.items.map((order: ResponseBody) => [order.title, order.itemCounts]));
    expect(byTitle).toEqual({
      mixed: { QUEUED: 1, PROCESSING: 1, AWAITING_APPROVAL: 1 },
      gated: { AWAITING_APPROVAL: 1 },
    });
  });
});
