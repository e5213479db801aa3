import { expect, it } from "vitest";
import type { Database } from "../../db/client";
import { RecordConversationInput } from "../../functions/memory/conversations";
import { LexicalHashEmbeddingProvider } from "../../functions/memory/embeddings";
import { insertMemories } from "../../functions/memory/memories";
import { describeEachDatabase } from "../support/databases";
import { call, type ResponseBody, seedWorkspace, testApp } from "../support/http";

const provider = new LexicalHashEmbeddingProvider();
/** Listings order by created_at (milliseconds), then id: keep creations in distinct milliseconds. */
const tick = () => new Promise((resolve) => setTimeout(resolve, 3));

async function memoriesIn(database: Database, workspaceId: string, contents: string[]) {
  const stored = await database.withTenant({ workspaceId }, (tx) =>
    insertMemories(
      tx,
      { workspaceId },
      contents.map((content) => ({ content })),
      { provider },
    ),
  );
  return stored.map((memory) => memory.id);
}

/** A request body built through the input schema (one source of truth for the shape). */
const conversation = (fields: Partial<RecordConversationInput> & { query: string }) =>
  RecordConversationInput.parse(fields);

describeEachDatabase("conversations", (db) => {
  it("records a conversation with the memories it used, and its feedback", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey, workspaceId, userId } = await seedWorkspace(database);
    const [refunds, shipping] = await memoriesIn(database, workspaceId, [
      "Refunds are issued within 5 business days.",
      "Orders ship from Rotterdam.",
    ]);

    const created = await call(app, "POST", "/v1/conversations", {
      key: adminKey,
      body: conversation({
        userRef: "customer-42",
        channel: "slack",
        query: "When do I get my refund?",
        response: "Within 5 business days.",
        memories: [
          { memoryId: shipping!, relevance: 0.2 },
          { memoryId: refunds!, relevance: 0.93 },
        ],
        actionsTaken: [{ tool: "lookup_order", orderId: "A-1" }],
        modelUsed: "gpt-4o-mini",
        tokensUsed: 312,
        latencyMs: 840,
      }),
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ userRef: "customer-42", channel: "slack", tokensUsed: 312, latencyMs: 840 });
    expect(created.body.memories).toHaveLength(2);
    const id = created.body.id as string;

    const rated = await call(app, "POST", `/v1/conversations/${id}/feedback`, {
      key: adminKey,
      body: { rating: 5, text: "Spot on" },
    });
    expect(rated.status).toBe(201);
    expect(rated.body).toMatchObject({ conversationId: id, rating: 5, text: "Spot on", createdBy: userId });
    await tick();
    expect(
      (await call(app, "POST", `/v1/conversations/${id}/feedback`, { key: adminKey, body: { rating: 2 } })).status,
    ).toBe(201);

    const detail = await call(app, "GET", `/v1/conversations/${id}`, { key: adminKey });
    expect(detail.status).toBe(200);
    expect(detail.body.query).toBe("When do I get my refund?");
    expect(detail.body.actionsTaken).toEqual([{ tool: "lookup_order", orderId: "A-1" }]);
    // Most relevant first, with the memory's content.
    expect(detail.body.memories.map((m: ResponseBody) => m.memoryId)).toEqual([refunds, shipping]);
    expect(detail.body.memories[0]).toMatchObject({ content: "Refunds are issued within 5 business days." });
    expect(detail.body.memories[0].relevance).toBeCloseTo(0.93, 5);
    expect(detail.body.feedback.map((f: ResponseBody) => f.rating)).toEqual([5, 2]);

    const listed = await call(app, "GET", `/v1/conversations/${id}/feedback`, { key: adminKey });
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((f: ResponseBody) => f.rating)).toEqual([2, 5]);
    const firstPage = await call(app, "GET", `/v1/conversations/${id}/feedback?limit=1`, { key: adminKey });
    expect(firstPage.body.items.map((f: ResponseBody) => f.rating)).toEqual([2]);
    const secondPage = await call(
      app,
      "GET",
      `/v1/conversations/${id}/feedback?limit=1&cursor=${firstPage.body.nextCursor}`,
      {
        key: adminKey,
      },
    );
    expect(secondPage.body.items.map((f: ResponseBody) => f.rating)).toEqual([5]);
    expect(secondPage.body.nextCursor).toBeNull();

    // Defaults: channel "api", no memories, no actions.
    const minimal = await call(app, "POST", "/v1/conversations", { key: adminKey, body: { query: "hi" } });
    expect(minimal.status).toBe(201);
    expect(minimal.body).toMatchObject({
      channel: "api",
      userRef: null,
      response: null,
      actionsTaken: [],
      memories: [],
    });
  });

  it("lists conversations newest first, by end user, with cursors", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey } = await seedWorkspace(database);
    for (const [userRef, query] of [
      ["u-1", "first"],
      ["u-2", "second"],
      ["u-1", "third"],
      ["u-1", "fourth"],
    ]) {
      expect((await call(app, "POST", "/v1/conversations", { key: adminKey, body: { userRef, query } })).status).toBe(
        201,
      );
      await tick();
    }
    const queries: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const path: string = `/v1/conversations?userRef=u-1&limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const response = await call(app, "GET", path, { key: adminKey });
      expect(response.status).toBe(200);
      queries.push(...response.body.items.map((c: ResponseBody) => c.query));
      cursor = response.body.nextCursor;
      pages += 1;
    } while (cursor);
    expect(queries).toEqual(["fourth", "third", "first"]);
    expect(pages).toBe(2);
    const all = await call(app, "GET", "/v1/conversations", { key: adminKey });
    expect(all.body.items.map((c: ResponseBody) => c.query)).toEqual(["fourth", "third", "second", "first"]);
    const byChannel = await call(app, "GET", "/v1/conversations?channel=email", { key: adminKey });
    expect(byChannel.body.items).toEqual([]);
  });

  it("keeps workspaces apart: other workspaces' conversations are 404 and their memories 422", async () => {
    const { database } = db();
    const app = testApp(database);
    const a = await seedWorkspace(database);
    const b = await seedWorkspace(database);
    const [memoryOfA] = await memoriesIn(database, a.workspaceId, ["Only workspace A knows this."]);
    const created = await call(app, "POST", "/v1/conversations", {
      key: a.adminKey,
      body: { query: "secret?", memories: [{ memoryId: memoryOfA, relevance: 1 }] },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;

    expect((await call(app, "GET", `/v1/conversations/${id}`, { key: b.adminKey })).status).toBe(404);
    expect((await call(app, "GET", `/v1/conversations/${id}/feedback`, { key: b.adminKey })).status).toBe(404);
    const foreignFeedback = await call(app, "POST", `/v1/conversations/${id}/feedback`, {
      key: b.adminKey,
      body: { rating: 1 },
    });
    expect(foreignFeedback.status).toBe(404);
    expect(foreignFeedback.body.error.code).toBe("not_found");
    expect((await call(app, "GET", "/v1/conversations", { key: b.adminKey })).body.items).toEqual([]);
    expect((await call(app, "GET", `/v1/conversations/${id}`, { key: a.adminKey })).body.feedback).toEqual([]);

    // B cannot attach A's memory: it does not exist as far as B is concerned.
    const borrowed = await call(app, "POST", "/v1/conversations", {
      key: b.adminKey,
      body: { query: "leak?", memories: [{ memoryId: memoryOfA, relevance: 0.5 }] },
    });
    expect(borrowed.status).toBe(422);
    expect(borrowed.body.error.details.missing).toEqual([memoryOfA]);
    expect((await call(app, "GET", "/v1/conversations", { key: b.adminKey })).body.items).toEqual([]);
  });

  it("answers bad input with 4xx and the error shape, and enforces scopes", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey, workspaceId } = await seedWorkspace(database);
    const [memoryId] = await memoriesIn(database, workspaceId, ["A memory to cite."]);
    const ok = await call(app, "POST", "/v1/conversations", { key: adminKey, body: { query: "q" } });
    const id = ok.body.id;

    for (const body of [
      {},
      { query: "" },
      { query: "q", unknown: true },
      { query: "q", memories: [{ memoryId, relevance: 1.5 }] },
      { query: "q", memories: [{ memoryId: "not-a-uuid" }] },
      { query: "q", tokensUsed: -1 },
      { query: "q", latencyMs: 1.5 },
      { query: "q", actionsTaken: "ran a tool" },
      { query: "a\u0000b" },
      { query: "q", actionsTaken: [{ tool: "x\u0000" }] },
    ]) {
      const response = await call(app, "POST", "/v1/conversations", { key: adminKey, body });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe("validation_failed");
    }
    const unknownMemory = await call(app, "POST", "/v1/conversations", {
      key: adminKey,
      body: { query: "q", memories: [{ memoryId: crypto.randomUUID(), relevance: 0.1 }] },
    });
    expect(unknownMemory.status).toBe(422);
    expect(unknownMemory.body.error.code).toBe("invalid");
    const repeated = await call(app, "POST", "/v1/conversations", {
      key: adminKey,
      body: { query: "q", memories: [{ memoryId }, { memoryId, relevance: 0.3 }] },
    });
    expect(repeated.status).toBe(422);
    // Nothing was recorded by the refused requests.
    expect((await call(app, "GET", "/v1/conversations", { key: adminKey })).body.items).toHaveLength(1);

    for (const body of [
      { rating: 0 },
      { rating: 6 },
      { rating: 4.5 },
      { rating: 3, extra: 1 },
      {},
      { rating: 3, text: "\u0000" },
    ]) {
      expect((await call(app, "POST", `/v1/conversations/${id}/feedback`, { key: adminKey, body })).status).toBe(400);
    }
    expect(
      (
        await call(app, "POST", `/v1/conversations/${crypto.randomUUID()}/feedback`, {
          key: adminKey,
          body: { rating: 3 },
        })
      ).status,
    ).toBe(404);
    expect((await call(app, "GET", `/v1/conversations/${crypto.randomUUID()}`, { key: adminKey })).status).toBe(404);
    expect((await call(app, "GET", "/v1/conversations/nope", { key: adminKey })).status).toBe(400);
    expect((await call(app, "GET", "/v1/conversations?limit=0", { key: adminKey })).status).toBe(400);
    expect((await call(app, "GET", "/v1/conversations?userRef=%00", { key: adminKey })).status).toBe(400);

    const readerKey = await call(app, "POST", "/v1/api-keys", {
      key: adminKey,
      body: { name: "reader", scopes: ["memory:read"] },
    });
    const reader = readerKey.body.key;
    expect((await call(app, "GET", `/v1/conversations/${id}`, { key: reader })).status).toBe(200);
    expect((await call(app, "POST", "/v1/conversations", { key: reader, body: { query: "q" } })).status).toBe(403);
    expect(
      (await call(app, "POST", `/v1/conversations/${id}/feedback`, { key: reader, body: { rating: 3 } })).status,
    ).toBe(403);
    const other = await call(app, "POST", "/v1/api-keys", {
      key: adminKey,
      body: { name: "work", scopes: ["work:write"] },
    });
    expect((await call(app, "GET", "/v1/conversations", { key: other.body.key })).status).toBe(403);
    expect((await call(app, "GET", "/v1/conversations")).status).toBe(401);
  });
});
