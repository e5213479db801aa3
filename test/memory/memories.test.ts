import { sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { rows } from "../../db/client";
import { LexicalHashEmbeddingProvider } from "../../functions/memory/embeddings";
import { contentHash, insertMemories, MAX_BATCH, normaliseContent } from "../../functions/memory/memories";
import { setEmbeddingProvider } from "../../functions/memory/provider";
import { describeEachDatabase } from "../support/databases";
import { call, seedWorkspace, testApp } from "../support/http";

const provider = new LexicalHashEmbeddingProvider({ dimensions: 768 });
beforeAll(() => setEmbeddingProvider(provider));
afterAll(() => setEmbeddingProvider(undefined));

/** A unit vector of `dims` with `value` spread over a few components (finite, non-zero). */
const unitVector = (dims: number, seed: number) => {
  const vector = new Array<number>(dims).fill(0);
  vector[seed % dims] = 0.6;
  vector[(seed * 7 + 3) % dims] = 0.8;
  return vector;
};

it("normalises content for dedup: NFC, whitespace collapsed, trimmed, case kept", () => {
  expect(normaliseContent("  Caf\u0065\u0301 \t au\n\n lait  ")).toBe("Caf\u00e9 au lait");
  expect(contentHash("a  b")).toBe(contentHash(" a\nb "));
  expect(contentHash("Caf\u0065\u0301")).toBe(contentHash("Caf\u00e9"));
  expect(contentHash("US")).not.toBe(contentHash("us"));
});

describeEachDatabase("memory store", (db) => {
  it("inserts, deduplicates within a batch and against stored memories (domain)", async () => {
    const { database } = db();
    const { workspaceId, userId } = await seedWorkspace(database);
    const actor = { workspaceId, userId };
    const first = await database.withTenant(actor, (tx) =>
      insertMemories(
        tx,
        actor,
        [{ content: "The deploy key lives in the vault" }, { content: " The deploy key  lives in the vault\n" }],
        {
          provider,
        },
      ),
    );
    expect(first.map((m) => m.deduplicated)).toEqual([false, true]);
    expect(first[0]!.id).toBe(first[1]!.id);
    expect(first[0]!.embeddingDims).toBe(768);
    expect(first[0]!.embeddingModel).toBe(provider.model);
    const again = await database.withTenant(actor, (tx) =>
      insertMemories(
        tx,
        actor,
        [{ content: "The deploy key lives in the vault" }, { content: "Something new", type: "CONTEXT" }],
        { provider },
      ),
    );
    expect(again[0]).toMatchObject({ id: first[0]!.id, deduplicated: true });
    expect(again[1]).toMatchObject({ deduplicated: false, type: "CONTEXT" });
    const [counted] = await database.withTenant(actor, (tx) =>
      rows<{ count: number }>(tx, sql`select count(*)::int as count from memories where workspace_id = ${workspaceId}`),
    );
    expect(counted!.count).toBe(2);
  });

  it("records the source event and chunk indexes given by event processing", async () => {
    const { database } = db();
    const { workspaceId } = await seedWorkspace(database);
    const actor = { workspaceId };
    const stored = await database.withTenant(actor, (tx) =>
      insertMemories(tx, actor, [{ content: "chunk zero" }, { content: "chunk one" }], {
        provider,
        chunkIndexes: [0, 1],
      }),
    );
    expect(stored.map((m) => m.chunkIndex)).toEqual([0, 1]);
    const [activity] = await database.withTenant(actor, (tx) =>
      rows<{ actor_type: string; count: number }>(
        tx,
        sql`select actor_type, count(*)::int as count from activity_log where workspace_id = ${workspaceId} and action = 'memory.created' group by actor_type`,
      ),
    );
    expect(activity).toEqual({ actor_type: "SYSTEM", count: 2 });
  });

  it("POST /v1/memories: 201 created, 200 with deduplicated: true for the same normalised content", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey } = await seedWorkspace(database);
    const created = await call(app, "POST", "/v1/memories", {
      key: adminKey,
      body: {
        content: "Invoices are due in 30 days",
        type: "KNOWLEDGE",
        sourceType: "manual",
        metadata: { team: "billing" },
        importance: 0.7,
      },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      deduplicated: false,
      type: "KNOWLEDGE",
      sourceType: "manual",
      metadata: { team: "billing" },
      importance: 0.7,
      tier: "hot",
      pinnedTier: null,
      accessCount: 0,
      embeddingDims: 768,
      embeddingModel: provider.model,
    });
    expect(created.body.embedding).toBeUndefined();
    expect(created.body.contentHash).toBe(contentHash("Invoices are due in 30 days"));

    const duplicate = await call(app, "POST", "/v1/memories", {
      key: adminKey,
      body: { content: "  Invoices are due\tin 30 days " },
    });
    expect(duplicate.status).toBe(200);
    expect(duplicate.body).toMatchObject({
      id: created.body.id,
      deduplicated: true,
      content: "Invoices are due in 30 days",
    });
    const list = await call(app, "GET", "/v1/memories", { key: adminKey });
    expect(list.body.items).toHaveLength(1);
  });

  it("stores a client-supplied vector of 768 or 1536 numbers as is", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey } = await seedWorkspace(database);
    for (const dims of [768, 1536]) {
      const embedding = unitVector(dims, dims);
      const created = await call(app, "POST", "/v1/memories", {
        key: adminKey,
        body: { content: `own vector ${dims}`, embedding, embeddingModel: "my-model" },
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ embeddingDims: dims, embeddingModel: "my-model" });
      const fetched = await call(app, "GET", `/v1/memories/${created.body.id}?include=embedding`, { key: adminKey });
      expect(fetched.status).toBe(200);
      expect(fetched.body.embedding).toHaveLength(dims);
      expect(fetched.body.embedding[dims % dims]).toBeCloseTo(0.6, 6);
      const plain = await call(app, "GET", `/v1/memories/${created.body.id}`, { key: adminKey });
      expect(plain.body.embedding).toBeUndefined();
    }
  });

  it("rejects unusable vectors with 422 and stores nothing of the batch; malformed input is 400", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey } = await seedWorkspace(database);
    const good = unitVector(768, 1);
    const wrongSize = await call(app, "POST", "/v1/memories", {
      key: adminKey,
      body: { content: "x", embedding: [0.1, 0.2, 0.3] },
    });
    expect(wrongSize.status).toBe(422);
    expect(wrongSize.body.error.code).toBe("invalid");
    expect(wrongSize.body.error.details[0]).toMatchObject({ path: "embedding" });
    // JSON cannot carry NaN; 1e400 parses to Infinity.
    const infinite = await call(app, "POST", "/v1/memories", {
      key: adminKey,
      raw: `{"content":"inf","embedding":[1e400${",0".repeat(767)}]}`,
    });
    expect(infinite.status).toBe(422);
    expect(infinite.body.error.details[0].message).toMatch(/finite/);
    const zero = await call(app, "POST", "/v1/memories", {
      key: adminKey,
      body: { content: "zero", embedding: new Array(768).fill(0) },
    });
    expect(zero.status).toBe(422);

    const batch = await call(app, "POST", "/v1/memories:batch", {
      key: adminKey,
      raw: JSON.stringify({ items: [{ content: "fine one", embedding: good }, { content: "fine two" }] }).replace(
        '"fine two"}',
        `"fine two","embedding":[-1e999${",0.5".repeat(767)}]}`,
      ),
    });
    expect(batch.status).toBe(422);
    expect(batch.body.error.details).toEqual([expect.objectContaining({ path: "items.1.embedding" })]);
    const list = await call(app, "GET", "/v1/memories", { key: adminKey });
    expect(list.body.items).toEqual([]);

    for (const body of [
      { content: "x", unknown: 1 },
      { content: "   " },
      { content: "x", importance: 2 },
      { content: "x", type: "NOPE" },
      { content: "x", embedding: ["a"] },
      { items: [] },
    ]) {
      const path = "items" in body ? "/v1/memories:batch" : "/v1/memories";
      const response = await call(app, "POST", path, { key: adminKey, body });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.error.code).toBe("validation_failed");
    }
    const malformed = await call(app, "POST", "/v1/memories", {
      key: adminKey,
      raw: '{"content":"x","embedding":[NaN]}',
    });
    expect(malformed.status).toBe(400);
    const tooMany = await call(app, "POST", "/v1/memories:batch", {
      key: adminKey,
      body: { items: Array.from({ length: MAX_BATCH + 1 }, (_, i) => ({ content: `m${i}` })) },
    });
    expect(tooMany.status).toBe(400);
  });

  it("POST /v1/memories:batch stores 1,000 memories with ONE insert statement, per-item results in order", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey, workspaceId } = await seedWorkspace(database);
    await call(app, "POST", "/v1/memories", { key: adminKey, body: { content: "batch memory 17" } });
    const items = Array.from({ length: MAX_BATCH }, (_, i) => ({
      content: i === 999 ? "batch memory 3" : `batch memory ${i}`,
      metadata: { i },
      ...(i % 10 === 0 ? { embedding: unitVector(768, i) } : {}),
    }));
    const response = await call(app, "POST", "/v1/memories:batch", { key: adminKey, body: { items } });
    expect(response.status).toBe(201);
    expect(response.body.items).toHaveLength(MAX_BATCH);
    // 17 was stored before; 999 repeats 3 within the batch.
    expect(response.body).toMatchObject({ created: 998, deduplicated: 2 });
    expect(response.body.items[17].deduplicated).toBe(true);
    expect(response.body.items[999]).toMatchObject({ deduplicated: true, id: response.body.items[3].id });
    // 999's metadata was merged into 3's (merge.ts), by a statement of its own.
    expect(response.body.items[999].merged).toEqual({ metadata: { before: { i: 3 }, after: { i: 999 } } });
    expect(response.body.items.map((item: { content: string }) => item.content).slice(0, 3)).toEqual([
      "batch memory 0",
      "batch memory 1",
      "batch memory 2",
    ]);
    expect(response.body.items[10].embeddingModel).toBeNull(); // client vector
    expect(response.body.items[11].embeddingModel).toBe(provider.model);

    // Every row the batch created has the same inserting transaction AND command id: one statement
    // (3, merged into after its insert, carries the merge's command id).
    const [origin] = await database.withTenant({ workspaceId }, (tx) =>
      rows<{ rows: number; transactions: number; commands: number }>(
        tx,
        sql`select count(*)::int as rows, count(distinct xmin::text)::int as transactions, count(distinct cmin::text)::int as commands
            from memories where workspace_id = ${workspaceId} and content not in ('batch memory 17', 'batch memory 3')`,
      ),
    );
    expect(origin).toEqual({ rows: 997, transactions: 1, commands: 1 });

    const again = await call(app, "POST", "/v1/memories:batch", { key: adminKey, body: { items: items.slice(0, 5) } });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ created: 0, deduplicated: 5 });
  });

  it("gets, lists with filters and cursor pagination, updates and deletes; scopes enforced", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey } = await seedWorkspace(database);
    const batch = await call(app, "POST", "/v1/memories:batch", {
      key: adminKey,
      body: {
        items: [
          { content: "alpha", type: "CONTEXT", sourceType: "slack" },
          { content: "beta", type: "KNOWLEDGE", sourceType: "email" },
          { content: "gamma", type: "TEMPLATE", sourceType: "slack", pinnedTier: "cold" },
          { content: "delta", type: "KNOWLEDGE", sourceType: "slack" },
          { content: "epsilon", type: "KNOWLEDGE" },
        ],
      },
    });
    expect(batch.status).toBe(201);
    const [alpha, , gamma, delta] = batch.body.items;
    expect(gamma).toMatchObject({ tier: "cold", pinnedTier: "cold" });

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { items: { content: string }[]; nextCursor: string | null } } = await call(
        app,
        "GET",
        `/v1/memories?limit=2${cursor ? `&cursor=${cursor}` : ""}`,
        { key: adminKey },
      );
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((item) => item.content));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual(["alpha", "beta", "delta", "epsilon", "gamma"]);

    const slackKnowledge = await call(app, "GET", "/v1/memories?type=KNOWLEDGE&sourceType=slack", { key: adminKey });
    expect(slackKnowledge.body.items.map((m: { content: string }) => m.content)).toEqual(["delta"]);
    const cold = await call(app, "GET", "/v1/memories?tier=cold", { key: adminKey });
    expect(cold.body.items.map((m: { content: string }) => m.content)).toEqual(["gamma"]);
    expect((await call(app, "GET", "/v1/memories?tier=frozen", { key: adminKey })).status).toBe(400);
    expect((await call(app, "GET", "/v1/memories?cursor=garbage", { key: adminKey })).status).toBe(400);

    const patched = await call(app, "PATCH", `/v1/memories/${alpha.id}`, {
      key: adminKey,
      body: { importance: 0.9, metadata: { reviewed: true }, pinnedTier: "warm" },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      importance: 0.9,
      metadata: { reviewed: true },
      tier: "warm",
      pinnedTier: "warm",
    });
    const unpinned = await call(app, "PATCH", `/v1/memories/${alpha.id}`, {
      key: adminKey,
      body: { pinnedTier: null },
    });
    expect(unpinned.body).toMatchObject({ tier: "warm", pinnedTier: null, importance: 0.9 });
    expect((await call(app, "PATCH", `/v1/memories/${alpha.id}`, { key: adminKey, body: {} })).status).toBe(400);
    expect(
      (await call(app, "PATCH", `/v1/memories/${alpha.id}`, { key: adminKey, body: { content: "new" } })).status,
    ).toBe(400);
    expect(
      (await call(app, "PATCH", `/v1/memories/${alpha.id}`, { key: adminKey, body: { importance: -1 } })).status,
    ).toBe(400);

    const reader = await call(app, "POST", "/v1/api-keys", {
      key: adminKey,
      body: { name: "reader", scopes: ["memory:read"] },
    });
    const readKey = reader.body.key as string;
    expect((await call(app, "GET", `/v1/memories/${delta.id}`, { key: readKey })).status).toBe(200);
    expect((await call(app, "POST", "/v1/memories/search", { key: readKey, body: { query: "delta" } })).status).toBe(
      200,
    );
    for (const [method, path, body] of [
      ["POST", "/v1/memories", { content: "nope" }],
      ["POST", "/v1/memories:batch", { items: [{ content: "nope" }] }],
      ["PATCH", `/v1/memories/${delta.id}`, { importance: 0.1 }],
      ["DELETE", `/v1/memories/${delta.id}`, undefined],
    ] as const) {
      const response = await call(app, method, path, { key: readKey, body });
      expect(response.status, `${method} ${path}`).toBe(403);
    }
    const writer = await call(app, "POST", "/v1/api-keys", {
      key: adminKey,
      body: { name: "writer", scopes: ["memory:write"] },
    });
    expect((await call(app, "GET", "/v1/memories", { key: writer.body.key })).status).toBe(403);
    expect(
      (await call(app, "POST", "/v1/memories/search", { key: writer.body.key, body: { query: "x" } })).status,
    ).toBe(403);

    expect((await call(app, "DELETE", `/v1/memories/${delta.id}`, { key: adminKey })).status).toBe(204);
    expect((await call(app, "GET", `/v1/memories/${delta.id}`, { key: adminKey })).status).toBe(404);
    expect((await call(app, "DELETE", `/v1/memories/${delta.id}`, { key: adminKey })).status).toBe(404);
    expect((await call(app, "GET", "/v1/memories/not-a-uuid", { key: adminKey })).status).toBe(400);
  });

  it("never shows another workspace's memories: get, list, update and delete are 404 or empty", async () => {
    const { database } = db();
    const app = testApp(database);
    const mine = await seedWorkspace(database);
    const theirs = await seedWorkspace(database);
    const secret = await call(app, "POST", "/v1/memories", {
      key: theirs.adminKey,
      body: { content: "their secret plan" },
    });
    expect(secret.status).toBe(201);
    for (const [method, body] of [
      ["GET", undefined],
      ["PATCH", { importance: 0.1 }],
      ["DELETE", undefined],
    ] as const) {
      const response = await call(app, method, `/v1/memories/${secret.body.id}`, { key: mine.adminKey, body });
      expect(response.status, method).toBe(404);
      expect(response.body.error.code).toBe("not_found");
    }
    expect((await call(app, "GET", "/v1/memories", { key: mine.adminKey })).body.items).toEqual([]);
    // The same content in my workspace is not a duplicate of theirs.
    const own = await call(app, "POST", "/v1/memories", { key: mine.adminKey, body: { content: "their secret plan" } });
    expect(own.status).toBe(201);
    expect(own.body.id).not.toBe(secret.body.id);
    expect((await call(app, "GET", `/v1/memories/${secret.body.id}`, { key: theirs.adminKey })).body.importance).toBe(
      0.5,
    );
  });
});

describeEachDatabase("embeddings sent as text", (db) => {
  it("store every component as the float32 nearest to what the client sent, long or short", async () => {
    const { database } = db();
    const { workspaceId } = await seedWorkspace(database);
    // Doubles with 17 significant digits (sent as 9-digit float32 values), short decimals (sent
    // as they are), tiny and huge magnitudes, negative zero.
    const embedding = Array.from({ length: 768 }, (_, i) =>
      i % 4 === 0
        ? Math.sin(i + 1) / 3
        : i % 4 === 1
          ? (i % 7) / 10
          : i % 4 === 2
            ? (i % 2 ? 1e-30 : -3.5e20) / (i + 1)
            : -0,
    );
    embedding[3] = 1;
    const actor = { workspaceId };
    const [stored] = await database.withTenant(actor, (tx) =>
      insertMemories(tx, actor, [{ content: "precision probe", embedding }]),
    );
    const [row] = await database.withTenant(actor, (tx) =>
      rows<{ e: string }>(tx, sql`select embedding::text as e from memories where id = ${stored!.id}`),
    );
    const back = JSON.parse(row!.e) as number[];
    expect(back.length).toBe(768);
    const mismatches = back.flatMap((value, i) =>
      Math.fround(value) === Math.fround(embedding[i]!) ? [] : [[i, embedding[i], value]],
    );
    expect(mismatches).toEqual([]);
  });
});
