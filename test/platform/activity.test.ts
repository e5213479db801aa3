import { beforeAll, describe, expect, it } from "vitest";
import { ACTIVITY_READ_SCOPES, activityReadScope } from "../../functions/platform/activity";
import type { Router } from "../../functions/shared/app";
import { describeEachDatabase } from "../support/databases";
import { call, type ResponseBody, seedWorkspace, testApp } from "../support/http";
import { type Api, createPerson, inProcess, type Person } from "../support/people";

let counter = 0;
const email = (who: string) => `${who}-${++counter}-${Math.random().toString(36).slice(2)}@example.test`;

/** Every page of `path` (which has a query) at `limit` per page. */
async function allPages(api: Api, key: string, path: string, limit: number): Promise<ResponseBody[]> {
  const items: ResponseBody[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const response = await api("GET", `${path}&limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`, key);
    expect(response.status).toBe(200);
    items.push(...response.body.items);
    expect(response.body.items.length).toBeLessThanOrEqual(limit);
    cursor = response.body.nextCursor;
    if (!cursor) return items;
  }
  throw new Error("more than 100 pages");
}

describe("activity read scopes", () => {
  it("name the scope that reads each entity, and admin for the rest", () => {
    expect(activityReadScope("work_item")).toBe("work:read");
    expect(activityReadScope("approval_request")).toBe("approvals:read");
    expect(activityReadScope("memory")).toBe("memory:read");
    expect(activityReadScope("connector")).toBe("platform:read");
    expect(activityReadScope("api_key")).toBe("admin");
    expect(activityReadScope("something_new")).toBe("admin");
    expect(Object.values(ACTIVITY_READ_SCOPES).every((scope) => scope.endsWith(":read") || scope === "admin")).toBe(
      true,
    );
  });
});

describeEachDatabase("GET /v1/activity and GET /v1/me", (db) => {
  let app: Router;
  let api: Api;
  let owner: { workspaceId: string; userId: string; adminKey: string };
  let other: { workspaceId: string; userId: string; adminKey: string };
  let approver: Person;
  let memoryAgent: Person;
  let writerOnly: Person;
  let order: ResponseBody;
  let otherOrder: ResponseBody;
  let startedAt: Date;

  beforeAll(async () => {
    const { database } = db();
    app = testApp(database);
    api = inProcess(app);
    owner = await seedWorkspace(database, "activity");
    other = await seedWorkspace(database, "elsewhere");
    approver = await createPerson(api, owner.adminKey, {
      email: email("approver"),
      name: "Ada Approver",
      role: "APPROVER",
      scopes: ["approvals:read", "approvals:decide"],
    });
    memoryAgent = await createPerson(api, owner.adminKey, {
      email: email("agent"),
      role: "MEMBER",
      scopes: ["memory:read", "memory:write"],
    });
    writerOnly = await createPerson(api, owner.adminKey, {
      email: email("writer"),
      role: "MEMBER",
      scopes: ["work:write"],
    });
    startedAt = new Date();
    const created = await api("POST", "/v1/work-orders", owner.adminKey, {
      title: "Pay ACME",
      items: [
        { type: "PAYMENT", payload: { amount: 120 }, approval: { gate: "BEFORE" } },
        ...Array.from({ length: 6 }, (_, i) => ({ type: "NOTE", payload: { n: i } })),
      ],
    });
    expect(created.status).toBe(201);
    order = created.body;
    const decided = await api("POST", `/v1/approvals/${order.approvalRequestIds[0]}/decisions`, approver.key, {
      decision: "APPROVED",
      reason: "within budget",
    });
    expect(decided.status).toBe(201);
    const remembered = await api("POST", "/v1/memories", memoryAgent.key, { content: "ACME is paid on the 5th" });
    expect(remembered.status).toBe(201);
    const elsewhere = await api("POST", "/v1/work-orders", other.adminKey, {
      title: "Another workspace's order",
      items: [{ type: "NOTE", payload: {} }],
    });
    expect(elsewhere.status).toBe(201);
    otherOrder = elsewhere.body;
  });

  it("GET /v1/me says who the key is: key, user, role, workspace, never the secret", async () => {
    const me = await api("GET", "/v1/me", approver.key);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      apiKey: { id: approver.keyId, prefix: approver.keyPrefix, scopes: ["approvals:read", "approvals:decide"] },
      user: { id: approver.userId, email: approver.email, name: "Ada Approver" },
      role: "APPROVER",
      workspace: { id: owner.workspaceId },
    });
    expect(JSON.stringify(me.body)).not.toContain(approver.key);
    expect(me.body.apiKey).not.toHaveProperty("keyHash");
    const mine = await api("GET", "/v1/me", owner.adminKey);
    expect(mine.body).toMatchObject({ role: "OWNER", apiKey: { scopes: ["admin"] }, user: { id: owner.userId } });
    expect((await call(app, "GET", "/v1/me")).status).toBe(401);
  });

  it("GET /v1/me: a service key acts as no one; a demoted person's key shows what it may do now", async () => {
    const service = await api("POST", "/v1/api-keys", owner.adminKey, {
      name: "ingest",
      scopes: ["memory:write"],
      service: true,
    });
    expect(service.status).toBe(201);
    const asService = await api("GET", "/v1/me", service.body.key);
    expect(asService.body).toMatchObject({ user: null, role: null, apiKey: { effectiveScopes: ["memory:write"] } });

    const admin = await createPerson(api, owner.adminKey, { email: email("admin"), role: "ADMIN", scopes: ["admin"] });
    const demoted = await api("PATCH", `/v1/members/${admin.userId}`, owner.adminKey, { role: "VIEWER" });
    expect(demoted.status).toBe(200);
    const me = await api("GET", "/v1/me", admin.key);
    expect(me.body.role).toBe("VIEWER");
    expect(me.body.apiKey.scopes).toEqual(["admin"]);
    expect([...me.body.apiKey.effectiveScopes].sort()).toEqual([
      "approvals:read",
      "memory:read",
      "platform:read",
      "work:read",
    ]);
  });

  it("lists the workspace's changes newest first, naming the person behind each", async () => {
    const listed = await api("GET", "/v1/activity?limit=200", owner.adminKey);
    expect(listed.status).toBe(200);
    const items: ResponseBody[] = listed.body.items;
    const times = items.map((item) => Date.parse(item.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const approved = items.find((item) => item.action === "approval.approved");
    expect(approved).toMatchObject({
      entityType: "approval_request",
      entityId: order.approvalRequestIds[0],
      actorType: "USER",
      actorId: approver.userId,
      actorUser: { email: approver.email, name: "Ada Approver" },
      after: { decision: "APPROVED", reason: "within budget" },
    });
    expect(approved).not.toHaveProperty("workspaceId");
    const createdOrder = items.find((item) => item.action === "work_order.created");
    expect(createdOrder).toMatchObject({ entityId: order.id, actorId: owner.userId });
  });

  it("filters by entity, actor, action (exact or prefix) and time range", async () => {
    const byEntity = await api("GET", `/v1/activity?entityType=work_order&entityId=${order.id}`, owner.adminKey);
    expect(byEntity.body.items.map((item: ResponseBody) => item.action)).toEqual(["work_order.created"]);

    const byActor = await api("GET", `/v1/activity?actorId=${approver.userId}&limit=200`, owner.adminKey);
    expect(byActor.body.items.length).toBeGreaterThan(0);
    expect(byActor.body.items.every((item: ResponseBody) => item.actorId === approver.userId)).toBe(true);

    const byType = await api("GET", "/v1/activity?actorType=SYSTEM&limit=200", owner.adminKey);
    expect(byType.body.items.every((item: ResponseBody) => item.actorType === "SYSTEM")).toBe(true);

    const exact = await api("GET", "/v1/activity?action=approval.approved", owner.adminKey);
    expect(exact.body.items).toHaveLength(1);
    const prefix = await api("GET", "/v1/activity?action=approval.*&limit=200", owner.adminKey);
    expect(new Set(prefix.body.items.map((item: ResponseBody) => item.action))).toEqual(
      new Set(["approval.requested", "approval.approved"]),
    );
    // `_` in a prefix is a literal underscore, not LIKE's any-character.
    const literal = await api("GET", "/v1/activity?action=work_item.*&limit=200", owner.adminKey);
    expect(literal.body.items.length).toBeGreaterThanOrEqual(7);
    expect(literal.body.items.every((item: ResponseBody) => item.action.startsWith("work_item."))).toBe(true);

    const future = new Date(Date.now() + 60_000).toISOString();
    const none = await api("GET", `/v1/activity?since=${future}`, owner.adminKey);
    expect(none.body.items).toEqual([]);
    const before = await api("GET", `/v1/activity?until=${startedAt.toISOString()}&limit=200`, owner.adminKey);
    expect(before.body.items.every((item: ResponseBody) => Date.parse(item.at) < startedAt.getTime())).toBe(true);
    expect(before.body.items.some((item: ResponseBody) => item.action === "work_order.created")).toBe(false);
    const window = await api(
      "GET",
      `/v1/activity?since=${startedAt.toISOString()}&until=${future}&action=work_order.created`,
      owner.adminKey,
    );
    expect(window.body.items).toHaveLength(1);
  });

  it("pages through everything once, also rows of one transaction that share their time", async () => {
    const everything = await api("GET", "/v1/activity?limit=200", owner.adminKey);
    for (const limit of [1, 3]) {
      const paged = await allPages(api, owner.adminKey, "/v1/activity?action=work_item.*", limit);
      const unpaged = everything.body.items.filter((item: ResponseBody) => item.action.startsWith("work_item."));
      expect(paged.map((item) => item.id)).toEqual(unpaged.map((item: ResponseBody) => item.id));
    }
    // The seven items were created in one transaction: one `at` for all of them.
    const created = everything.body.items.filter((item: ResponseBody) => item.action === "work_item.created");
    expect(new Set(created.map((item: ResponseBody) => item.at)).size).toBe(1);
    expect(created).toHaveLength(7);
  });

  it("never returns another workspace's rows", async () => {
    const mine = await api("GET", "/v1/activity?limit=200", owner.adminKey);
    const ids = JSON.stringify(mine.body.items);
    expect(ids).not.toContain(otherOrder.id);
    expect(ids).not.toContain(other.workspaceId);
    const theirs = await api("GET", `/v1/activity?entityId=${otherOrder.id}`, owner.adminKey);
    expect(theirs.status).toBe(200);
    expect(theirs.body.items).toEqual([]);
    const byTheirOwner = await api("GET", `/v1/activity?actorId=${other.userId}`, owner.adminKey);
    expect(byTheirOwner.body.items).toEqual([]);
    const seenThere = await api("GET", "/v1/activity?limit=200", other.adminKey);
    expect(seenThere.body.items.every((item: ResponseBody) => item.actorId !== approver.userId)).toBe(true);
    expect(JSON.stringify(seenThere.body.items)).not.toContain(order.id);
  });

  it("shows a key only the rows of entities it can read", async () => {
    const asApprover = await api("GET", "/v1/activity?limit=200", approver.key);
    expect(asApprover.status).toBe(200);
    const types = new Set(asApprover.body.items.map((item: ResponseBody) => item.entityType));
    expect(types).toEqual(new Set(["approval_request"]));

    const asAgent = await api("GET", "/v1/activity?limit=200", memoryAgent.key);
    expect(new Set(asAgent.body.items.map((item: ResponseBody) => item.entityType))).toEqual(new Set(["memory"]));

    const refused = await api("GET", "/v1/activity?entityType=work_order", memoryAgent.key);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: "forbidden" });
    expect(refused.body.error.message).toContain("work:read");

    const keys = await api("GET", "/v1/activity?entityType=api_key", approver.key);
    expect(keys.status).toBe(403);
    expect(keys.body.error.message).toContain("admin");

    const noRead = await api("GET", "/v1/activity", writerOnly.key);
    expect(noRead.status).toBe(403);
    expect(noRead.body.error.message).toMatch(/read scope/);

    const asAdmin = await api("GET", "/v1/activity?entityType=api_key&limit=200", owner.adminKey);
    expect(asAdmin.status).toBe(200);
    expect(asAdmin.body.items.length).toBeGreaterThanOrEqual(3);
    expect((await call(app, "GET", "/v1/activity")).status).toBe(401);
  });

  it("answers bad input with a 400 naming the parameter", async () => {
    const bad: Array<[string, string]> = [
      ["entityId=not-a-uuid", "entityId"],
      ["entityType=Work%20Order", "entityType"],
      ["actorType=ROBOT", "actorType"],
      ["action=approval.%25", "action"],
      ["since=yesterday", "since"],
      ["since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z", "until"],
      ["limit=0", "limit"],
      ["limit=201", "limit"],
    ];
    for (const [query, parameter] of bad) {
      const response = await api("GET", `/v1/activity?${query}`, owner.adminKey);
      expect(response.status, query).toBe(400);
      expect(response.body.error.code, query).toBe("validation_failed");
      expect(JSON.stringify(response.body.error.details), query).toContain(parameter);
    }
    for (const cursor of ["garbage", Buffer.from(JSON.stringify({ t: "2030-01-01", id: "x" })).toString("base64url")]) {
      const response = await api("GET", `/v1/activity?cursor=${cursor}`, owner.adminKey);
      expect(response.status).toBe(400);
      expect(response.body.error.message).toMatch(/cursor/);
    }
  });
});
