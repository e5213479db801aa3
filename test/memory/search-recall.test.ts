/**
 * Filtered recall at scale: clustered 768-dimension vectors, a filter that keeps 1% of them,
 * and the search's results compared with an exact (index-free) scan.
 *
 * The full set, 20,000 vectors, runs in CI and `npm run test:full` (CAIRN_TEST_FULL=1): on
 * PGlite it costs minutes (generating the vectors and building the HNSW graph, single-threaded
 * WASM). Everyday `npm test` runs the same assertions, bounds unchanged, on EVERYDAY_ROWS.
 */
import { sql } from "drizzle-orm";
import { beforeAll, expect, it } from "vitest";
import { rows } from "../../db/client";
import { LexicalHashEmbeddingProvider } from "../../functions/memory/embeddings";
import {
  EXACT_SCAN_MAX_ROWS,
  explainSearch,
  type MemorySearchInput,
  type SearchOptions,
  searchMemories,
  searchSettings,
} from "../../functions/memory/search";
import { describeEachDatabase } from "../support/databases";
import { seedWorkspace } from "../support/http";

/**
 * 4,000 keeps every branch the assertions tell apart: unfiltered, the rows are 4x the exact-scan
 * limit (EXACT_SCAN_MAX_ROWS, 1,000), so the index branch runs; the 1% filter keeps 40 rows, so
 * the automatic strategy scans exactly, and an index scan without iterative scans still starves
 * (ef_search 200 candidates, about 2 of them kept). The bounds are the full set's. Measured on
 * 4,000 (5 builds on PGlite, 3 on PostgreSQL 15 + pgvector 0.8.0): recall@10 1.000 for the
 * automatic strategy, the iterative index scan and the unfiltered search; without iterative
 * scans 2.2 of 10 results, recall 0.22. A smaller graph is easier, so the spread of recall
 * between builds shows only in the full set.
 */
const EVERYDAY_ROWS = 4_000;
const ROWS = process.env.CAIRN_TEST_FULL === "1" ? 20_000 : EVERYDAY_ROWS;
const CLUSTERS = 10;
const DIMS = 768;
const QUERIES = 20;
const K = 10;
/** `bucket` = (i / 20) % 100: every bucket holds 1% of the rows, spread evenly over the clusters and the sheets. */
const FILTER = { bucket: 7 };
/** The same 1% as a subject: every row's `user_id` is `user-<bucket>`. */
const SUBJECT = { userId: "user-7" };
/**
 * The lowest recall@10 asserted for a search through the HNSW index (ef_search 200, the
 * migration's m = 16, ef_construction = 128). pgvector builds the graph with unseeded random
 * levels (and this test builds it in parallel on PostgreSQL), so recall varies from build to
 * build: 0.93 to 1.00 observed on this data, with or without a filter. The bound sits below that
 * spread; a search that lost its index or its iterative scan falls far below it (0.2 here).
 */
const INDEX_RECALL_FLOOR = 0.9;

const provider = new LexicalHashEmbeddingProvider({ dimensions: DIMS });

describeEachDatabase("memory search recall at scale", (db) => {
  let workspaceId: string;
  let queries: number[][];

  beforeAll(async () => {
    const { database } = db();
    workspaceId = (await seedWorkspace(database)).workspaceId;
    // Bulk load the way one loads a vector table: drop the HNSW index, insert with set-based
    // SQL, build the index once (with room for the graph in memory). The index is rebuilt from
    // its own catalogue definition, so it is exactly the migration's index.
    // The vectors come from Postgres's seeded PRNG (setseed), generated in the database. Like
    // real embeddings they have a low intrinsic dimension: each of 10 clusters is a 2-D sheet
    // in 768-D (centre + a·u1 + b·u2, with a, b uniform in [-2, 2] and centre, u1, u2 uniform in
    // [-1, 1]^768) plus small uniform noise in [-0.1, 0.1] per component. (Pure i.i.d. noise
    // around a centre makes all of a cluster's members nearly equidistant from a query, so
    // which ten are "nearest" is decided by noise.)
    const [index] = await rows<{ indexdef: string }>(
      database.db,
      sql`select indexdef from pg_indexes where indexname = 'memories_embedding_768_hnsw'`,
    );
    queries = await database.db.transaction(async (tx) => {
      await tx.execute(sql`drop index memories_embedding_768_hnsw`);
      await tx.execute(sql`select setseed(0.42)`);
      await tx.execute(sql`create temporary table centres on commit drop as
        select c, array_agg(random() * 2 - 1 order by d) as v, array_agg(random() * 2 - 1 order by d) as u1,
               array_agg(random() * 2 - 1 order by d) as u2
        from generate_series(0, ${CLUSTERS - 1}) c, generate_series(1, ${DIMS}) d group by c`);
      // unnest walks the three arrays once; subscripting them (v[d]) re-reads each array for
      // every element, which made generating the vectors most of this test's time (same values).
      const point = sql`(select array_agg(t.v + p.a * t.u1 + p.b * t.u2 + (random() * 0.2 - 0.1) order by t.d)
                         from unnest(centres.v, centres.u1, centres.u2) with ordinality as t(v, u1, u2, d))::vector`;
      await tx.execute(sql`insert into memories (workspace_id, content, content_hash, metadata, user_id, embedding, embedding_dims, embedding_model)
        select ${workspaceId}, 'synthetic memory ' || p.i, 'synthetic-' || p.i,
               jsonb_build_object('bucket', (p.i / 20) % 100, 'cluster', p.i % ${CLUSTERS}), 'user-' || (p.i / 20) % 100,
               ${point}, ${DIMS}, 'synthetic'
        from (select i, random() * 4 - 2 as a, random() * 4 - 2 as b from generate_series(0, ${ROWS - 1}) i) p
        join centres on centres.c = p.i % ${CLUSTERS}`);
      await tx.execute(sql`set local maintenance_work_mem = '256MB'`);
      if (!index) throw new Error("memories_embedding_768_hnsw is missing");
      await tx.execute(sql.raw(index.indexdef));
      const generated = await rows<{ v: string }>(
        tx,
        sql`select ${point}::text as v
            from centres, (select i, random() * 4 - 2 as a, random() * 4 - 2 as b from generate_series(1, ${QUERIES / CLUSTERS}) i) p
            order by centres.c, p.i`,
      );
      return generated.map((row) => JSON.parse(row.v) as number[]);
    });
    await database.db.execute(sql`analyze memories`);
  }, 1_200_000);

  /** The true nearest neighbours: every matching row compared, no index (the index is on embedding::vector(768)). */
  async function exactNeighbours(
    query: number[],
    metadata?: Record<string, unknown>,
    userId?: string,
  ): Promise<string[]> {
    const found = await rows<{ id: string }>(
      db().database.db,
      sql`select id from memories
          where workspace_id = ${workspaceId} and embedding_dims = ${DIMS} ${metadata ? sql`and metadata @> ${JSON.stringify(metadata)}::jsonb` : sql``}
            ${userId ? sql`and user_id = ${userId}` : sql``}
          order by embedding <=> ${`[${query.join(",")}]`}::vector, id
          limit ${K}`,
    );
    return found.map((row) => row.id);
  }

  async function searchIds(input: MemorySearchInput, options: SearchOptions, settings: Record<string, string> = {}) {
    const actor = { workspaceId };
    const response = await db().database.withTenant(
      actor,
      (tx) => searchMemories(tx, actor, input, { provider, ...options }),
      {
        ...searchSettings(input),
        ...settings,
      },
    );
    return response.results.map((result) => result.id);
  }

  async function recall(
    metadata: Record<string, unknown> | undefined,
    options: SearchOptions,
    settings: Record<string, string> = {},
    subject: { userId?: string } = {},
  ) {
    let sum = 0;
    let returned = 0;
    for (const query of queries) {
      const truth = await exactNeighbours(query, metadata, subject.userId);
      expect(truth).toHaveLength(K);
      const filters = { ...(metadata ? { metadata } : {}), ...subject };
      const found = await searchIds(
        { vector: query, topK: K, ...(Object.keys(filters).length > 0 ? { filters } : {}) },
        options,
        settings,
      );
      returned += found.length;
      sum += found.filter((id) => truth.includes(id)).length / truth.length;
    }
    return { recall: sum / queries.length, meanReturned: returned / queries.length };
  }

  it(`holds the data set the test claims: ${ROWS.toLocaleString("en-US")} vectors, the filter keeps 1% of them`, async () => {
    const [counts] = await rows<{ total: number; kept: number }>(
      db().database.db,
      sql`select count(*)::int as total, count(*) filter (where metadata @> ${JSON.stringify(FILTER)}::jsonb)::int as kept
          from memories where workspace_id = ${workspaceId} and embedding_dims = ${DIMS}`,
    );
    expect(counts).toEqual({ total: ROWS, kept: ROWS / 100 });
    // What makes the set meaningful at any size: many rows for the index, few after the filter.
    expect(ROWS).toBeGreaterThanOrEqual(4 * EXACT_SCAN_MAX_ROWS);
    expect(ROWS / 100).toBeLessThanOrEqual(EXACT_SCAN_MAX_ROWS);
    expect(queries).toHaveLength(QUERIES);
  });

  it("filtered search (automatic strategy) holds recall@10 >= 0.95 against exact search", async () => {
    const result = await recall(FILTER, { strategy: "auto" });
    console.info(`[${db().target}] recall@10, 1% filter, automatic strategy: ${result.recall.toFixed(3)}`);
    expect(result.recall).toBeGreaterThanOrEqual(0.95);
  });

  it("a 1% subject filter (userId) holds recall@10 >= 0.95, automatic strategy and iterative index scan", async () => {
    const auto = await recall(undefined, { strategy: "auto" }, {}, SUBJECT);
    console.info(`[${db().target}] recall@10, 1% userId filter, automatic strategy: ${auto.recall.toFixed(3)}`);
    expect(auto.recall).toBeGreaterThanOrEqual(0.95);
    const iterative = await recall(undefined, { strategy: "index" }, {}, SUBJECT);
    console.info(
      `[${db().target}] recall@10, 1% userId filter, index with iterative scan: ${iterative.recall.toFixed(3)}`,
    );
    expect(iterative.meanReturned).toBe(K);
    expect(iterative.recall).toBeGreaterThanOrEqual(INDEX_RECALL_FLOOR);
  });

  it("filtered search through the HNSW index alone is not starved, thanks to iterative scans", async () => {
    const iterative = await recall(FILTER, { strategy: "index" });
    console.info(`[${db().target}] recall@10, 1% filter, index with iterative scan: ${iterative.recall.toFixed(3)}`);
    // Every search gets its K results, and they are the right ones but for the graph's own
    // misses. Those vary from index build to index build (see INDEX_RECALL_FLOOR): 0.97 to
    // 1.00 over 22 builds of the migration's index on this data on PostgreSQL, 0.96 seen on
    // PGlite, 0.93 once with pgvector's default ef_construction. The 0.95 the automatic
    // strategy holds above is not a property of any one graph, so it is not asserted here; the
    // default (auto) path never depends on it.
    expect(iterative.meanReturned).toBe(K);
    expect(iterative.recall).toBeGreaterThanOrEqual(INDEX_RECALL_FLOOR);
    // Without iterative scans the same index scan starves: ef_search candidates, 1% of them kept.
    const starved = await recall(FILTER, { strategy: "index" }, { "hnsw.iterative_scan": "off" });
    console.info(
      `[${db().target}] without iterative scan: recall ${starved.recall.toFixed(3)}, ${starved.meanReturned.toFixed(1)} of ${K} results returned`,
    );
    expect(starved.meanReturned).toBeLessThan(K);
    expect(starved.recall).toBeLessThan(iterative.recall);
  });

  it("unfiltered search over the whole workspace goes through the index with high recall", async () => {
    const result = await recall(undefined, { strategy: "auto" });
    console.info(`[${db().target}] recall@10, no filter, automatic strategy: ${result.recall.toFixed(3)}`);
    expect(result.recall).toBeGreaterThanOrEqual(INDEX_RECALL_FLOOR);
  });

  it("the statement picks the branch at run time: the index for many rows, the exact scan for few", async () => {
    const actor = { workspaceId };
    const analyse = (input: MemorySearchInput) =>
      db().database.withTenant(
        actor,
        (tx) => explainSearch(tx, actor, input, { provider, analyze: true }),
        searchSettings(input),
      );
    const hnswNode = /Index Scan using memories_embedding_768_hnsw[^\n]*\n/;
    const [query = []] = queries;
    const broad = await analyse({ vector: query, topK: K });
    expect(broad.match(hnswNode)?.[0]).not.toMatch(/never executed/);
    expect(broad).toMatch(new RegExp(`One-Time Filter: .*<= '${EXACT_SCAN_MAX_ROWS}'::bigint`));
    const narrow = await analyse({ vector: query, topK: K, filters: { metadata: FILTER } });
    expect(narrow.match(hnswNode)?.[0]).toMatch(/never executed/);
  });
});
