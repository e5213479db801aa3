/**
 * The memory model (functions/memory/memory-model.ts, merge.ts): validity and supersession,
 * merge on dedup, subjects and projects, expiry and forgetting — through the API, on both databases.
 */
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { rows } from "../../db/client";
import { LexicalHashEmbeddingProvider } from "../../functions/memory/embeddings";
import { purgeExpiredMemories } from "../../functions/memory/expiry";
import { setEmbeddingProvider } from "../../functions/memory/provider";
import { describeEachDatabase } from "../support/databases";
import { call, seedWorkspace, testApp } from "../support/http";

const provider = new LexicalHashEmbeddingProvider({ dimensions: 768 });
beforeAll(() => setEmbeddingProvider(provider));
afterAll(() => setEmbeddingProvider(undefined));

const search = (body: Record<string, unknown>) => ({ topK: 10, mode: "hybrid", ...body });

describeEachDatabase("memory model", (db) => {
  it("supersession closes the old fact: search finds the new one now and the old one asOf before", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey: key } = await seedWorkspace(database);
    const old = await call(app, "POST", "/v1/memories", {
      key,
      body: { content: "The staging password rotates on Tuesdays", validFrom: "2026-01-01T00:00:00Z" },
    });
    expect(old.status).toBe(201);
    expect(old.body).toMatchObject({ validFrom: "2026-01-01T00:00:00.000Z", validTo: null, supersedesId: null });

    const replaced = await call(app, "POST", `/v1/memories/${old.body.id}/supersede`, {
      key,
      body: { content: "The staging password rotates on Fridays" },
    });
    expect(replaced.status).toBe(201);
    expect(replaced.body).toMatchObject({ supersedesId: old.body.id, validTo: null, deduplicated: false });

    const closed = await call(app, "GET", `/v1/memories/${old.body.id}`, { key });
    expect(closed.body.validTo).toBe(replaced.body.validFrom);

    const now = await call(app, "POST", "/v1/memories/search", {
      key,
      body: search({ query: "staging password rotates" }),
    });
    expect(now.body.results.map((r: { id: string }) => r.id)).toEqual([replaced.body.id]);

    const before = await call(app, "POST", "/v1/memories/search", {
      key,
      body: search({ query: "staging password rotates", filters: { asOf: "2026-01-02T00:00:00Z" } }),
    });
    expect(before.body.results.map((r: { id: string }) => r.id)).toEqual([old.body.id]);

    // The chain reads the same from either end, oldest first.
    const third = await call(app, "POST", "/v1/memories", {
      key,
      body: { content: "The staging password rotates daily", supersedes: replaced.body.id },
    });
    expect(third.status).toBe(201);
    for (const id of [old.body.id, third.body.id]) {
      const versions = await call(app, "GET", `/v1/memories/${id}/versions`, { key });
      expect(versions.status).toBe(200);
      expect(versions.body.items.map((m: { id: string }) => m.id)).toEqual([
        old.body.id,
        replaced.body.id,
        third.body.id,
      ]);
    }
    // The activity log says what happened.
    const activity = await call(app, "GET", `/v1/activity?entityType=memory&entityId=${old.body.id}`, { key });
    expect(activity.status).toBe(200);
    expect(activity.body.items.map((a: { action: string }) => a.action)).toContain("memory.superseded");
  });

  it("refuses a supersession that cannot hold, and changes nothing", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey: key } = await seedWorkspace(database);
    const other = await seedWorkspace(database);
    const old = await call(app, "POST", "/v1/memories", { key, body: { content: "The API lives on port 3000" } });
    const next = await call(app, "POST", `/v1/memories/${old.body.id}/supersede`, {
      key,
      body: { content: "The API lives on port 8080" },
    });
    expect(next.status).toBe(201);
    // Superseding a closed version again: 409 (supersede the latest instead).
    const again = await call(app, "POST", `/v1/memories/${old.body.id}/supersede`, {
      key,
      body: { content: "The API lives on port 9090" },
    });
    expect(again.status).toBe(409);
    // The same content as the memory it supersedes: 409.
    const same = await call(app, "POST", `/v1/memories/${next.body.id}/supersede`, {
      key,
      body: { content: "The API lives on port 8080" },
    });
    expect(same.status).toBe(409);
    // validFrom before the superseded fact's: 422.
    const early = await call(app, "POST", `/v1/memories/${next.body.id}/supersede`, {
      key,
      body: { content: "The API lives on port 1", validFrom: "2000-01-01T00:00:00Z" },
    });
    expect(early.status).toBe(422);
    // Another workspace's memory, or none: 404; a malformed body: 400.
    const foreign = await call(app, "POST", `/v1/memories/${next.body.id}/supersede`, {
      key: other.adminKey,
      body: { content: "The API lives on port 2" },
    });
    expect(foreign.status).toBe(404);
    const bad = await call(app, "POST", "/v1/memories", {
      key,
      body: { content: "x", validFrom: "yesterday" },
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("ISO 8601");
    const after = await call(app, "GET", `/v1/memories/${next.body.id}`, { key });
    expect(after.body.validTo).toBeNull();
    const listed = await call(app, "GET", "/v1/memories", { key });
    expect(listed.body.items).toHaveLength(2);
    // A reader key cannot supersede.
    const reader = await call(app, "POST", "/v1/api-keys", {
      key,
      body: { name: "reader", scopes: ["memory:read"] },
    });
    const denied = await call(app, "POST", `/v1/memories/${next.body.id}/supersede`, {
      key: reader.body.key,
      body: { content: "The API lives on port 3" },
    });
    expect(denied.status).toBe(403);
    expect((await call(app, "GET", `/v1/memories/${next.body.id}/versions`, { key: reader.body.key })).status).toBe(
      200,
    );
  });

  it("merges new values into a deduplicated memory and says what it merged", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey: key, workspaceId } = await seedWorkspace(database);
    const first = await call(app, "POST", "/v1/memories", {
      key,
      body: { content: "Deploys freeze on Fridays", metadata: { team: "infra", env: "prod" }, importance: 0.6 },
    });
    expect(first.status).toBe(201);
    expect(first.body.merged).toBeUndefined();

    const again = await call(app, "POST", "/v1/memories", {
      key,
      body: {
        content: "  Deploys freeze on   Fridays ",
        metadata: { env: "staging", owner: "ops" },
        importance: 0.4,
        sourceType: "slack",
      },
    });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({
      id: first.body.id,
      deduplicated: true,
      metadata: { team: "infra", env: "staging", owner: "ops" },
      importance: 0.6, // the maximum
      sourceType: "slack",
      merged: {
        metadata: { before: { team: "infra", env: "prod" }, after: { team: "infra", env: "staging", owner: "ops" } },
        sourceType: { before: null, after: "slack" },
      },
    });
    expect(again.body.merged.importance).toBeUndefined();

    // Nothing new: merged is empty, nothing written.
    const same = await call(app, "POST", "/v1/memories", {
      key,
      body: { content: "Deploys freeze on Fridays", importance: 0.2 },
    });
    expect(same.body).toMatchObject({ deduplicated: true, merged: {} });

    // A batch folds its duplicates in order; the response of each says what the request changed.
    const batch = await call(app, "POST", "/v1/memories:batch", {
      key,
      body: {
        items: [
          { content: "Deploys freeze on Fridays", importance: 0.9 },
          { content: "Deploys freeze on Fridays", metadata: { owner: "sre" } },
        ],
      },
    });
    expect(batch.status).toBe(200);
    expect(batch.body.items[1]).toMatchObject({ importance: 0.9, metadata: { owner: "sre" } });
    expect(batch.body.items[0].merged).toMatchObject({ importance: { before: 0.6, after: 0.9 } });

    // Expiry: a re-post without expiry makes an expiring memory permanent; with one, the later wins.
    const expiring = await call(app, "POST", "/v1/memories", {
      key,
      body: { content: "The canary runs until March", expiresAt: "2099-03-01T00:00:00Z" },
    });
    const later = await call(app, "POST", "/v1/memories", {
      key,
      body: { content: "The canary runs until March", expiresAt: "2099-04-01T00:00:00Z" },
    });
    expect(later.body.merged).toEqual({
      expiresAt: { before: "2099-03-01T00:00:00.000Z", after: "2099-04-01T00:00:00.000Z" },
    });
    const earlier = await call(app, "POST", "/v1/memories", {
      key,
      body: { content: "The canary runs until March", expiresAt: "2099-02-01T00:00:00Z" },
    });
    expect(earlier.body.merged).toEqual({});
    const permanent = await call(app, "POST", "/v1/memories", {
      key,
      body: { content: "The canary runs until March" },
    });
    expect(permanent.body).toMatchObject({ id: expiring.body.id, expiresAt: null });

    const [logged] = await database.withTenant({ workspaceId }, (tx) =>
      rows<{ n: number }>(
        tx,
        sql`select count(*)::int as n from activity_log where workspace_id = ${workspaceId} and action = 'memory.merged'`,
      ),
    );
    expect(logged!.n).toBe(4); // the re-post, the batch, the later expiry, the permanent one
  });

  it("subjects and projects: memories and work orders belong to them, search and listings filter by them", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey: key } = await seedWorkspace(database);
    const other = await seedWorkspace(database);

    const project = await call(app, "POST", "/v1/projects", { key, body: { name: "checkout", description: "v2" } });
    expect(project.status).toBe(201);
    expect((await call(app, "POST", "/v1/projects", { key, body: { name: "checkout" } })).status).toBe(409);
    expect((await call(app, "POST", "/v1/projects", { key, body: { name: "" } })).status).toBe(400);
    const listed = await call(app, "GET", "/v1/projects", { key });
    expect(listed.body.items.map((p: { id: string }) => p.id)).toEqual([project.body.id]);
    expect((await call(app, "GET", `/v1/projects/${project.body.id}`, { key })).body.name).toBe("checkout");
    // Another workspace sees no project, and cannot attach to it.
    expect((await call(app, "GET", `/v1/projects/${project.body.id}`, { key: other.adminKey })).status).toBe(404);
    expect((await call(app, "GET", "/v1/projects", { key: other.adminKey })).body.items).toEqual([]);
    const foreign = await call(app, "POST", "/v1/memories", {
      key: other.adminKey,
      body: { content: "sneaky", projectId: project.body.id },
    });
    expect(foreign.status).toBe(422);
    const foreignOrder = await call(app, "POST", "/v1/work-orders", {
      key: other.adminKey,
      body: { title: "sneaky", projectId: project.body.id, items: [{ type: "t" }] },
    });
    expect(foreignOrder.status).toBe(422);
    // A memory-only key can store memories in a project but cannot create projects.
    const writer = await call(app, "POST", "/v1/api-keys", {
      key,
      body: { name: "writer", scopes: ["memory:read", "memory:write"] },
    });
    expect((await call(app, "POST", "/v1/projects", { key: writer.body.key, body: { name: "x" } })).status).toBe(403);

    const stored = await call(app, "POST", "/v1/memories:batch", {
      key: writer.body.key,
      body: {
        items: [
          { content: "Prefers dark mode", userId: "alice" },
          { content: "Prefers dark mode", userId: "bob" }, // another subject: another memory
          { content: "Prefers dark mode" },
          { content: "Checkout uses Stripe", projectId: project.body.id, agentId: "planner" },
          { content: "Was asked about refunds", sessionId: "s-1", userId: "alice" },
        ],
      },
    });
    expect(stored.status).toBe(201);
    expect(stored.body.created).toBe(5);
    const [alice, bob, nobody, checkout, session] = stored.body.items;
    expect(new Set([alice.id, bob.id, nobody.id]).size).toBe(3);
    // Re-posting for alice dedups to alice's, not bob's.
    const again = await call(app, "POST", "/v1/memories", {
      key,
      body: { content: "Prefers dark mode", userId: "alice" },
    });
    expect(again.body).toMatchObject({ id: alice.id, deduplicated: true });

    const ids = (body: { results?: { id: string }[]; items?: { id: string }[] }) =>
      (body.results ?? body.items ?? []).map((m) => m.id).sort();
    const found = async (filters: Record<string, unknown>) =>
      ids(
        (
          await call(app, "POST", "/v1/memories/search", {
            key,
            body: search({ query: "dark mode refunds Stripe", filters }),
          })
        ).body,
      );
    expect(await found({ userId: "alice" })).toEqual([alice.id, session.id].sort());
    expect(await found({ userId: "bob" })).toEqual([bob.id]);
    expect(await found({ sessionId: "s-1" })).toEqual([session.id]);
    expect(await found({ agentId: "planner" })).toEqual([checkout.id]);
    expect(await found({ projectId: project.body.id })).toEqual([checkout.id]);
    expect(await found({ userId: "alice", sessionId: "s-1" })).toEqual([session.id]);
    expect(await found({ userId: "nobody" })).toEqual([]);
    const list = async (query: string) => ids((await call(app, "GET", `/v1/memories?${query}`, { key })).body);
    expect(await list("userId=alice")).toEqual([alice.id, session.id].sort());
    expect(await list(`projectId=${project.body.id}`)).toEqual([checkout.id]);
    expect(await list("agentId=planner&userId=alice")).toEqual([]);
    // Another workspace with the same client ids finds nothing of these.
    const theirs = await call(app, "POST", "/v1/memories/search", {
      key: other.adminKey,
      body: search({ query: "dark mode", filters: { userId: "alice" } }),
    });
    expect(theirs.body.results).toEqual([]);

    // Work orders belong to projects and list by them.
    const order = await call(app, "POST", "/v1/work-orders", {
      key,
      body: { title: "ship checkout", projectId: project.body.id, items: [{ type: "build" }] },
    });
    expect(order.status).toBe(201);
    expect(order.body.projectId).toBe(project.body.id);
    await call(app, "POST", "/v1/work-orders", { key, body: { title: "unrelated", items: [{ type: "build" }] } });
    const orders = await call(app, "GET", `/v1/work-orders?projectId=${project.body.id}`, { key });
    expect(orders.body.items.map((o: { id: string }) => o.id)).toEqual([order.body.id]);
  });

  it("an expired memory is never returned, even before the purge; the purge deletes in batches with activity rows", async () => {
    const { database } = db();
    const app = testApp(database);
    const first = await seedWorkspace(database);
    const second = await seedWorkspace(database);
    const store = async (key: string, items: Record<string, unknown>[]) =>
      (await call(app, "POST", "/v1/memories:batch", { key, body: { items } })).body.items as { id: string }[];
    const [gone1, gone2, gone3, kept] = await store(first.adminKey, [
      { content: "Temporary door code 1234", expiresAt: "2099-01-01T00:00:00Z" },
      { content: "Temporary door code 5678", ttlSeconds: 3600 },
      { content: "Temporary door code 9999", ttlSeconds: 60 },
      { content: "The door code policy", ttlSeconds: 3600 },
    ]);
    const [gone4, gone5] = await store(second.adminKey, [
      { content: "Temporary door code 1111", ttlSeconds: 60 },
      { content: "Temporary door code 2222", ttlSeconds: 60 },
    ]);
    const expiredIds = [gone1!.id, gone2!.id, gone3!.id, gone4!.id, gone5!.id];
    // Their time has come (the owner's connection: a client cannot store a past expiry for us).
    await database.db.execute(
      sql`update memories set expires_at = now() - interval '1 second' where id in ${expiredIds}`,
    );

    const key = first.adminKey;
    expect((await call(app, "GET", `/v1/memories/${gone1!.id}`, { key })).status).toBe(404);
    expect((await call(app, "PATCH", `/v1/memories/${gone1!.id}`, { key, body: { importance: 1 } })).status).toBe(404);
    expect((await call(app, "GET", `/v1/memories/${gone1!.id}/versions`, { key })).status).toBe(404);
    const listed = await call(app, "GET", "/v1/memories", { key });
    expect(listed.body.items.map((m: { id: string }) => m.id)).toEqual([kept!.id]);
    const searched = await call(app, "POST", "/v1/memories/search", { key, body: search({ query: "door code" }) });
    expect(searched.body.results.map((m: { id: string }) => m.id)).toEqual([kept!.id]);
    const exact = await call(app, "POST", "/v1/memories/search", {
      key,
      body: { query: "Temporary door code 1234", mode: "text" },
    });
    // Text mode matches any of the words: the expired memory that holds all of them is not there.
    expect(exact.body.results.map((m: { id: string }) => m.id)).toEqual([kept!.id]);

    // The purge: batches of 2 over 5 expired memories in two workspaces; the kept one stays.
    const result = await purgeExpiredMemories(database, { batchSize: 2 });
    expect(result).toEqual({
      purged: { [first.workspaceId]: 3, [second.workspaceId]: 2 },
      total: 5,
      batches: 3,
      complete: true,
    });
    const [left] = await rows<{ expired: number; kept: number; logged: number }>(
      database.db,
      sql`select (select count(*)::int from memories where id in ${expiredIds}) as expired,
                 (select count(*)::int from memories where id = ${kept!.id}) as kept,
                 (select count(*)::int from activity_log where action = 'memory.expired' and entity_id in ${expiredIds}
                    and actor_type = 'SYSTEM') as logged`,
    );
    expect(left).toEqual({ expired: 0, kept: 1, logged: 5 });
    expect((await purgeExpiredMemories(database)).total).toBe(0);
  });

  it("forgetting a subject deletes all its memories, counted and logged, and nothing else", async () => {
    const { database } = db();
    const app = testApp(database);
    const mine = await seedWorkspace(database);
    const theirs = await seedWorkspace(database);
    const key = mine.adminKey;
    const stored = await call(app, "POST", "/v1/memories:batch", {
      key,
      body: {
        items: [
          { content: "Alice likes tea", userId: "alice" },
          { content: "Alice works nights", userId: "alice", sessionId: "s-9" },
          { content: "Alice's old address", userId: "alice", ttlSeconds: 60 },
          { content: "Bob likes coffee", userId: "bob" },
          { content: "The office opens at 8" },
          { content: "Planner agent's note", agentId: "planner", userId: "bob" },
        ],
      },
    });
    const [tea, , , coffee, office, note] = stored.body.items;
    const newer = await call(app, "POST", `/v1/memories/${tea.id}/supersede`, {
      key,
      body: { content: "Alice likes green tea", userId: "alice" },
    });
    expect(newer.status).toBe(201);
    const conversation = await call(app, "POST", "/v1/conversations", {
      key,
      body: { query: "what does alice drink?", memories: [{ memoryId: newer.body.id }, { memoryId: coffee.id }] },
    });
    expect(conversation.status).toBe(201);
    const theirAlice = await call(app, "POST", "/v1/memories", {
      key: theirs.adminKey,
      body: { content: "Alice likes tea", userId: "alice" },
    });

    // A reader key cannot forget; a subject must be named.
    const reader = await call(app, "POST", "/v1/api-keys", { key, body: { name: "r", scopes: ["memory:read"] } });
    expect(
      (await call(app, "POST", "/v1/memories:forget", { key: reader.body.key, body: { userId: "alice" } })).status,
    ).toBe(403);
    expect((await call(app, "POST", "/v1/memories:forget", { key, body: {} })).status).toBe(400);
    expect((await call(app, "POST", "/v1/memories:forget", { key, body: { projectId: office.id } })).status).toBe(400);

    const forgotten = await call(app, "POST", "/v1/memories:forget", { key, body: { userId: "alice" } });
    expect(forgotten.status).toBe(200);
    expect(forgotten.body).toEqual({ deleted: 4 }); // tea, its new version, nights, the expiring address
    const left = await call(app, "GET", "/v1/memories?limit=100", { key });
    expect(left.body.items.map((m: { id: string }) => m.id).sort()).toEqual([coffee.id, office.id, note.id].sort());
    const other = await call(app, "GET", `/v1/memories/${theirAlice.body.id}`, { key: theirs.adminKey });
    expect(other.status).toBe(200);
    // The conversation keeps its other link.
    const detail = await call(app, "GET", `/v1/conversations/${conversation.body.id}`, { key });
    expect(detail.body.memories.map((m: { memoryId: string }) => m.memoryId)).toEqual([coffee.id]);
    const activity = await database.withTenant({ workspaceId: mine.workspaceId }, (tx) =>
      rows<{ n: number }>(
        tx,
        sql`select count(*)::int as n from activity_log where workspace_id = ${mine.workspaceId} and action = 'memory.forgotten'`,
      ),
    );
    expect(activity[0]!.n).toBe(4);

    // Narrowed by several fields: all must match.
    const narrowed = await call(app, "POST", "/v1/memories:forget", {
      key,
      body: { userId: "bob", agentId: "planner" },
    });
    expect(narrowed.body).toEqual({ deleted: 1 });
    expect((await call(app, "GET", `/v1/memories/${coffee.id}`, { key })).status).toBe(200);
    // Another workspace forgetting "alice" touches only its own.
    const theirForget = await call(app, "POST", "/v1/memories:forget", {
      key: theirs.adminKey,
      body: { userId: "bob" },
    });
    expect(theirForget.body).toEqual({ deleted: 0 });
    expect((await call(app, "GET", `/v1/memories/${coffee.id}`, { key })).status).toBe(200);
  });

  it("the ledger: an item records the memories it used and the ones written from it, read from both sides", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey: key } = await seedWorkspace(database);
    const other = await seedWorkspace(database);
    const used = await call(app, "POST", "/v1/memories:batch", {
      key,
      body: { items: [{ content: "Customers want CSV export" }, { content: "Exports run nightly" }] },
    });
    const [csv, nightly] = used.body.items;
    const foreign = await call(app, "POST", "/v1/memories", { key: other.adminKey, body: { content: "Theirs" } });
    const worker = await call(app, "POST", "/v1/api-keys", {
      key,
      body: { name: "worker", scopes: ["work:read", "work:write", "memory:read", "memory:write"] },
    });
    const wk = worker.body.key;
    const order = await call(app, "POST", "/v1/work-orders", {
      key,
      body: { title: "export", items: [{ type: "research" }, { type: "research" }] },
    });
    expect(order.status).toBe(201);
    const claim = await call(app, "POST", "/v1/work-items/claim", { key: wk, body: { workerId: "w", limit: 2 } });
    const [item, second] = claim.body.items;
    const fence = { attemptId: item.attemptId, fencingToken: item.fencingToken };

    // Another workspace's memory cannot be linked: 422, and the item is not completed.
    const sneaky = await call(app, "POST", `/v1/work-items/${item.id}/complete`, {
      key: wk,
      body: { ...fence, result: { ok: true }, usedMemoryIds: [csv.id, foreign.body.id] },
    });
    expect(sneaky.status).toBe(422);
    expect(JSON.stringify(sneaky.body)).toContain(foreign.body.id);
    expect((await call(app, "GET", `/v1/work-items/${item.id}`, { key: wk })).body).toMatchObject({
      status: "PROCESSING",
      memories: { used: [], written: [] },
    });
    const badIds = await call(app, "POST", `/v1/work-items/${item.id}/complete`, {
      key: wk,
      body: { ...fence, usedMemoryIds: ["not-a-uuid"] },
    });
    expect(badIds.status).toBe(400);

    const done = await call(app, "POST", `/v1/work-items/${item.id}/complete`, {
      key: wk,
      body: { ...fence, result: { summary: "CSV export, nightly" }, usedMemoryIds: [csv.id, nightly.id, csv.id] },
    });
    expect(done.status).toBe(200);
    // A memory written from the item's result, with its source item.
    const written = await call(app, "POST", "/v1/memories", {
      key: wk,
      body: { content: "CSV export ships nightly", sourceItemId: item.id },
    });
    expect(written.status).toBe(201);
    expect(written.body.sourceItemId).toBe(item.id);
    // Another workspace cannot name our item as a source.
    const theirs = await call(app, "POST", "/v1/memories", {
      key: other.adminKey,
      body: { content: "not yours", sourceItemId: item.id },
    });
    expect(theirs.status).toBe(422);

    const detail = await call(app, "GET", `/v1/work-items/${item.id}`, { key: wk });
    expect(detail.status).toBe(200);
    expect(detail.body.memories.used.map((m: { id: string }) => m.id).sort()).toEqual([csv.id, nightly.id].sort());
    expect(detail.body.memories.written.map((m: { id: string }) => m.id)).toEqual([written.body.id]);
    const memory = await call(app, "GET", `/v1/memories/${csv.id}`, { key: wk });
    expect(memory.body.usedBy).toEqual([
      expect.objectContaining({ workItemId: item.id, workOrderId: order.body.id, status: "COMPLETED" }),
    ]);
    // The second item used csv too; the memory lists both, oldest first.
    await call(app, "POST", `/v1/work-items/${second.id}/complete`, {
      key: wk,
      body: { attemptId: second.attemptId, fencingToken: second.fencingToken, usedMemoryIds: [csv.id] },
    });
    const both = await call(app, "GET", `/v1/memories/${csv.id}`, { key: wk });
    expect(both.body.usedBy.map((u: { workItemId: string }) => u.workItemId)).toEqual([item.id, second.id]);
    // The other workspace reads none of it.
    expect((await call(app, "GET", `/v1/memories/${csv.id}`, { key: other.adminKey })).status).toBe(404);
    expect((await call(app, "GET", `/v1/work-items/${item.id}`, { key: other.adminKey })).status).toBe(404);
  });
});
