import { sql } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { connect, type Database, rows } from "../../db/client";
import {
  type EmbeddingProvider,
  EmbeddingProviderError,
  LexicalHashEmbeddingProvider,
} from "../../functions/memory/embeddings";
import { insertMemories, listMemories, type MemoryInput } from "../../functions/memory/memories";
import { setEmbeddingProvider } from "../../functions/memory/provider";
import {
  EXACT_SCAN_MAX_ROWS,
  explainSearch,
  type MemorySearchInput,
  type SearchOptions,
  searchMemories,
  searchSettings,
} from "../../functions/memory/search";
import { describeEachDatabase } from "../support/databases";
import { call, seedWorkspace, testApp } from "../support/http";

const provider = new LexicalHashEmbeddingProvider({ dimensions: 768 });
beforeAll(() => setEmbeddingProvider(provider));
afterEach(() => setEmbeddingProvider(provider));
afterAll(() => setEmbeddingProvider(undefined));

/** e0 scaled by `cosine` plus an orthogonal axis: its cosine similarity to e0 is exactly `cosine`. */
function towards(dims: number, cosine: number, axis: number): number[] {
  const vector = new Array<number>(dims).fill(0);
  vector[0] = cosine;
  vector[axis] = Math.sqrt(1 - cosine * cosine);
  return vector;
}
const e0 = (dims: number) => towards(dims, 1, 1);

async function store(database: Database, workspaceId: string, inputs: MemoryInput[]) {
  const actor = { workspaceId };
  return database.withTenant(actor, (tx) => insertMemories(tx, actor, inputs, { provider }));
}

async function search(database: Database, workspaceId: string, input: MemorySearchInput, options: SearchOptions = {}) {
  const actor = { workspaceId };
  return database.withTenant(
    actor,
    (tx) => searchMemories(tx, actor, input, { provider, ...options }),
    searchSettings(input),
  );
}

const contents = (response: { results: { content: string }[] }) => response.results.map((result) => result.content);

describeEachDatabase("memory search", (db) => {
  // X: text rank 1, vector rank 2; Y: vector rank 1, no text match; Z: text rank 2, vector rank 3;
  // W: vector rank 4, no text match; COLD: the best of all on both, but cold.
  const crafted: MemoryInput[] = [
    { content: "X: the database backup runs nightly, database backup verified", embedding: towards(768, 0.8, 2) },
    { content: "Y: kettle descaling schedule", embedding: towards(768, 0.95, 3) },
    {
      content: "Z: the database cluster keeps a separate schedule for its weekly backup",
      embedding: towards(768, 0.5, 4),
    },
    { content: "W: office plants need water", embedding: towards(768, 0.1, 5) },
    { content: "COLD: database backup database backup archive", embedding: towards(768, 0.99, 6), pinnedTier: "cold" },
  ];
  let workspaceId: string;
  beforeAll(async () => {
    workspaceId = (await seedWorkspace(db().database)).workspaceId;
    await store(db().database, workspaceId, crafted);
  });

  it("vector search orders by cosine similarity and reports it", async () => {
    const result = await search(db().database, workspaceId, { vector: e0(768) });
    expect(result.mode).toBe("vector");
    expect(result.dimensions).toBe(768);
    expect(contents(result).map((c) => c[0])).toEqual(["Y", "X", "Z", "W"]);
    const similarities = result.results.map((r) => r.similarity!);
    for (const [i, expected] of [0.95, 0.8, 0.5, 0.1].entries()) expect(similarities[i]).toBeCloseTo(expected, 5);
    expect(result.results.every((r) => r.textRank === null)).toBe(true);
    expect(result.results[0]!.score).toBeCloseTo(1 / 61, 12);

    const strict = await search(db().database, workspaceId, { vector: e0(768), minSimilarity: 0.7 });
    expect(contents(strict).map((c) => c[0])).toEqual(["Y", "X"]);
    const top2 = await search(db().database, workspaceId, { vector: e0(768), topK: 2 });
    expect(contents(top2).map((c) => c[0])).toEqual(["Y", "X"]);
  });

  it("text search with textMatch all uses websearch_to_tsquery and orders by rank", async () => {
    const all = (query: string) => search(db().database, workspaceId, { query, mode: "text", textMatch: "all" });
    const result = await all("database backup");
    expect(result.mode).toBe("text");
    expect(result.dimensions).toBeNull();
    expect(contents(result).map((c) => c[0])).toEqual(["X", "Z"]);
    expect(result.results[0]!.textRank!).toBeGreaterThan(result.results[1]!.textRank!);
    expect(result.results.every((r) => r.similarity === null)).toBe(true);
    // websearch syntax: a quoted phrase and a negation; every word must match
    expect(contents(await all('"database backup"')).map((c) => c[0])).toEqual(["X"]);
    expect(contents(await all("database -nightly")).map((c) => c[0])).toEqual(["Z"]);
    expect(contents(await all("database kettle")).map((c) => c[0])).toEqual([]);
    expect((await all("the")).results).toEqual([]);
  });

  it("text search by default (textMatch any) finds memories with any of the words, more words first", async () => {
    const any = (query: string) => search(db().database, workspaceId, { query, mode: "text" });
    // Z has "database", "schedule" and "backup"; X "database" and "backup"; Y "schedule" alone.
    expect(contents(await any("database backup schedule")).map((c) => c[0])).toEqual(["Z", "X", "Y"]);
    // Two words each: X ranks before Z by ts_rank_cd (its words are repeated and adjacent).
    expect(contents(await any("database backup")).map((c) => c[0])).toEqual(["X", "Z"]);
    // One word each: ts_rank_cd decides (X repeats "database").
    const oneWord = contents(await any("kettle database")).map((c) => c[0]);
    expect(oneWord[0]).toBe("X");
    expect(oneWord.sort()).toEqual(["X", "Y", "Z"]);
    // Stop words alone match nothing; operators of the web-search syntax are plain words here.
    expect((await any("the and of")).results).toEqual([]);
    expect(
      contents(await any("-kettle 'plants' \\ \""))
        .map((c) => c[0])
        .sort(),
    ).toEqual(["W", "Y"]);
  });

  it("answers a question in plain language in text mode (issue 18)", async () => {
    const { database } = db();
    const { workspaceId: ws } = await seedWorkspace(database);
    await store(database, ws, [
      { content: "In production we use PostgreSQL 16 with pgvector, hosted on Neon", embedding: towards(768, 0.3, 2) },
      { content: "The staging database is refreshed from a snapshot every Monday", embedding: towards(768, 0.2, 3) },
      { content: "We use Slack for incident channels", embedding: towards(768, 0.1, 4) },
      { content: "Lunch is served at noon", embedding: towards(768, 0.05, 5) },
    ]);
    const question = "which database do we use in production";
    const text = await search(database, ws, { query: question, mode: "text" });
    // "production" and "use" beat "database" alone (staging) and "use" alone (Slack).
    expect(contents(text)[0]).toBe("In production we use PostgreSQL 16 with pgvector, hosted on Neon");
    expect(contents(text).slice(1).sort()).toEqual([
      "The staging database is refreshed from a snapshot every Monday",
      "We use Slack for incident channels",
    ]);
    // The strict form still needs every word: no memory has them all.
    expect((await search(database, ws, { query: question, mode: "text", textMatch: "all" })).results).toEqual([]);
  });

  it("hybrid search fuses both rankings with reciprocal rank fusion (k = 60, weights)", async () => {
    const result = await search(db().database, workspaceId, { query: "database backup", vector: e0(768) });
    expect(result.mode).toBe("hybrid");
    // X: 1/(60+2) + 1/(60+1); Z: 1/(60+3) + 1/(60+2); Y: 1/(60+1); W: 1/(60+4)
    expect(contents(result).map((c) => c[0])).toEqual(["X", "Z", "Y", "W"]);
    const scores = result.results.map((r) => r.score);
    for (const [i, expected] of [1 / 62 + 1 / 61, 1 / 63 + 1 / 62, 1 / 61, 1 / 64].entries()) {
      expect(scores[i]).toBeCloseTo(expected, 12);
    }
    const x = result.results[0]!;
    expect(x.similarity).toBeCloseTo(0.8, 5);
    expect(x.textRank).toBeGreaterThan(0);

    const vectorOnly = await search(db().database, workspaceId, {
      query: "database backup",
      vector: e0(768),
      weights: { text: 0 },
    });
    expect(contents(vectorOnly).map((c) => c[0])).toEqual(["Y", "X", "Z", "W"]);
    const textHeavy = await search(db().database, workspaceId, {
      query: "database backup",
      vector: e0(768),
      weights: { vector: 1, text: 3 },
      rrfK: 1,
    });
    // k = 1: X 3/2 + 1/3, Z 3/3 + 1/4, Y 1/2, W 1/5
    expect(contents(textHeavy).map((c) => c[0])).toEqual(["X", "Z", "Y", "W"]);
    expect(textHeavy.results[1]!.score).toBeCloseTo(1 + 1 / 4, 12);
  });

  it("a text query alone is embedded by the provider: hybrid by default, vector on request", async () => {
    const { workspaceId: ws } = await seedWorkspace(db().database);
    await store(db().database, ws, [
      { content: "rotate the staging database password" },
      { content: "lunch menu for friday" },
      { content: "database password rotation policy" },
    ]);
    const hybrid = await search(db().database, ws, { query: "database password" });
    expect(hybrid.mode).toBe("hybrid");
    expect(hybrid.dimensions).toBe(768);
    expect(contents(hybrid).slice(0, 2).sort()).toEqual([
      "database password rotation policy",
      "rotate the staging database password",
    ]);
    expect(contents(hybrid)[2]).toBe("lunch menu for friday"); // a vector neighbour, however far
    const vector = await search(db().database, ws, { query: "database password policy", mode: "vector", topK: 1 });
    expect(contents(vector)).toEqual(["database password rotation policy"]);
    expect(vector.results[0]!.similarity!).toBeGreaterThan(0.5);
  });

  it("excludes cold memories unless the tier filter asks for them", async () => {
    const byDefault = await search(db().database, workspaceId, { query: "database backup", vector: e0(768) });
    expect(contents(byDefault).some((c) => c.startsWith("COLD"))).toBe(false);
    const withCold = await search(db().database, workspaceId, {
      query: "database backup",
      vector: e0(768),
      filters: { tier: ["hot", "warm", "cold"] },
    });
    expect(contents(withCold)[0]).toMatch(/^COLD/);
    const onlyCold = await search(db().database, workspaceId, { vector: e0(768), filters: { tier: ["cold"] } });
    expect(contents(onlyCold).map((c) => c.split(":")[0])).toEqual(["COLD"]);
  });

  it("filters on type, source type, metadata containment, created range and importance", async () => {
    const { database } = db();
    const { workspaceId: ws } = await seedWorkspace(database);
    const stored = await store(database, ws, [
      {
        content: "release notes one",
        type: "KNOWLEDGE",
        sourceType: "slack",
        metadata: { team: "core", tags: ["a"] },
        importance: 0.9,
      },
      {
        content: "release notes two",
        type: "CONTEXT",
        sourceType: "email",
        metadata: { team: "core" },
        importance: 0.2,
      },
      {
        content: "release notes three",
        type: "TEMPLATE",
        sourceType: "slack",
        metadata: { team: "web", tags: ["a", "b"] },
        importance: 0.6,
      },
      { content: "release notes four", type: "KNOWLEDGE", metadata: {}, importance: 0.4 },
    ]);
    await database.db.execute(sql`update memories set created_at = '2024-01-01T00:00:00Z' where id = ${stored[0]!.id}`);
    await database.db.execute(sql`update memories set created_at = '2024-06-01T00:00:00Z' where id = ${stored[1]!.id}`);
    const names = async (
      filters: NonNullable<MemorySearchInput["filters"]>,
      mode: "hybrid" | "text" | "vector" = "hybrid",
    ) =>
      contents(await search(database, ws, { query: "release notes", mode, filters }))
        .map((c) => c.split(" ")[2])
        .sort();
    for (const mode of ["hybrid", "text", "vector"] as const) {
      expect(await names({ type: ["KNOWLEDGE"] }, mode)).toEqual(["four", "one"]);
      expect(await names({ type: ["CONTEXT", "TEMPLATE"] }, mode)).toEqual(["three", "two"]);
      expect(await names({ sourceType: ["slack"] }, mode)).toEqual(["one", "three"]);
      expect(await names({ metadata: { team: "core" } }, mode)).toEqual(["one", "two"]);
      expect(await names({ metadata: { tags: ["b"] } }, mode)).toEqual(["three"]);
      expect(await names({ createdBefore: new Date("2024-03-01T00:00:00Z") }, mode)).toEqual(["one"]);
      expect(
        await names(
          { createdAfter: new Date("2024-03-01T00:00:00Z"), createdBefore: new Date("2025-01-01T00:00:00Z") },
          mode,
        ),
      ).toEqual(["two"]);
      expect(await names({ minImportance: 0.5 }, mode)).toEqual(["one", "three"]);
      expect(await names({ sourceType: ["slack"], minImportance: 0.7 }, mode)).toEqual(["one"]);
    }
  });

  it("counts each returned memory's access in the same statement", async () => {
    const { database } = db();
    const { workspaceId: ws } = await seedWorkspace(database);
    await store(database, ws, [
      { content: "first", embedding: towards(768, 0.9, 2) },
      { content: "second", embedding: towards(768, 0.8, 3) },
      { content: "third", embedding: towards(768, 0.1, 4) },
    ]);
    const once = await search(database, ws, { vector: e0(768), topK: 2 });
    expect(once.results.map((r) => [r.content, r.accessCount])).toEqual([
      ["first", 1],
      ["second", 1],
    ]);
    expect(once.results[0]!.lastAccessedAt).toBeInstanceOf(Date);
    const twice = await search(database, ws, { vector: e0(768), topK: 1 });
    expect(twice.results[0]!.accessCount).toBe(2);
    const stored = await database.withTenant({ workspaceId: ws }, (tx) =>
      tx.execute(
        sql`select m.content, a.access_count, a.last_accessed_at is not null as accessed
            from memories m left join memory_access a on a.memory_id = m.id order by m.content`,
      ),
    );
    // Access statistics live in memory_access; a memory never returned has no row there.
    expect((stored as unknown as { rows: unknown[] }).rows).toEqual([
      { content: "first", access_count: 2, accessed: true },
      { content: "second", access_count: 1, accessed: true },
      { content: "third", access_count: null, accessed: false },
    ]);
    // Reads answer the same statistics.
    const listed = await database.withTenant({ workspaceId: ws }, (tx) => listMemories(tx, { workspaceId: ws }, {}));
    expect(Object.fromEntries(listed.items.map((m) => [m.content, m.accessCount]))).toEqual({
      first: 2,
      second: 1,
      third: 0,
    });
  });

  it("never rewrites a memory row: access counting is a HOT update of memory_access, in the same statement", async () => {
    const { database } = db();
    const { workspaceId: ws } = await seedWorkspace(database);
    await store(database, ws, [
      { content: "alpha", embedding: towards(768, 0.9, 2) },
      { content: "beta", embedding: towards(768, 0.8, 3) },
      { content: "gamma", embedding: towards(768, 0.7, 4) },
    ]);
    const actor = { workspaceId: ws };
    const searches = 5;
    const counters = (tx: Parameters<Parameters<Database["withTenant"]>[1]>[0]) =>
      rows<Record<string, string | number>>(
        tx,
        sql`select pg_stat_get_xact_tuples_updated('memories'::regclass) as memories_updated,
                   pg_stat_get_xact_tuples_inserted('memories'::regclass) as memories_inserted,
                   pg_stat_get_xact_tuples_inserted('memory_access'::regclass) as access_inserted,
                   pg_stat_get_xact_tuples_updated('memory_access'::regclass) as access_updated,
                   pg_stat_get_xact_tuples_hot_updated('memory_access'::regclass) as access_hot_updated`,
      ).then(([row]) => Object.fromEntries(Object.entries(row!).map(([key, value]) => [key, Number(value)])));
    // The backend's own statistics counters (pg_stat_get_xact_*), read before and after the
    // searches in one transaction: the difference is every row they inserted or updated, with no
    // wait for the statistics to be flushed.
    const delta = await database.withTenant(
      actor,
      async (tx) => {
        const before = await counters(tx);
        for (let i = 0; i < searches; i++) {
          const found = await searchMemories(tx, actor, { vector: e0(768), topK: 3 }, { provider });
          expect(found.results.map((r) => r.accessCount)).toEqual([i + 1, i + 1, i + 1]);
        }
        const after = await counters(tx);
        return Object.fromEntries(Object.keys(after).map((key) => [key, after[key]! - before[key]!]));
      },
      searchSettings({ vector: e0(768), topK: 3 }),
    );
    expect(delta).toEqual({
      memories_updated: 0,
      memories_inserted: 0,
      // The first search inserts one row per memory, every later one updates them, all HOT.
      access_inserted: 3,
      access_updated: 3 * (searches - 1),
      access_hot_updated: 3 * (searches - 1),
    });
  });

  it("keeps access statistics tenant data: another workspace neither sees nor writes them", async () => {
    const { database } = db();
    const a = await seedWorkspace(database);
    const b = await seedWorkspace(database);
    const [memory] = await store(database, a.workspaceId, [{ content: "a's secret", embedding: towards(768, 0.9, 2) }]);
    await search(database, a.workspaceId, { vector: e0(768) });
    const seenBy = (workspaceId: string) =>
      database.withTenant({ workspaceId }, (tx) =>
        rows<{ n: number }>(tx, sql`select count(*)::int as n from memory_access where memory_id = ${memory!.id}`),
      );
    expect(await seenBy(a.workspaceId)).toEqual([{ n: 1 }]);
    expect(await seenBy(b.workspaceId)).toEqual([{ n: 0 }]);
    // B's search finds nothing of A's and counts nothing for it.
    expect((await search(database, b.workspaceId, { vector: e0(768) })).results).toEqual([]);
    const forged = await database
      .withTenant({ workspaceId: b.workspaceId }, (tx) =>
        tx.execute(
          sql`insert into memory_access (memory_id, workspace_id, access_count) values (${memory!.id}, ${a.workspaceId}, 99)`,
        ),
      )
      .then(
        () => "inserted",
        (error: unknown) => String((error as { cause?: unknown }).cause ?? error),
      );
    expect(forged).toMatch(/row-level security/);
    const [again] = await database.withTenant({ workspaceId: a.workspaceId }, (tx) =>
      rows<{ access_count: number }>(tx, sql`select access_count from memory_access where memory_id = ${memory!.id}`),
    );
    expect(again).toEqual({ access_count: 1 });
  });

  it("never waits for a row another transaction holds: the memory is returned, that access uncounted", async () => {
    const { database, target, url } = db();
    const { workspaceId: ws } = await seedWorkspace(database);
    const [held, free] = await store(database, ws, [
      { content: "held by a long transaction", embedding: towards(768, 0.9, 2) },
      { content: "free to count", embedding: towards(768, 0.8, 3) },
    ]);
    if (target !== "postgres") {
      // PGlite has one connection, so nothing can hold a row meanwhile: both accesses count.
      const result = await search(database, ws, { vector: e0(768) });
      expect(result.results.map((r) => [r.content, r.accessCount])).toEqual([
        [held!.content, 1],
        [free!.content, 1],
      ]);
      return;
    }
    // A first search creates both memories' access rows; the holder then locks one of them.
    const first = await search(database, ws, { vector: e0(768) });
    expect(first.results.map((r) => [r.content, r.accessCount])).toEqual([
      [held!.content, 1],
      [free!.content, 1],
    ]);
    const other = await connect(url, { driver: "neon", max: 2 });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = other.withTenant({ workspaceId: ws }, async (tx) => {
      await tx.execute(sql`update memories set importance = 0.8 where id = ${held!.id}`);
      await tx.execute(sql`update memory_access set access_count = access_count where memory_id = ${held!.id}`);
      locked();
      await released;
    });
    try {
      await isLocked;
      const result = await search(database, ws, { vector: e0(768) });
      expect(result.results.map((r) => [r.content, r.accessCount])).toEqual([
        [held!.content, 1],
        [free!.content, 2],
      ]);
    } finally {
      release();
      await holder;
      await other.close();
    }
    const after = await search(database, ws, { vector: e0(768) });
    expect(after.results.map((r) => [r.content, r.accessCount, r.importance])).toEqual([
      [held!.content, 2, 0.8],
      [free!.content, 3, 0.5],
    ]);
  });

  it("searches 768- and 1536-dimension memories side by side, each through its own HNSW index", async () => {
    const { database } = db();
    const { workspaceId: ws } = await seedWorkspace(database);
    await store(database, ws, [
      { content: "small doc near", embedding: towards(768, 0.9, 2) },
      { content: "small doc far", embedding: towards(768, 0.2, 3) },
      { content: "large doc near", embedding: towards(1536, 0.9, 2) },
      { content: "large doc far", embedding: towards(1536, 0.2, 3) },
    ]);
    for (const strategy of ["auto", "index", "exact"] as const) {
      const small = await search(database, ws, { vector: e0(768) }, { strategy });
      expect(contents(small)).toEqual(["small doc near", "small doc far"]);
      const large = await search(database, ws, { vector: e0(1536) }, { strategy });
      expect(large.dimensions).toBe(1536);
      expect(contents(large)).toEqual(["large doc near", "large doc far"]);
    }
    // The text side of a hybrid search is not limited to one size; the similarity then is null.
    const hybrid = await search(database, ws, { query: "large doc", vector: e0(768) });
    const large = hybrid.results.filter((r) => r.content.startsWith("large"));
    expect(large).toHaveLength(2);
    expect(large.every((r) => r.similarity === null && r.textRank! > 0)).toBe(true);

    // The plans: each size's search names its own partial index, and only that one.
    const plan = (vector: number[]) =>
      database.withTenant(
        { workspaceId: ws },
        async (tx) => {
          await tx.execute(sql`set local enable_seqscan = off`);
          return explainSearch(tx, { workspaceId: ws }, { vector }, { provider, strategy: "index" });
        },
        searchSettings({ vector }),
      );
    const plan768 = await plan(e0(768));
    const plan1536 = await plan(e0(1536));
    expect(plan768).toMatch(/Index Scan using memories_embedding_768_hnsw/);
    expect(plan768).not.toMatch(/memories_embedding_1536_hnsw/);
    expect(plan1536).toMatch(/Index Scan using memories_embedding_1536_hnsw/);
    expect(plan1536).not.toMatch(/memories_embedding_768_hnsw/);
    // The automatic strategy carries both branches behind one-time filters on the row count.
    const auto = await database.withTenant({ workspaceId: ws }, (tx) =>
      explainSearch(tx, { workspaceId: ws }, { vector: e0(1536) }, { provider }),
    );
    expect(auto).toMatch(new RegExp(`One-Time Filter: .*> '${EXACT_SCAN_MAX_ROWS}'::bigint`));
    expect(auto).toMatch(new RegExp(`One-Time Filter: .*<= '${EXACT_SCAN_MAX_ROWS}'::bigint`));
    expect(auto).toMatch(/memories_embedding_1536_hnsw/);
  });

  it("finds text matches of the request's workspace only, though cairn_text_matches bypasses row-level security", async () => {
    const { database } = db();
    const a = await seedWorkspace(database);
    const b = await seedWorkspace(database);
    const [memory] = await store(database, a.workspaceId, [{ content: "the vault combination", embedding: e0(768) }]);
    const matches = (tx: Parameters<Parameters<Database["withTenant"]>[1]>[0]) =>
      rows<{ id: string }>(tx, sql`select cairn_text_matches(to_tsquery('english', 'vault')) as id`);
    expect(await database.withTenant({ workspaceId: a.workspaceId }, matches)).toEqual([{ id: memory!.id }]);
    expect(await database.withTenant({ workspaceId: b.workspaceId }, matches)).toEqual([]);
    // As cairn_app with no workspace set: nothing.
    expect(await database.withSettings({}, matches)).toEqual([]);
    expect((await search(database, b.workspaceId, { query: "vault combination", mode: "text" })).results).toEqual([]);
  });

  it("never returns another workspace's memories, whatever the strategy", async () => {
    const { database } = db();
    const mine = await seedWorkspace(database);
    const theirs = await seedWorkspace(database);
    await store(database, theirs.workspaceId, [
      { content: "their exact match database backup", embedding: e0(768) },
      { content: "their near match database backup", embedding: towards(768, 0.99, 2) },
    ]);
    await store(database, mine.workspaceId, [
      { content: "my distant note on database backup", embedding: towards(768, 0.1, 3) },
    ]);
    for (const strategy of ["auto", "index", "exact"] as const) {
      for (const input of [
        { vector: e0(768) },
        { query: "database backup", mode: "text" as const },
        { query: "database backup", vector: e0(768) },
        { vector: e0(768), filters: { tier: ["hot" as const, "warm" as const, "cold" as const] } },
      ]) {
        const result = await search(database, mine.workspaceId, input, { strategy });
        expect(contents(result), `${strategy} ${JSON.stringify(input).slice(0, 60)}`).toEqual([
          "my distant note on database backup",
        ]);
      }
    }
    const app = testApp(database);
    const response = await call(app, "POST", "/v1/memories/search", {
      key: mine.adminKey,
      body: { query: "their exact match" },
    });
    expect(response.status).toBe(200);
    expect(response.body.results.map((r: { content: string }) => r.content)).toEqual([
      "my distant note on database backup",
    ]);
  });

  it("POST /v1/memories/search: response shape, 400 for malformed input, 422 for unusable input", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey } = await seedWorkspace(database);
    await call(app, "POST", "/v1/memories", { key: adminKey, body: { content: "the on-call rota lives in the wiki" } });
    const ok = await call(app, "POST", "/v1/memories/search", {
      key: adminKey,
      body: { query: "on-call rota", topK: 5 },
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ mode: "hybrid", dimensions: 768 });
    expect(ok.body.results[0]).toMatchObject({ content: "the on-call rota lives in the wiki", accessCount: 1 });
    expect(ok.body.results[0].similarity).toBeGreaterThan(0.3);
    expect(ok.body.results[0].textRank).toBeGreaterThan(0);
    expect(ok.body.results[0].score).toBeGreaterThan(0);
    expect(ok.body.results[0].embedding).toBeUndefined();

    for (const body of [
      {},
      { query: "" },
      { query: "x", topK: 0 },
      { query: "x", topK: 101 },
      { query: "x", mode: "fuzzy" },
      { query: "x", unknown: true },
      { query: "x", filters: { tier: ["frozen"] } },
      { query: "x", filters: { colour: "red" } },
      { query: "x", weights: { vector: -1 } },
      { vector: ["a"] },
    ]) {
      const response = await call(app, "POST", "/v1/memories/search", { key: adminKey, body });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.error.code).toBe("validation_failed");
    }
    for (const body of [
      { vector: [1, 2, 3] },
      { vector: e0(768), mode: "text" },
      { vector: e0(768), mode: "hybrid" },
      { query: "x", weights: { vector: 0, text: 0 } },
      { query: "x", mode: "text", minSimilarity: 0.5 },
      { query: "x", filters: { createdAfter: "2025-01-02T00:00:00Z", createdBefore: "2025-01-01T00:00:00Z" } },
    ]) {
      const response = await call(app, "POST", "/v1/memories/search", { key: adminKey, body });
      expect(response.status, JSON.stringify(body)).toBe(422);
      expect(response.body.error.code).toBe("invalid");
    }
    const infinite = await call(app, "POST", "/v1/memories/search", {
      key: adminKey,
      raw: `{"vector":[1e400${",0".repeat(767)}]}`,
    });
    expect(infinite.status).toBe(422);
  });

  it("answers 503 when the provider is unavailable, and text search still works without it", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey } = await seedWorkspace(database);
    await call(app, "POST", "/v1/memories", { key: adminKey, body: { content: "incident review checklist" } });
    const failing: EmbeddingProvider = {
      name: "failing",
      model: "none",
      dimensions: 768,
      embed: async () => {
        throw new EmbeddingProviderError("upstream down", { status: 503, retryable: true });
      },
      describe: () => ({ provider: "failing", model: "none", dimensions: 768 }),
    };
    setEmbeddingProvider(failing);
    const down = await call(app, "POST", "/v1/memories/search", { key: adminKey, body: { query: "incident review" } });
    expect(down.status).toBe(503);
    expect(down.body.error.code).toBe("upstream_unavailable");
    const text = await call(app, "POST", "/v1/memories/search", {
      key: adminKey,
      body: { query: "incident review", mode: "text" },
    });
    expect(text.status).toBe(200);
    expect(text.body.results.map((r: { content: string }) => r.content)).toEqual(["incident review checklist"]);
    const store = await call(app, "POST", "/v1/memories", { key: adminKey, body: { content: "needs an embedding" } });
    expect(store.status).toBe(503);
  });
});
