/**
 * Every date-time a client sends — query strings and JSON bodies, in every context — takes one
 * format, ISO 8601 with a time zone (the format of every timestamp the API returns), and anything
 * else is a 400 that says so (not "expected date, received Date").
 */
import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { DATE_TIME_MESSAGE } from "../functions/shared/validation";
import { describeEachDatabase } from "./support/databases";
import { call, type ResponseBody, seedWorkspace, testApp } from "./support/http";

/** A date-time input: how to send a value to it, and the path the 400 names. */
const DATE_INPUTS: Array<{ name: string; send: (value: unknown) => [string, string, unknown]; path: string }> = [
  {
    name: "work orders' createdAfter",
    send: (value) => ["GET", `/v1/work-orders?createdAfter=${encodeURIComponent(String(value))}`, undefined],
    path: "createdAfter",
  },
  {
    name: "dead letters' createdBefore",
    send: (value) => ["GET", `/v1/dead-letters?createdBefore=${encodeURIComponent(String(value))}`, undefined],
    path: "createdBefore",
  },
  {
    name: "activity's since",
    send: (value) => ["GET", `/v1/activity?since=${encodeURIComponent(String(value))}`, undefined],
    path: "since",
  },
  {
    name: "memory search's filters.createdAfter",
    send: (value) => ["POST", "/v1/memories/search", { query: "deploys", filters: { createdAfter: value } }],
    path: "filters.createdAfter",
  },
  {
    name: "a dead letter's nextRetryAt",
    send: (value) => ["PATCH", `/v1/dead-letters/${randomUUID()}`, { autoRetry: true, nextRetryAt: value }],
    path: "nextRetryAt",
  },
];

describeEachDatabase("date-time inputs", (db) => {
  it("refuse anything but an ISO 8601 date-time with a time zone, with a 400 that says which format", async () => {
    const app = testApp(db().database);
    const { adminKey } = await seedWorkspace(db().database);
    for (const input of DATE_INPUTS) {
      for (const value of ["yesterday", "2026-01-31", "2026-01-31T09:00:00", "Jan 31 2026", "2026-02-30T09:00:00Z"]) {
        const [method, path, body] = input.send(value);
        const response = await call(app, method, path, { key: adminKey, body });
        expect(response.status, `${input.name} = ${value}`).toBe(400);
        expect(response.body.error.code).toBe("validation_failed");
        expect(response.body.error.details).toEqual([{ path: input.path, message: DATE_TIME_MESSAGE }]);
      }
    }
    // A number (epoch milliseconds) in a JSON body is refused too.
    const epoch = await call(app, "POST", "/v1/memories/search", {
      key: adminKey,
      body: { query: "deploys", filters: { createdAfter: Date.now() } },
    });
    expect(epoch.status).toBe(400);
    expect(epoch.body.error.details).toEqual([{ path: "filters.createdAfter", message: DATE_TIME_MESSAGE }]);
    expect(DATE_TIME_MESSAGE).toMatch(/ISO 8601/);
  });

  it("take Z and numeric offsets alike", async () => {
    const app = testApp(db().database);
    const { adminKey } = await seedWorkspace(db().database);
    const created = await call(app, "POST", "/v1/work-orders", {
      key: adminKey,
      body: { title: "dated", items: [{ type: "T", payload: {} }] },
    });
    expect(created.status).toBe(201);
    const createdAt = new Date(created.body.createdAt).getTime();
    const inUtc = new Date(createdAt - 60_000).toISOString(); // a minute before, as …Z
    const inParis = new Date(createdAt - 60_000 + 3_600_000).toISOString().replace("Z", "+01:00"); // the same instant
    for (const since of [inUtc, inParis]) {
      const listed = await call(app, "GET", `/v1/work-orders?createdAfter=${encodeURIComponent(since)}`, {
        key: adminKey,
      });
      expect(listed.status, since).toBe(200);
      expect(listed.body.items.map((order: ResponseBody) => order.id)).toEqual([created.body.id]);
    }
    const later = new Date(createdAt + 60_000).toISOString().replace("Z", "+00:00");
    const none = await call(app, "GET", `/v1/work-orders?createdAfter=${encodeURIComponent(later)}`, { key: adminKey });
    expect(none.body.items).toEqual([]);
  });
});
