import { sql } from "drizzle-orm";
import { expect, it } from "vitest";
import { rows } from "../../db/client";
import { cancelItems, failItemsToDeadLetter, requeueItems } from "../../functions/lifecycle/items";
import { refreshOrderStatus } from "../../functions/lifecycle/orders";
import { createPayloadSchema } from "../../functions/platform/payload-schemas";
import { describeEachDatabase } from "../support/databases";
import { call, ownerActor, type ResponseBody, seedWorkspace, testApp } from "../support/http";

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

  it("completes many items in one call: each fence checked on its own, a result per item", async () => {
    const { app, key } = await setup();
    const created = await call(app, "POST", "/v1/work-orders", {
      key,
      body: { title: "batch", items: [item(), item(), item()] },
    });
    expect(created.status).toBe(201);
    const claim = await call(app, "POST", "/v1/work-items/claim", { key, body: { workerId: "w", limit: 3 } });
    expect(claim.body.items).toHaveLength(3);
    const [a, b, c] = claim.body.items;
    const missing = "00000000-0000-4000-8000-000000000000";
    const batch = await call(app, "POST", "/v1/work-items:complete", {
      key,
      body: {
        items: [
          { id: a.id, attemptId: a.attemptId, fencingToken: a.fencingToken, result: { n: 1 } },
          // A stale fence among good ones: the token of another attempt.
          { id: b.id, attemptId: b.attemptId, fencingToken: c.fencingToken, result: { n: 2 } },
          { id: missing, attemptId: c.attemptId, fencingToken: c.fencingToken },
          { id: c.id, attemptId: c.attemptId, fencingToken: c.fencingToken, result: { n: 3 } },
        ],
      },
    });
    expect(batch.status).toBe(200);
    expect(batch.body.results.map((r: ResponseBody) => [r.id, r.outcome])).toEqual([
      [a.id, "completed"],
      [b.id, "conflict"],
      [missing, "not_found"],
      [c.id, "completed"],
    ]);
    expect(batch.body.results[0].item.status).toBe("COMPLETED");
    expect(batch.body.results[1].error.code).toBe("conflict");
    const stale = await call(app, "GET", `/v1/work-items/${b.id}`, { key });
    expect(stale.body.status).toBe("PROCESSING");
    expect((await call(app, "GET", `/v1/work-items/${c.id}`, { key })).body.result).toEqual({ n: 3 });
    expect((await activityFor(a.id)).map((r) => r.action)).toContain("work_item.completed");
    expect((await activityFor(b.id)).map((r) => r.action)).not.toContain("work_item.completed");
    // Completing the last one finishes the order.
    const last = await call(app, "POST", "/v1/work-items:complete", {
      key,
      body: { items: [{ id: b.id, attemptId: b.attemptId, fencingToken: b.fencingToken }] },
    });
    expect(last.body.results[0].outcome).toBe("completed");
    expect((await call(app, "GET", `/v1/work-orders/${created.body.id}`, { key })).body.status).toBe("COMPLETED");
    const empty = await call(app, "POST", "/v1/work-items:complete", { key, body: { items: [] } });
    expect(empty.status).toBe(400);
  });

  it("creates an order with items, claims, completes and finishes the order", async () => {
    const { app, key } = await setup();
    const created = await call(app, "POST", "/v1/work-orders", {
      key,
      body: { title: "t", priority: "HIGH", metadata: { a: 1 }, items: [item(), item("translate", { to: "fr" })] },
    });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe("PENDING");
    expect(created.body.items).toHaveLength(2);
    expect(created.body.items.every((i: ResponseBody) => i.status === "QUEUED" && i.priority === "HIGH")).toBe(true);
    expect(created.body.items[0]).not.toHaveProperty("fencingToken");

    const claim = await call(app, "POST", "/v1/work-items/claim", {
      key,
      body: { workerId: "w1", limit: 10, leaseSeconds: 60 },
    });
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

    expect((await activityFor(first.id)).map((r) => r.action)).toEqual([
      "work_item.created",
      "work_item.claimed",
      "work_item.completed",
    ]);
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

  async function claimAll(app: ResponseBody, key: string, workerId = "w") {
    const claimed = await call(app, "POST", "/v1/work-items/claim", {
      key,
      body: { workerId, limit: 100, leaseSeconds: 60 },
    });
    expect(claimed.status).toBe(200);
    return claimed.body.items as Array<{
      id: string;
      attemptId: string;
      fencingToken: string;
      type: string;
      workOrderId: string;
    }>;
  }

  it("documents every work-orders route in the OpenAPI document", async () => {
    const { app } = await setup();
    const doc = await call(app, "GET", "/openapi.json");
    expect(doc.status).toBe(200);
    for (const path of [
      "/v1/work-orders",
      "/v1/work-orders/{id}",
      "/v1/work-orders/{id}/cancel",
      "/v1/work-items/claim",
      "/v1/work-items/{id}",
      "/v1/work-items/{id}/heartbeat",
      "/v1/work-items/{id}/complete",
      "/v1/work-items/{id}/fail",
      "/v1/work-items/{id}/evals",
      "/v1/dead-letters",
      "/v1/dead-letters/{id}",
      "/v1/dead-letters/{id}/redrive",
      "/v1/dead-letters/{id}/discard",
      "/v1/workflow-templates",
      "/v1/workflow-templates/{id}",
    ]) {
      expect(doc.body.paths, path).toHaveProperty([path]);
    }
    const header = doc.body.paths["/v1/work-orders"].post.parameters.find((p: ResponseBody) => p.in === "header");
    expect(header.name.toLowerCase()).toBe("idempotency-key");
  });

  it("makes creation idempotent with Idempotency-Key", async () => {
    const { app, key } = await setup();
    const body = { title: "once", metadata: { b: 2, a: 1 }, items: [item()] };
    const headers = { "Idempotency-Key": "order-123" };
    const first = await call(app, "POST", "/v1/work-orders", { key, body, headers });
    expect(first.status).toBe(201);
    // Same body with keys in another order: the original order, 200.
    const again = await call(app, "POST", "/v1/work-orders", {
      key,
      body: { items: [item()], metadata: { a: 1, b: 2 }, title: "once" },
      headers,
    });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect(again.body.items.map((i: ResponseBody) => i.id)).toEqual(first.body.items.map((i: ResponseBody) => i.id));
    const different = await call(app, "POST", "/v1/work-orders", { key, body: { ...body, title: "other" }, headers });
    expect(different.status).toBe(409);
    expect(different.body.error.code).toBe("conflict");
    const list = await call(app, "GET", "/v1/work-orders", { key });
    expect(list.body.items.filter((o: ResponseBody) => o.title === "once")).toHaveLength(1);
    // Without a key, the same body creates another order.
    expect((await call(app, "POST", "/v1/work-orders", { key, body })).status).toBe(201);
    const tooLong = await call(app, "POST", "/v1/work-orders", {
      key,
      body,
      headers: { "Idempotency-Key": "x".repeat(300) },
    });
    expect(tooLong.status).toBe(400);
  });

  it("settles concurrent first uses of one Idempotency-Key to a single order", async () => {
    const { app, key, database } = await setup();
    const body = { title: "race", items: [item()] };
    const headers = { "Idempotency-Key": "race-1" };
    const responses = await Promise.all(
      [1, 2, 3].map(() => call(app, "POST", "/v1/work-orders", { key, body, headers })),
    );
    expect(responses.map((r) => r.status).sort()).toEqual([200, 200, 201]);
    expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
    const count = await rows<{ n: number }>(
      database.db,
      sql`select count(*)::int as n from work_orders where idempotency_key = 'race-1'`,
    );
    expect(count[0]!.n).toBe(1);
  });

  it("manages versioned workflow templates and expands them into orders", async () => {
    const { app, key } = await setup();
    const template = await call(app, "POST", "/v1/workflow-templates", {
      key,
      body: {
        name: "triage",
        description: "two steps",
        retry: { baseMs: 50, capMs: 500 },
        steps: [
          { type: "classify", payloadDefaults: { model: "small", lang: "en" }, maxAttempts: 5 },
          { type: "respond", payloadDefaults: { tone: "formal" } },
        ],
      },
    });
    expect(template.status).toBe(201);
    expect(template.headers.get("location")).toBe(`/v1/workflow-templates/${template.body.id}`);
    expect(template.body).toMatchObject({ version: 1, isActive: true, retry: { baseMs: 50, capMs: 500 } });
    expect(
      (await call(app, "POST", "/v1/workflow-templates", { key, body: { name: "triage", steps: [{ type: "x" }] } }))
        .status,
    ).toBe(409);

    const order = await call(app, "POST", "/v1/work-orders", {
      key,
      body: {
        title: "from template",
        templateId: template.body.id,
        payload: { lang: "fr", ticket: 7 },
        items: [item("extra")],
      },
    });
    expect(order.status).toBe(201);
    expect(order.body.templateId).toBe(template.body.id);
    expect(order.body.retry).toEqual({ baseMs: 50, capMs: 500 });
    expect(order.body.items.map((i: ResponseBody) => [i.type, i.payload, i.maxAttempts, i.sequence])).toEqual([
      ["classify", { model: "small", lang: "fr", ticket: 7 }, 5, 0],
      ["respond", { tone: "formal", lang: "fr", ticket: 7 }, 3, 1],
      ["extra", { text: "hello" }, 3, 2],
    ]);

    const edited = await call(app, "PATCH", `/v1/workflow-templates/${template.body.id}`, {
      key,
      body: { steps: [{ type: "classify" }] },
    });
    // A new version is created: 201 with its own path, as for an approval policy's edit.
    expect(edited.status).toBe(201);
    expect(edited.headers.get("location")).toBe(`/v1/workflow-templates/${edited.body.id}`);
    expect(edited.body).toMatchObject({
      name: "triage",
      version: 2,
      isActive: true,
      retry: { baseMs: 50, capMs: 500 },
    });
    expect(edited.body.id).not.toBe(template.body.id);
    const old = await call(app, "GET", `/v1/workflow-templates/${template.body.id}`, { key });
    expect(old.body).toMatchObject({ version: 1, isActive: false });
    expect(
      (await call(app, "PATCH", `/v1/workflow-templates/${template.body.id}`, { key, body: { description: "x" } }))
        .status,
    ).toBe(409);
    const active = await call(app, "GET", "/v1/workflow-templates", { key });
    expect(active.body.items.map((t: ResponseBody) => t.version)).toEqual([2]);
    const all = await call(app, "GET", "/v1/workflow-templates?includeInactive=true&limit=1", { key });
    expect(all.body.items).toHaveLength(1);
    expect(all.body.nextCursor).toBeTruthy();
    const rest = await call(
      app,
      "GET",
      `/v1/workflow-templates?includeInactive=true&limit=1&cursor=${all.body.nextCursor}`,
      { key },
    );
    expect([all.body.items[0].version, rest.body.items[0].version]).toEqual([2, 1]);

    const unknown = await call(app, "POST", "/v1/work-orders", {
      key,
      body: { title: "x", templateId: "00000000-0000-4000-8000-000000000000" },
    });
    expect(unknown.status).toBe(422);
    expect((await call(app, "POST", "/v1/work-orders", { key, body: { title: "empty" } })).status).toBe(422);
    expect((await call(app, "POST", "/v1/workflow-templates", { key, body: { name: "bad", steps: [] } })).status).toBe(
      400,
    );
    expect(
      (
        await call(app, "POST", "/v1/workflow-templates", {
          key,
          body: { name: "bad", steps: [{ type: "x" }], retry: { baseMs: 10, capMs: 5 } },
        })
      ).status,
    ).toBe(400);
  });

  it("validates payloads against the registered schema: 422 naming the failing paths", async () => {
    const { app, key, database, workspaceId, userId } = await setup();
    const actor = ownerActor({ workspaceId, userId });
    await database.withTenant(actor, (tx) =>
      createPayloadSchema(tx, actor, {
        itemType: "invoice",
        jsonSchema: {
          type: "object",
          required: ["amount", "customer"],
          properties: {
            amount: { type: "number", minimum: 0 },
            customer: { type: "object", properties: { id: { type: "string" } } },
          },
        },
      }),
    );
    const bad = await call(app, "POST", "/v1/work-orders", {
      key,
      body: {
        title: "bad",
        items: [item("other", { anything: true }), item("invoice", { amount: -5, customer: { id: 3 } })],
      },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error.code).toBe("invalid");
    expect(bad.body.error.details[0].item).toBe(1);
    const paths = bad.body.error.details[0].errors.map((e: ResponseBody) => e.path);
    expect(paths).toEqual(expect.arrayContaining(["/amount", "/customer/id"]));
    expect((await call(app, "GET", "/v1/work-orders", { key })).body.items).toHaveLength(0);
    const good = await call(app, "POST", "/v1/work-orders", {
      key,
      body: { title: "good", items: [item("invoice", { amount: 5, customer: { id: "c" } })] },
    });
    expect(good.status).toBe(201);
  });

  it("cancels an order: queued items cancelled, in-flight completions 409, nothing claimable", async () => {
    const { app, key } = await setup();
    const order = await call(app, "POST", "/v1/work-orders", {
      key,
      body: { title: "c", items: [item(), item(), item()] },
    });
    const claimed = await call(app, "POST", "/v1/work-items/claim", {
      key,
      body: { workerId: "w", limit: 1, leaseSeconds: 60 },
    });
    const inFlight = claimed.body.items[0];
    const cancelled = await call(app, "POST", `/v1/work-orders/${order.body.id}/cancel`, {
      key,
      body: { reason: "no longer needed" },
    });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe("CANCELLED");
    expect(cancelled.body.items.every((i: ResponseBody) => i.status === "CANCELLED")).toBe(true);
    const late = await call(app, "POST", `/v1/work-items/${inFlight.id}/complete`, {
      key,
      body: { attemptId: inFlight.attemptId, fencingToken: inFlight.fencingToken, result: {} },
    });
    expect(late.status).toBe(409);
    expect(late.body.error.message).toMatch(/cancelled/);
    expect((await claimAll(app, key)).length).toBe(0);
    expect((await call(app, "POST", `/v1/work-orders/${order.body.id}/cancel`, { key })).status).toBe(409);
    const detail = await call(app, "GET", `/v1/work-items/${inFlight.id}`, { key });
    expect(detail.body.attempts[0].status).toBe("CANCELLED");
    expect((await activityFor(order.body.id)).map((r) => r.action)).toContain("work_order.cancelled");
    expect((await activityFor(inFlight.id)).map((r) => r.action)).toContain("work_item.cancelled");
  });

  it("lists orders with filters and cursor pagination", async () => {
    const { app, key } = await setup();
    const ids: string[] = [];
    for (const priority of ["LOW", "HIGH", "HIGH", "URGENT"]) {
      const created = await call(app, "POST", "/v1/work-orders", {
        key,
        body: { title: priority, priority, items: [item()] },
      });
      ids.push(created.body.id);
    }
    const page1 = await call(app, "GET", "/v1/work-orders?limit=3", { key });
    expect(page1.body.items.map((o: ResponseBody) => o.id)).toEqual([ids[3], ids[2], ids[1]]);
    const page2 = await call(app, "GET", `/v1/work-orders?limit=3&cursor=${page1.body.nextCursor}`, { key });
    expect(page2.body.items.map((o: ResponseBody) => o.id)).toEqual([ids[0]]);
    expect(page2.body.nextCursor).toBeNull();
    const high = await call(app, "GET", "/v1/work-orders?priority=HIGH", { key });
    expect(high.body.items.map((o: ResponseBody) => o.id)).toEqual([ids[2], ids[1]]);
    await call(app, "POST", `/v1/work-orders/${ids[0]}/cancel`, { key });
    const cancelled = await call(app, "GET", "/v1/work-orders?status=CANCELLED", { key });
    expect(cancelled.body.items.map((o: ResponseBody) => o.id)).toEqual([ids[0]]);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await call(app, "GET", `/v1/work-orders?createdAfter=${future}`, { key })).body.items).toEqual([]);
    expect((await call(app, "GET", `/v1/work-orders?createdBefore=${future}`, { key })).body.items).toHaveLength(4);
    expect((await call(app, "GET", "/v1/work-orders?cursor=garbage", { key })).status).toBe(400);
    expect((await call(app, "GET", "/v1/work-orders?status=DONE", { key })).status).toBe(400);
    expect((await call(app, "GET", "/v1/work-orders?createdAfter=yesterday", { key })).status).toBe(400);
  });

  it("records evals and lists them with the item", async () => {
    const { app, key } = await setup();
    const order = await call(app, "POST", "/v1/work-orders", { key, body: { title: "e", items: [item()] } });
    const itemId = order.body.items[0].id;
    const recorded = await call(app, "POST", `/v1/work-items/${itemId}/evals`, {
      key,
      body: { evaluator: "rubric-v1", score: 0.75, passed: true, details: { notes: "ok" } },
    });
    expect(recorded.status).toBe(201);
    expect(recorded.body).toMatchObject({ evaluator: "rubric-v1", score: 0.75, passed: true });
    expect(
      (
        await call(app, "POST", `/v1/work-items/${itemId}/evals`, {
          key,
          body: { evaluator: "x", score: 1.5, passed: true },
        })
      ).status,
    ).toBe(400);
    const detail = await call(app, "GET", `/v1/work-items/${itemId}`, { key });
    expect(detail.body.evals).toHaveLength(1);
    expect(detail.body.evals[0].details).toEqual({ notes: "ok" });
  });

  it("lists, gets, redrives and discards dead letters through the API; never deletes them", async () => {
    const { app, key, database, workspaceId } = await setup();
    const order = await call(app, "POST", "/v1/work-orders", {
      key,
      body: { title: "dl", retry: { baseMs: 1, capMs: 1 }, items: [item("a", { v: 1 }), item("b")] },
    });
    for (const claimed of await claimAll(app, key)) {
      const failed = await call(app, "POST", `/v1/work-items/${claimed.id}/fail`, {
        key,
        body: {
          attemptId: claimed.attemptId,
          fencingToken: claimed.fencingToken,
          error: `fatal ${claimed.type}`,
          retryable: false,
        },
      });
      expect(failed.status).toBe(200);
      expect(failed.body.deadLetterId).toBeTruthy();
    }
    expect((await call(app, "GET", `/v1/work-orders/${order.body.id}`, { key })).body.status).toBe("FAILED");
    // A dead letter from another source (the event pipeline) is listed too.
    await database.withMaintenance((tx) =>
      tx.execute(
        sql`insert into dead_letters (workspace_id, source, reason, payload) values (${workspaceId}::uuid, 'event', 'unparseable', '{"raw": 1}')`,
      ),
    );
    const all = await call(app, "GET", "/v1/dead-letters", { key });
    expect(all.status).toBe(200);
    expect(all.body.items).toHaveLength(3);
    const events = await call(app, "GET", "/v1/dead-letters?source=event", { key });
    expect(events.body.items).toHaveLength(1);
    const eventRedrive = await call(app, "POST", `/v1/dead-letters/${events.body.items[0].id}/redrive`, { key });
    expect(eventRedrive.status).toBe(409);
    expect(eventRedrive.body.error.message).toMatch(/source 'event'/);

    const [letterA] = (await call(app, "GET", "/v1/dead-letters?source=work_item", { key })).body.items.filter(
      (d: ResponseBody) => d.payload.v === 1,
    );
    const one = await call(app, "GET", `/v1/dead-letters/${letterA.id}`, { key });
    expect(one.body).toMatchObject({
      status: "OPEN",
      reason: "Non-retryable failure: fatal a",
      errors: [{ attempt: 1, error: "fatal a" }],
    });
    expect(
      (await call(app, "POST", `/v1/dead-letters/${letterA.id}/redrive`, { key, body: { payload: "nope" } })).status,
    ).toBe(400);
    const redriven = await call(app, "POST", `/v1/dead-letters/${letterA.id}/redrive`, {
      key,
      body: { payload: { v: 2 } },
    });
    expect(redriven.status).toBe(200);
    expect(redriven.body.deadLetter).toMatchObject({ status: "REDRIVEN", redriveCount: 1 });
    expect(redriven.body.workItemId).toBe(letterA.workItemId);
    expect((await call(app, "POST", `/v1/dead-letters/${letterA.id}/redrive`, { key })).status).toBe(409);
    expect((await call(app, "GET", `/v1/work-orders/${order.body.id}`, { key })).body.status).toBe("PROCESSING");
    const [again] = await claimAll(app, key);
    expect(again!.id).toBe(letterA.workItemId);
    const done = await call(app, "POST", `/v1/work-items/${again!.id}/complete`, {
      key,
      body: { attemptId: again!.attemptId, fencingToken: again!.fencingToken, result: "ok" },
    });
    expect(done.status).toBe(200);
    // Item b is still failed: the order is FAILED again, with a completed and a failed item.
    expect((await call(app, "GET", `/v1/work-orders/${order.body.id}`, { key })).body.status).toBe("FAILED");

    const open = await call(app, "GET", "/v1/dead-letters?status=OPEN&source=work_item", { key });
    expect(open.body.items).toHaveLength(1);
    const letterId = open.body.items[0].id;
    // Automatic retry: set, validated, and refused once the dead letter is closed.
    const retry = await call(app, "PATCH", `/v1/dead-letters/${letterId}`, {
      key,
      body: { autoRetry: true, maxRedrives: 5, nextRetryAt: "2030-01-01T00:00:00Z" },
    });
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ autoRetry: true, maxRedrives: 5, nextRetryAt: "2030-01-01T00:00:00.000Z" });
    expect((await call(app, "PATCH", `/v1/dead-letters/${letterId}`, { key, body: { autoRetry: "yes" } })).status).toBe(
      400,
    );
    expect(
      (await call(app, "PATCH", `/v1/dead-letters/${letterId}`, { key, body: { autoRetry: true, maxRedrives: -1 } }))
        .status,
    ).toBe(400);
    expect(
      (await call(app, "POST", `/v1/dead-letters/${open.body.items[0].id}/discard`, { key, body: {} })).status,
    ).toBe(400);
    const discarded = await call(app, "POST", `/v1/dead-letters/${open.body.items[0].id}/discard`, {
      key,
      body: { reason: "known bad input" },
    });
    expect(discarded.status).toBe(200);
    expect(discarded.body).toMatchObject({ status: "DISCARDED", discardReason: "known bad input" });
    expect(discarded.body.discardedBy).toBeTruthy();
    expect((await call(app, "POST", `/v1/dead-letters/${open.body.items[0].id}/redrive`, { key })).status).toBe(409);
    expect(discarded.body).toMatchObject({ autoRetry: false, nextRetryAt: null });
    expect((await call(app, "PATCH", `/v1/dead-letters/${letterId}`, { key, body: { autoRetry: true } })).status).toBe(
      409,
    );
    expect((await call(app, "GET", "/v1/dead-letters", { key })).body.items).toHaveLength(3);
    expect((await call(app, "GET", "/v1/dead-letters?status=DISCARDED", { key })).body.items).toHaveLength(1);
    expect((await activityFor(letterA.id)).map((r) => r.action)).toEqual([
      "dead_letter.created",
      "dead_letter.redriven",
    ]);
    expect((await activityFor(letterId)).map((r) => r.action)).toEqual([
      "dead_letter.created",
      "dead_letter.retry_policy_set",
      "dead_letter.discarded",
    ]);
  });

  it("writes dead letters' errors[].at as ISO 8601 in UTC with Z, like every other timestamp", async () => {
    const { app, key } = await setup();
    const order = await call(app, "POST", "/v1/work-orders", {
      key,
      body: { title: "twice", retry: { baseMs: 1, capMs: 1 }, items: [{ ...item("twice"), maxAttempts: 2 }] },
    });
    expect(order.status).toBe(201);
    let deadLetterId: string | null = null;
    for (let attempt = 1; attempt <= 2; attempt++) {
      let claimed: Awaited<ReturnType<typeof claimAll>> = [];
      // The retry waits 1 ms (plus the clock of the claim statement): claim until it is due.
      for (let tries = 0; claimed.length === 0 && tries < 50; tries++) claimed = await claimAll(app, key);
      expect(claimed).toHaveLength(1);
      const failed = await call(app, "POST", `/v1/work-items/${claimed[0]!.id}/fail`, {
        key,
        body: { attemptId: claimed[0]!.attemptId, fencingToken: claimed[0]!.fencingToken, error: `try ${attempt}` },
      });
      expect(failed.status).toBe(200);
      deadLetterId = failed.body.deadLetterId ?? null;
    }
    expect(deadLetterId).not.toBeNull();
    const letter = await call(app, "GET", `/v1/dead-letters/${deadLetterId}`, { key });
    // The earlier attempt's error (read back from the attempt) and the last one (written with the letter).
    expect(letter.body.errors.map((e: ResponseBody) => [e.attempt, e.error])).toEqual([
      [1, "try 1"],
      [2, "try 2"],
    ]);
    for (const at of [...letter.body.errors.map((e: ResponseBody) => e.at), letter.body.createdAt]) {
      expect(at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(new Date(at).toISOString()).toBe(at);
    }
    expect(letter.body.errors[0].at <= letter.body.errors[1].at).toBe(true);
  });

  it("hides another workspace's orders, items, templates and dead letters (404 by id, absent from listings)", async () => {
    const { app, key } = await setup();
    const other = await seedWorkspace(db().database);
    const order = await call(app, "POST", "/v1/work-orders", { key, body: { title: "mine", items: [item()] } });
    const template = await call(app, "POST", "/v1/workflow-templates", {
      key,
      body: { name: "mine", steps: [{ type: "x" }] },
    });
    const [claimed] = await claimAll(app, key);
    const failed = await call(app, "POST", `/v1/work-items/${claimed!.id}/fail`, {
      key,
      body: { attemptId: claimed!.attemptId, fencingToken: claimed!.fencingToken, error: "x", retryable: false },
    });
    const theirs = other.adminKey;
    const fence = { attemptId: claimed!.attemptId, fencingToken: claimed!.fencingToken };
    for (const [method, path, body] of [
      ["GET", `/v1/work-orders/${order.body.id}`, undefined],
      ["POST", `/v1/work-orders/${order.body.id}/cancel`, {}],
      ["GET", `/v1/work-items/${claimed!.id}`, undefined],
      ["POST", `/v1/work-items/${claimed!.id}/complete`, fence],
      ["POST", `/v1/work-items/${claimed!.id}/heartbeat`, fence],
      ["POST", `/v1/work-items/${claimed!.id}/evals`, { evaluator: "e", score: 1, passed: true }],
      ["GET", `/v1/dead-letters/${failed.body.deadLetterId}`, undefined],
      ["POST", `/v1/dead-letters/${failed.body.deadLetterId}/redrive`, {}],
      ["POST", `/v1/dead-letters/${failed.body.deadLetterId}/discard`, { reason: "x" }],
      ["GET", `/v1/workflow-templates/${template.body.id}`, undefined],
      ["PATCH", `/v1/workflow-templates/${template.body.id}`, { description: "x" }],
    ] as const) {
      const response = await call(app, method, path, { key: theirs, body });
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(response.body.error.code).toBe("not_found");
    }
    for (const path of ["/v1/work-orders", "/v1/dead-letters", "/v1/workflow-templates"]) {
      expect((await call(app, "GET", path, { key: theirs })).body.items).toEqual([]);
    }
    await call(app, "POST", "/v1/work-orders", { key, body: { title: "queued", items: [item()] } });
    expect(await claimAll(app, theirs)).toEqual([]);
    const templated = await call(app, "POST", "/v1/work-orders", {
      key: theirs,
      body: { title: "x", templateId: template.body.id },
    });
    expect(templated.status).toBe(422);
  });

  it("rejects invalid input with 4xx and the error shape", async () => {
    const { app, key } = await setup();
    const order = await call(app, "POST", "/v1/work-orders", { key, body: { title: "v", items: [item()] } });
    const itemId = order.body.items[0].id;
    const cases: Array<[string, string, unknown, number]> = [
      ["GET", "/v1/work-orders/not-a-uuid", undefined, 400],
      ["GET", "/v1/work-items/123", undefined, 400],
      ["GET", "/v1/dead-letters/xyz", undefined, 400],
      ["GET", "/v1/work-orders/00000000-0000-4000-8000-000000000000", undefined, 404],
      ["POST", "/v1/work-orders", { title: "x", priority: "CRITICAL", items: [item()] }, 400],
      ["POST", "/v1/work-orders", { title: 5, items: [item()] }, 400],
      ["POST", "/v1/work-orders", { title: "x", items: [{ type: "a", payload: [] }] }, 400],
      ["POST", "/v1/work-orders", { title: "x", items: [{ type: "a", maxAttempts: 0 }] }, 400],
      ["POST", "/v1/work-orders", { title: "x", items: [item()], surprise: 1 }, 400],
      ["POST", "/v1/work-orders", { title: "x", items: "many" }, 400],
      ["POST", "/v1/work-orders", { title: "x", items: [{ type: "a", approval: { gate: "DURING" } }] }, 400],
      ["POST", "/v1/work-orders", { title: "x", payload: { a: 1 }, items: [item()] }, 422],
      ["POST", "/v1/work-items/claim", { workerId: "w", limit: -1, leaseSeconds: 30 }, 400],
      ["POST", "/v1/work-items/claim", { workerId: "w", limit: 0, leaseSeconds: 30 }, 400],
      ["POST", "/v1/work-items/claim", { workerId: "w", limit: 101, leaseSeconds: 30 }, 400],
      ["POST", "/v1/work-items/claim", { workerId: "w", limit: 1, leaseSeconds: 0 }, 400],
      ["POST", "/v1/work-items/claim", { workerId: "w", limit: 1, leaseSeconds: 86_400_000 }, 400],
      ["POST", "/v1/work-items/claim", { workerId: "w", limit: 1.5, leaseSeconds: 30 }, 400],
      ["POST", "/v1/work-items/claim", { workerId: "", limit: 1, leaseSeconds: 30 }, 400],
      ["POST", "/v1/work-items/claim", { workerId: "w", types: "a" }, 400],
      ["POST", `/v1/work-items/${itemId}/complete`, { attemptId: "x", fencingToken: "1" }, 400],
      ["POST", `/v1/work-items/${itemId}/complete`, { attemptId: itemId, fencingToken: "abc" }, 400],
      ["POST", `/v1/work-items/${itemId}/complete`, { attemptId: itemId, fencingToken: 12 }, 400],
      ["POST", `/v1/work-items/${itemId}/complete`, { attemptId: itemId, fencingToken: "99999999999999999999" }, 400],
      ["POST", `/v1/work-items/${itemId}/complete`, { attemptId: itemId, fencingToken: "1" }, 409],
      ["POST", `/v1/work-items/${itemId}/fail`, { attemptId: itemId, fencingToken: "1" }, 400],
      [
        "POST",
        `/v1/work-items/${itemId}/fail`,
        { attemptId: itemId, fencingToken: "1", error: "e", retryable: "yes" },
        400,
      ],
      ["POST", `/v1/work-items/${itemId}/heartbeat`, { attemptId: itemId, fencingToken: "1", leaseSeconds: 0 }, 400],
      [
        "POST",
        "/v1/work-items/00000000-0000-4000-8000-000000000000/complete",
        { attemptId: itemId, fencingToken: "1" },
        404,
      ],
      ["GET", "/v1/dead-letters?source=email", undefined, 400],
      ["GET", "/v1/work-orders?limit=-5", undefined, 400],
    ];
    for (const [method, path, body, status] of cases) {
      const response =
        method === "POST" && body !== undefined && typeof body === "object" && body !== null && "raw" in body
          ? await call(app, method, path, { key, raw: String((body as ResponseBody).raw) })
          : await call(app, method, path, { key, body });
      expect(response.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(status);
      expect(response.body.error).toMatchObject({ code: expect.any(String), message: expect.any(String) });
    }
    const malformed = await call(app, "POST", "/v1/work-items/claim", { key, raw: "{not json" });
    expect(malformed.status).toBe(400);
  });

  it("requires work:read for reads and work:write for writes", async () => {
    const { app, key } = await setup();
    const reader = await call(app, "POST", "/v1/api-keys", { key, body: { name: "reader", scopes: ["work:read"] } });
    const order = await call(app, "POST", "/v1/work-orders", { key, body: { title: "s", items: [item()] } });
    expect((await call(app, "GET", `/v1/work-orders/${order.body.id}`, { key: reader.body.key })).status).toBe(200);
    expect((await call(app, "GET", "/v1/dead-letters", { key: reader.body.key })).status).toBe(200);
    for (const [path, body] of [
      ["/v1/work-orders", { title: "x", items: [item()] }],
      ["/v1/work-items/claim", { workerId: "w", limit: 1, leaseSeconds: 30 }],
      [`/v1/work-orders/${order.body.id}/cancel`, {}],
    ] as const) {
      const response = await call(app, "POST", path, { key: reader.body.key, body });
      expect(response.status).toBe(403);
    }
    const writer = await call(app, "POST", "/v1/api-keys", { key, body: { name: "writer", scopes: ["work:write"] } });
    expect((await call(app, "GET", "/v1/work-orders", { key: writer.body.key })).status).toBe(403);
    expect(
      (await call(app, "POST", "/v1/work-items/claim", { key: writer.body.key, body: { workerId: "w" } })).status,
    ).toBe(200);
  });

  it("gates items on approval: before-gates wait, after-gates review; lifecycle helpers move them on", async () => {
    const { app, key, database, workspaceId, userId } = await setup();
    const order = await call(app, "POST", "/v1/work-orders", {
      key,
      body: {
        title: "gated",
        items: [
          { type: "deploy", payload: {}, approval: { gate: "BEFORE", requiredApprovals: 1 } },
          { type: "write", payload: {}, approval: { gate: "AFTER" } },
          { type: "plain", payload: {} },
        ],
      },
    });
    expect(order.status).toBe(201);
    expect(order.body.approvalRequestIds).toHaveLength(1);
    const [deploy, write, plain] = order.body.items;
    expect(deploy.status).toBe("AWAITING_APPROVAL");
    expect(deploy.approval).toMatchObject({ gate: "BEFORE" });
    const claimed = await claimAll(app, key);
    expect(claimed.map((c) => c.id).sort()).toEqual([write.id, plain.id].sort());

    const writeClaim = claimed.find((c) => c.id === write.id)!;
    const reviewed = await call(app, "POST", `/v1/work-items/${write.id}/complete`, {
      key,
      body: { attemptId: writeClaim.attemptId, fencingToken: writeClaim.fencingToken, result: { draft: "v1" } },
    });
    expect(reviewed.status).toBe(200);
    expect(reviewed.body.status).toBe("AWAITING_APPROVAL");
    expect(reviewed.body.approvalRequestIds).toHaveLength(1);
    const requests = await rows<{ work_item_id: string; gate: string; status: string }>(
      database.db,
      sql`select work_item_id, gate::text, status::text from approval_requests where work_order_id = ${order.body.id}::uuid order by gate`,
    );
    // Ordered by the gate's text: AFTER, then BEFORE.
    expect(requests).toEqual([
      { work_item_id: write.id, gate: "AFTER", status: "PENDING" },
      { work_item_id: deploy.id, gate: "BEFORE", status: "PENDING" },
    ]);

    const plainClaim = claimed.find((c) => c.id === plain.id)!;
    await call(app, "POST", `/v1/work-items/${plain.id}/complete`, {
      key,
      body: { attemptId: plainClaim.attemptId, fencingToken: plainClaim.fencingToken },
    });

    // What an approval decision does: approve the before-gate → claimable.
    const approver = { workspaceId, type: "USER" as const, id: userId };
    const requeued = await database.withTenant({ workspaceId, userId }, (tx) =>
      requeueItems(tx, approver, [{ itemId: deploy.id, reason: "approved" }]),
    );
    expect(requeued).toEqual([deploy.id]);
    const [deployClaim] = await claimAll(app, key);
    expect(deployClaim!.id).toBe(deploy.id);
    await call(app, "POST", `/v1/work-items/${deploy.id}/complete`, {
      key,
      body: { attemptId: deployClaim!.attemptId, fencingToken: deployClaim!.fencingToken },
    });
    expect((await call(app, "GET", `/v1/work-orders/${order.body.id}`, { key })).body.status).toBe("PROCESSING");

    // Reject the after-gate review: the item fails into a dead letter, the order fails.
    const failed = await database.withTenant({ workspaceId, userId }, (tx) =>
      failItemsToDeadLetter(tx, approver, [{ itemId: write.id, reason: "Rejected in review: wrong tone" }]),
    );
    expect(failed).toHaveLength(1);
    const letter = await call(app, "GET", `/v1/dead-letters/${failed[0]!.deadLetterId}`, { key });
    expect(letter.body).toMatchObject({
      source: "work_item",
      reason: "Rejected in review: wrong tone",
      workItemId: write.id,
    });
    expect((await call(app, "GET", `/v1/work-orders/${order.body.id}`, { key })).body.status).toBe("FAILED");
    // Already terminal: the helpers skip it.
    expect(
      await database.withTenant({ workspaceId, userId }, (tx) => cancelItems(tx, approver, [{ itemId: write.id }])),
    ).toEqual([]);
  });

  it("cancelItems cancels gated items and an order of only cancelled items is CANCELLED", async () => {
    const { app, key, database, workspaceId, userId } = await setup();
    const order = await call(app, "POST", "/v1/work-orders", {
      key,
      body: { title: "rejected", items: [{ type: "deploy", payload: {}, approval: { gate: "BEFORE" } }] },
    });
    const approver = { workspaceId, type: "USER" as const, id: userId };
    const cancelled = await database.withTenant({ workspaceId, userId }, (tx) =>
      cancelItems(tx, approver, [{ itemId: order.body.items[0].id, reason: "rejected" }]),
    );
    expect(cancelled).toEqual([order.body.items[0].id]);
    const after = await call(app, "GET", `/v1/work-orders/${order.body.id}`, { key });
    expect(after.body.status).toBe("CANCELLED");
    expect(after.body.items[0].status).toBe("CANCELLED");
    const refreshed = await database.withTenant({ workspaceId, userId }, (tx) =>
      refreshOrderStatus(tx, [order.body.id]),
    );
    expect(refreshed).toEqual([]);
  });

  it("withdraws the pending approval requests of the items an order cancellation cancels", async () => {
    const { app, key, database } = await setup();
    const order = await call(app, "POST", "/v1/work-orders", {
      key,
      body: { title: "gated then cancelled", items: [{ type: "deploy", payload: {}, approval: { gate: "BEFORE" } }] },
    });
    expect(order.body.items[0].status).toBe("AWAITING_APPROVAL");
    const pending = () =>
      rows<{ status: string }>(
        database.db,
        sql`select status::text from approval_requests where work_order_id = ${order.body.id}::uuid`,
      );
    expect(await pending()).toEqual([{ status: "PENDING" }]);
    expect((await call(app, "POST", `/v1/work-orders/${order.body.id}/cancel`, { key })).status).toBe(200);
    expect(await pending()).toEqual([{ status: "CANCELLED" }]);
  });
});
