/**
 * Queue controls over HTTP on both databases: who may change them (the weakest keys are refused),
 * bad input is a 4xx that changes nothing, another workspace's ids are 404, and the claim's
 * response carries nextClaimableAt.
 */
import { expect, it } from "vitest";
import { describeEachDatabase } from "../support/databases";
import { call, seedWorkspace, testApp } from "../support/http";

describeEachDatabase("queue controls API", (db) => {
  async function setup() {
    const { database } = db();
    const app = testApp(database);
    const ws = await seedWorkspace(database);
    const key = ws.adminKey;
    const serviceKey = async (scopes: string[]) => {
      const created = await call(app, "POST", "/v1/api-keys", { key, body: { name: scopes.join("+"), scopes } });
      expect(created.status).toBe(201);
      return created.body.key as string;
    };
    return { app, key, serviceKey };
  }

  it("changing limits, pauses and schedules needs platform:write: a worker's key and a reader's key are refused", async () => {
    const { app, key, serviceKey } = await setup();
    const reader = await serviceKey(["work:read"]);
    const worker = await serviceKey(["work:read", "work:write"]);
    const memoryOnly = await serviceKey(["memory:read"]);
    const order = await call(app, "POST", "/v1/work-orders", { key, body: { title: "o", items: [{ type: "t" }] } });
    const template = await call(app, "POST", "/v1/workflow-templates", {
      key,
      body: { name: "tpl", steps: [{ type: "t" }] },
    });
    expect(template.status).toBe(201);
    const limit = await call(app, "PUT", "/v1/queue-limits", { key, body: { type: "t", maxInFlight: 1 } });
    expect(limit.status).toBe(200);
    const schedule = await call(app, "POST", "/v1/schedules", {
      key,
      body: { name: "s", cron: "0 * * * *", templateId: template.body.id },
    });
    expect(schedule.status).toBe(201);

    const changes: Array<[string, string, unknown?]> = [
      ["PUT", "/v1/queue-limits", { concurrencyKey: "k", maxInFlight: 5 }],
      ["DELETE", `/v1/queue-limits/${limit.body.id}`],
      ["PUT", "/v1/paused-types/t"],
      ["DELETE", "/v1/paused-types/t"],
      ["POST", `/v1/work-orders/${order.body.id}/pause`],
      ["POST", `/v1/work-orders/${order.body.id}/resume`],
      ["POST", "/v1/schedules", { name: "x", cron: "* * * * *", templateId: template.body.id }],
      ["POST", `/v1/schedules/${schedule.body.id}/pause`],
      ["POST", `/v1/schedules/${schedule.body.id}/resume`],
      ["DELETE", `/v1/schedules/${schedule.body.id}`],
    ];
    for (const weak of [reader, worker]) {
      for (const [method, path, body] of changes) {
        const refused = await call(app, method, path, { key: weak, body });
        expect(refused.status, `${method} ${path}`).toBe(403);
        expect(refused.body.error.code).toBe("forbidden");
      }
    }
    // Nothing changed.
    const limits = await call(app, "GET", "/v1/queue-limits", { key: reader });
    expect(limits.status).toBe(200);
    expect(limits.body.items).toEqual([
      expect.objectContaining({ kind: "TYPE", target: "t", maxInFlight: 1, rate: null }),
    ]);
    expect((await call(app, "GET", "/v1/paused-types", { key: reader })).body.items).toEqual([]);
    const schedules = await call(app, "GET", "/v1/schedules", { key: reader });
    expect(schedules.body.items).toHaveLength(1);
    expect(schedules.body.items[0].pausedAt).toBeNull();
    const read = await call(app, "GET", `/v1/work-orders/${order.body.id}`, { key: reader });
    expect(read.body.pausedAt).toBeNull();
    // Reading needs work:read.
    for (const path of ["/v1/queue-limits", "/v1/paused-types", "/v1/schedules"]) {
      expect((await call(app, "GET", path, { key: memoryOnly })).status, path).toBe(403);
    }
  });

  it("bad input is a 4xx that changes nothing; another workspace's ids are 404", async () => {
    const { app, key } = await setup();
    const bad: unknown[] = [
      { maxInFlight: 1 },
      { type: "t", concurrencyKey: "k", maxInFlight: 1 },
      { type: "t" },
      { type: "t", maxInFlight: 0 },
      { type: "t", rate: { limit: 0, intervalSeconds: 1 } },
      { type: "t", rate: { limit: 1, intervalSeconds: 10 ** 9 } },
      { type: "t", maxInFlight: 1, extra: true },
    ];
    for (const body of bad) {
      const refused = await call(app, "PUT", "/v1/queue-limits", { key, body });
      expect(refused.status, JSON.stringify(body)).toBe(400);
    }
    expect((await call(app, "GET", "/v1/queue-limits", { key })).body.items).toEqual([]);
    const badItems: unknown[] = [
      { type: "t", runAt: "tomorrow" },
      { type: "t", delaySeconds: -1 },
      { type: "t", dependsOn: "a" },
      { type: "t", concurrencyKey: "" },
    ];
    for (const item of badItems) {
      const refused = await call(app, "POST", "/v1/work-orders", { key, body: { title: "x", items: [item] } });
      expect(refused.status, JSON.stringify(item)).toBe(400);
    }
    const cycle = await call(app, "POST", "/v1/work-orders", {
      key,
      body: {
        title: "cycle",
        items: [
          { type: "t", key: "a", dependsOn: ["b"] },
          { type: "t", key: "b", dependsOn: ["a"] },
        ],
      },
    });
    expect(cycle.status).toBe(422);
    expect(cycle.body.error.details.cycle).toEqual(["a", "b", "a"]);
    expect((await call(app, "GET", "/v1/work-orders", { key })).body.items).toEqual([]);
    const badCron = await call(app, "POST", "/v1/schedules", {
      key,
      body: { name: "s", cron: "* * *", templateId: "00000000-0000-4000-8000-000000000000" },
    });
    expect(badCron.status).toBe(422);

    const other = await seedWorkspace(db().database);
    const theirs = await call(app, "POST", "/v1/work-orders", {
      key: other.adminKey,
      body: { title: "theirs", items: [{ type: "t" }] },
    });
    const theirLimit = await call(app, "PUT", "/v1/queue-limits", {
      key: other.adminKey,
      body: { type: "t", maxInFlight: 1 },
    });
    expect((await call(app, "POST", `/v1/work-orders/${theirs.body.id}/pause`, { key })).status).toBe(404);
    expect((await call(app, "DELETE", `/v1/queue-limits/${theirLimit.body.id}`, { key })).status).toBe(404);
    expect((await call(app, "DELETE", "/v1/paused-types/never-paused", { key })).status).toBe(404);
  });

  it("the claim says when a rate-limited item is next due", async () => {
    const { app, key } = await setup();
    await call(app, "PUT", "/v1/queue-limits", {
      key,
      body: { concurrencyKey: "model:x", rate: { limit: 1, intervalSeconds: 60 } },
    });
    await call(app, "POST", "/v1/work-orders", {
      key,
      body: {
        title: "calls",
        items: [
          { type: "t", concurrencyKey: "model:x" },
          { type: "t", concurrencyKey: "model:x" },
        ],
      },
    });
    const first = await call(app, "POST", "/v1/work-items/claim", { key, body: { workerId: "w", limit: 1 } });
    expect(first.body.items).toHaveLength(1);
    expect(first.body.nextClaimableAt).toBeNull();
    const second = await call(app, "POST", "/v1/work-items/claim", { key, body: { workerId: "w", limit: 1 } });
    expect(second.status).toBe(200);
    expect(second.body.items).toEqual([]);
    const due = new Date(second.body.nextClaimableAt).getTime();
    const started = new Date(first.body.items[0].leaseExpiresAt).getTime() - 300_000;
    expect(Math.abs(due - (started + 60_000))).toBeLessThan(1000);
  });
});
