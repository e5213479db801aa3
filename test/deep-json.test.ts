/**
 * Deep JSON is a 400: every JSON value the API takes (payloads, results, metadata, configs,
 * schemas, details, conditions…) follows one storable-JSON rule (functions/shared/validation.ts:
 * depth, size, no NUL). Nested 100,000 levels, such a value overflowed the stack (a 500) on the
 * way to the database; now it is refused with `validation_failed` and the offending field's path,
 * nothing is stored, and the server goes on answering.
 */
import { expect, it } from "vitest";
import type { Router } from "../functions/shared/app";
import { BadRequest } from "../functions/shared/errors";
import { MAX_JSON_DEPTH, MAX_JSON_SIZE } from "../functions/shared/validation";
import { createWorkOrder } from "../functions/work-orders/work-orders";
import { describeEachDatabase } from "./support/databases";
import { call, ownerActor, seedWorkspace, testApp } from "./support/http";

/** JSON text of arrays nested `depth` levels (built as text: the test's own JSON.stringify would overflow too). */
const deep = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;
/** Just over the rule, and far enough to overflow the stack of anything recursive. */
const DEPTHS = [MAX_JSON_DEPTH + 1, 5_000, 100_000];
const HOLE = "@DEEP@";

describeEachDatabase("deep JSON input", (db) => {
  async function setup() {
    const { database } = db();
    const app = testApp(database);
    const ws = await seedWorkspace(database);
    return { database, app, key: ws.adminKey, ...ws };
  }

  /** Sends `template` as JSON text with the deep value where HOLE is. */
  function send(
    app: Router,
    key: string,
    method: string,
    path: string,
    template: unknown,
    depth: number,
    headers = {},
  ) {
    const raw = JSON.stringify(template).replace(JSON.stringify(HOLE), deep(depth));
    return call(app, method, path, { key, raw, headers });
  }

  async function expectRefused(
    app: Router,
    key: string,
    method: string,
    path: string,
    template: unknown,
    field: string,
    headers = {},
  ) {
    for (const depth of DEPTHS) {
      const response = await send(app, key, method, path, template, depth, headers);
      expect({ path, depth, status: response.status, code: response.body?.error?.code }).toEqual({
        path,
        depth,
        status: 400,
        code: "validation_failed",
      });
      expect(response.body.error.details, `${method} ${path} at depth ${depth}`).toContainEqual({
        path: field,
        message: expect.stringMatching(new RegExp(`nested deeper than ${MAX_JSON_DEPTH} levels`)),
      });
    }
    // And the server still answers.
    expect((await app.request("/health")).status).toBe(200);
  }

  const count = async (app: Router, key: string, path: string) => {
    const listed = await call(app, "GET", path, { key });
    expect(listed.status, JSON.stringify(listed.body)).toBe(200);
    return (listed.body.items as unknown[]).length;
  };

  it("work orders: item payloads, metadata and a template's payload, with or without an Idempotency-Key", async () => {
    const { app, key } = await setup();
    const template = await call(app, "POST", "/v1/workflow-templates", {
      key,
      body: { name: "tpl", steps: [{ type: "T" }] },
    });
    expect(template.status).toBe(201);
    for (const headers of [{}, { "idempotency-key": "deep-1" }]) {
      await expectRefused(
        app,
        key,
        "POST",
        "/v1/work-orders",
        { title: "t", items: [{ type: "T", payload: { a: HOLE } }] },
        "items.0.payload",
        headers,
      );
      await expectRefused(
        app,
        key,
        "POST",
        "/v1/work-orders",
        { title: "t", metadata: { a: HOLE }, items: [{ type: "T" }] },
        "metadata",
        headers,
      );
      await expectRefused(
        app,
        key,
        "POST",
        "/v1/work-orders",
        { title: "t", templateId: template.body.id, payload: { a: HOLE } },
        "payload",
        headers,
      );
    }
    expect(await count(app, key, "/v1/work-orders")).toBe(0);
    // The same key still works for a proper body: nothing was recorded under it.
    const created = await call(app, "POST", "/v1/work-orders", {
      key,
      headers: { "idempotency-key": "deep-1" },
      body: { title: "t", items: [{ type: "T", payload: { a: [[1]] } }] },
    });
    expect(created.status).toBe(201);
  });

  it("workflow templates: step payload defaults", async () => {
    const { app, key } = await setup();
    const step = { type: "T", payloadDefaults: { a: HOLE } };
    await expectRefused(
      app,
      key,
      "POST",
      "/v1/workflow-templates",
      { name: "deep", steps: [step] },
      "steps.0.payloadDefaults",
    );
    expect(await count(app, key, "/v1/workflow-templates")).toBe(0);
  });

  it("work items: completion results and eval details; dead letters: redrive payloads", async () => {
    const { app, key } = await setup();
    const order = await call(app, "POST", "/v1/work-orders", {
      key,
      body: {
        title: "t",
        items: [
          { type: "T", payload: { n: 1 } },
          { type: "U", payload: { n: 2 }, maxAttempts: 1 },
        ],
      },
    });
    expect(order.status).toBe(201);
    const claim = await call(app, "POST", "/v1/work-items/claim", { key, body: { workerId: "w", limit: 2 } });
    // Claimed in either order (same priority and age): by type, T to complete, U to dead-letter.
    const first = claim.body.items.find((i: { type: string }) => i.type === "T");
    const second = claim.body.items.find((i: { type: string }) => i.type === "U");
    const fence = { attemptId: first.attemptId, fencingToken: first.fencingToken };
    await expectRefused(app, key, "POST", `/v1/work-items/${first.id}/complete`, { ...fence, result: HOLE }, "result");
    await expectRefused(
      app,
      key,
      "POST",
      `/v1/work-items/${first.id}/evals`,
      { evaluator: "e", score: 1, passed: true, details: { a: HOLE } },
      "details",
    );
    const item = await call(app, "GET", `/v1/work-items/${first.id}`, { key });
    expect(item.body).toMatchObject({ status: "PROCESSING", result: null, evals: [] });

    const failed = await call(app, "POST", `/v1/work-items/${second.id}/fail`, {
      key,
      body: { attemptId: second.attemptId, fencingToken: second.fencingToken, error: "boom", retryable: false },
    });
    expect(failed.status).toBe(200);
    const [dead] = (await call(app, "GET", "/v1/dead-letters", { key })).body.items;
    await expectRefused(app, key, "POST", `/v1/dead-letters/${dead.id}/redrive`, { payload: { a: HOLE } }, "payload");
    expect((await call(app, "GET", `/v1/dead-letters/${dead.id}`, { key })).body.status).toBe(dead.status);
    expect((await call(app, "GET", `/v1/work-items/${second.id}`, { key })).body.payload).toEqual({ n: 2 });
  });

  it("memories: metadata on create, batch, update and search", async () => {
    const { app, key } = await setup();
    await expectRefused(app, key, "POST", "/v1/memories", { content: "deep", metadata: { a: HOLE } }, "metadata");
    await expectRefused(
      app,
      key,
      "POST",
      "/v1/memories:batch",
      { items: [{ content: "deep", metadata: { a: HOLE } }] },
      "items.0.metadata",
    );
    expect(await count(app, key, "/v1/memories")).toBe(0);
    const stored = await call(app, "POST", "/v1/memories", { key, body: { content: "shallow", metadata: { a: 1 } } });
    expect(stored.status).toBe(201);
    await expectRefused(app, key, "PATCH", `/v1/memories/${stored.body.id}`, { metadata: { a: HOLE } }, "metadata");
    expect((await call(app, "GET", `/v1/memories/${stored.body.id}`, { key })).body.metadata).toEqual({ a: 1 });
    await expectRefused(
      app,
      key,
      "POST",
      "/v1/memories/search",
      { query: "shallow", filters: { metadata: { a: HOLE } } },
      "filters.metadata",
    );
  });

  it("conversations and events", async () => {
    const { app, key } = await setup();
    await expectRefused(app, key, "POST", "/v1/conversations", { query: "q", actionsTaken: [HOLE] }, "actionsTaken");
    expect(await count(app, key, "/v1/conversations")).toBe(0);
    const event = { source: "s", eventType: "t", externalId: "e" };
    await expectRefused(
      app,
      key,
      "POST",
      "/v1/events",
      { events: [{ ...event, payload: { a: HOLE } }] },
      "events.0.payload",
    );
    await expectRefused(
      app,
      key,
      "POST",
      "/v1/events",
      { events: [{ ...event, payload: {}, metadata: { a: HOLE } }] },
      "events.0.metadata",
    );
    expect(await count(app, key, "/v1/events")).toBe(0);
  });

  it("platform: connector config, tool schemas, payload schemas", async () => {
    const { app, key } = await setup();
    await expectRefused(app, key, "POST", "/v1/connectors", { name: "c", type: "API", config: { a: HOLE } }, "config");
    expect(await count(app, key, "/v1/connectors")).toBe(0);
    const connector = await call(app, "POST", "/v1/connectors", { key, body: { name: "c", type: "API" } });
    await expectRefused(app, key, "PATCH", `/v1/connectors/${connector.body.id}`, { config: { a: HOLE } }, "config");
    expect((await call(app, "GET", `/v1/connectors/${connector.body.id}`, { key })).body.config).toEqual({});

    await expectRefused(app, key, "POST", "/v1/tools", { name: "t", inputSchema: { a: HOLE } }, "inputSchema");
    await expectRefused(app, key, "POST", "/v1/tools", { name: "t", outputSchema: { a: HOLE } }, "outputSchema");
    expect(await count(app, key, "/v1/tools")).toBe(0);
    const tool = await call(app, "POST", "/v1/tools", { key, body: { name: "t" } });
    await expectRefused(app, key, "PATCH", `/v1/tools/${tool.body.id}`, { inputSchema: { a: HOLE } }, "inputSchema");

    await expectRefused(app, key, "POST", "/v1/schemas", { itemType: "X", jsonSchema: { a: HOLE } }, "jsonSchema");
    expect(await count(app, key, "/v1/schemas")).toBe(0);
  });

  it("approval policies: condition values", async () => {
    const { app, key } = await setup();
    const condition = { field: "payload.a", operator: "equals", value: HOLE };
    await expectRefused(
      app,
      key,
      "POST",
      "/v1/approval-policies",
      { name: "deep", conditions: [condition] },
      "conditions.0.value",
    );
    expect(await count(app, key, "/v1/approval-policies")).toBe(0);
    const policy = await call(app, "POST", "/v1/approval-policies", { key, body: { name: "p" } });
    expect(policy.status).toBe(201);
    await expectRefused(
      app,
      key,
      "PATCH",
      `/v1/approval-policies/${policy.body.policyKey}`,
      { conditions: [condition] },
      "conditions.0.value",
    );
  });

  it("MCP tools refuse it as the API does", async () => {
    const { app, key } = await setup();
    for (const depth of DEPTHS) {
      const args = `{"title":"t","items":[{"type":"T","payload":{"a":${deep(depth)}}}]}`;
      const response = await app.request("/mcp", {
        method: "POST",
        headers: {
          authorization: `Bearer ${key}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
        },
        body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_work_order","arguments":${args}}}`,
      });
      const text = await response.text();
      // One JSON-RPC message, as JSON or as one server-sent event.
      const message = JSON.parse(text.startsWith("{") ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? "null"));
      expect({ depth, status: response.status, isError: message?.result?.isError }).toEqual({
        depth,
        status: 200,
        isError: true,
      });
      expect(JSON.parse(message.result.content[0].text).error).toMatchObject({
        code: "validation_failed",
        details: [{ path: "items.0.payload", message: expect.stringMatching(/nested deeper/) }],
      });
    }
    expect(await count(app, key, "/v1/work-orders")).toBe(0);
  });

  it("the domain functions refuse it too (MCP, jobs), and a value over the size limit or with NUL", async () => {
    const { database, workspaceId, userId } = await setup();
    const actor = ownerActor({ workspaceId, userId });
    const attempt = (payload: Record<string, unknown>) =>
      database
        .withTenant({ workspaceId }, (tx) =>
          createWorkOrder(tx, actor, { title: "t", items: [{ type: "T", payload }] }, { idempotencyKey: "k" }),
        )
        .then(
          () => undefined,
          (error: unknown) => error,
        );
    for (const payload of [
      { a: JSON.parse(deep(100_000)) },
      { big: "x".repeat(MAX_JSON_SIZE) },
      { text: "nul \u0000" },
      { "key\u0000": 1 },
    ]) {
      const error = await attempt(payload);
      expect(error).toBeInstanceOf(BadRequest);
      expect((error as BadRequest).details).toEqual([{ path: "items.0.payload", message: expect.any(String) }]);
    }
  });
});
