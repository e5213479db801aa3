/**
 * Memory search: vector (pgvector HNSW, cosine), full-text (Postgres `websearch_to_tsquery`) or
 * hybrid (reciprocal rank fusion of both), with filters, in ONE SQL statement that also records
 * the access of every memory it returns.
 *
 * How a filtered vector search keeps its recall:
 * - The index path runs with pgvector's iterative index scan (`hnsw.iterative_scan =
 *   relaxed_order`): when the filter throws away the first `ef_search` candidates the scan goes
 *   on (up to `hnsw.max_scan_tuples`) instead of returning too few rows. Results are re-sorted
 *   by exact distance afterwards, as relaxed order requires.
 * - When few rows pass the filter an exact scan is both faster and exact. The statement
 *   decides by itself: a gate counts the rows that pass the filter, stopping at
 *   EXACT_SCAN_MAX_ROWS + 1, and each of the two branches (index, exact) is behind a one-time
 *   filter on that count, so Postgres runs only one of them. The workspace is itself a filter
 *   (the HNSW index is shared by all workspaces), so a small workspace in a big table is
 *   searched exactly too.
 * The settings go into the transaction's tenant set-up statement (`searchSettings`, passed to
 * `withTenant`/`inTenant`), so they cost no extra round trip.
 *
 * Each size of embedding has its own partial HNSW index (migration 0002): a search orders by
 * `embedding::vector(N) <=> q` with `embedding_dims = N` in its WHERE clause. The query
 * vector's size picks N; a text query embedded by the provider has the provider's size.
 */

import { z } from "@hono/zod-openapi";
import { type SQL, sql } from "drizzle-orm";
import { commitWith, deferred, mapRow, rows, type Tx, together } from "../../db/client";
import { memories, memoryAccess } from "../../db/schema";
import { Invalid } from "../shared/errors";
import { DateTimeInput, parseInput } from "../shared/validation";
import type { EmbeddingProvider, SupportedDimensions } from "./embeddings";
import {
  embedTexts,
  type MemoryActor,
  MemoryTier,
  MemoryType,
  toMemory,
  Vector,
  vectorLiteral,
  vectorProblem,
} from "./memories";
import { memoryModelConditions, SubjectFields } from "./memory-model";
import { embeddingProvider } from "./provider";
import { configuredReranker, type Reranker, rerankResults } from "./rerank";
import { Memory, Metadata, memoryColumns } from "./schemas";

/** A filter that leaves at most this many rows is searched exactly (no index). */
export const EXACT_SCAN_MAX_ROWS = 1000;
/** Tuples an iterative index scan may visit before it gives up (pgvector's default is 20,000). */
export const MAX_SCAN_TUPLES = 40_000;
/** Memory an iterative scan may use, as a multiple of work_mem (pgvector's default is 1). */
export const SCAN_MEM_MULTIPLIER = 4;
/**
 * The smallest ef_search (candidate list) of a search; pgvector's default is 40. On 20,000
 * clustered synthetic vectors whose neighbours are nearly equidistant (a hard case), 100 held
 * unfiltered recall@10 at about 0.97 and 200 at about 0.99, for about the same latency.
 */
export const MIN_EF_SEARCH = 200;
/** The index branch fetches this many times the candidates it keeps (see buildSearchStatement). */
export const INDEX_OVERFETCH = 2;
/** Reciprocal rank fusion's k (the RRF paper's 60). */
export const DEFAULT_RRF_K = 60;

export const SearchMode = z.enum(["vector", "text", "hybrid"]).openapi("MemorySearchMode");
export type SearchMode = z.infer<typeof SearchMode>;

/**
 * How the words of a text query match (text and hybrid modes):
 * - `any` (text mode's default): a memory matches if it contains any of the query's words (after stemming and
 *   stop-word removal), and memories that match more of them rank first — a question in plain
 *   language ("which database do we use in production") finds the memory that answers it;
 * - `all` (hybrid mode's default): Postgres `websearch_to_tsquery` — every word must match, with "quoted phrases",
 *   `or` and `-excluded` words.
 */
export const TextMatch = z.enum(["any", "all"]).openapi("MemoryTextMatch");
export type TextMatch = z.infer<typeof TextMatch>;

/**
 * `any` in text mode, where the words are all there is to go by; `all` in hybrid mode, where the
 * vector list already finds memories by meaning and the text list adds those holding every word.
 * (`any` ranks every memory that holds one of the words: its cost grows with their number, and
 * common words are in a large share of a workspace.)
 */
export function defaultTextMatch(mode: SearchMode): TextMatch {
  return mode === "text" ? "any" : "all";
}

export const MemorySearchFilters = z
  .strictObject({
    type: z.array(MemoryType).min(1).optional(),
    sourceType: z.array(z.string().min(1).max(100)).min(1).max(100).optional(),
    tier: z
      .array(MemoryTier)
      .min(1)
      .optional()
      .openapi({ description: "Defaults to hot and warm: cold memories are searched only when asked for" }),
    metadata: Metadata.optional().openapi({ description: "Metadata must contain this object (jsonb `@>`)" }),
    createdAfter: DateTimeInput("Inclusive").optional(),
    createdBefore: DateTimeInput("Exclusive").optional(),
    minImportance: z.number().min(0).max(1).optional(),
    ...SubjectFields,
    asOf: DateTimeInput().optional().openapi({
      description: "Search the facts valid at this time (validFrom ≤ asOf < validTo); by default, those valid now",
    }),
  })
  .openapi("MemorySearchFilters");

export const MemorySearchInput = z
  .strictObject({
    query: z.string().trim().min(1).max(10_000).optional().openapi({
      description: "Text to search for: full-text matched, and embedded by the configured provider for vector search",
    }),
    vector: Vector.optional().openapi({
      description: "A query vector (768 or 1536 numbers); it selects the index of that size",
    }),
    mode: SearchMode.optional().openapi({
      description: "Defaults to hybrid when a query is given, vector when only a vector is",
    }),
    textMatch: TextMatch.optional().openapi({
      description:
        "Full-text part: `any` finds memories with any of the query's words and ranks those matching more of them first; `all` needs every word (web-search syntax: quoted phrases, or, -word). Defaults to `any` in text mode and `all` in hybrid mode",
    }),
    topK: z.number().int().min(1).max(100).default(10),
    minSimilarity: z.number().min(-1).max(1).optional().openapi({
      description:
        "Drop results whose cosine similarity to the query vector is lower (or unknown: a hybrid text hit of another size)",
    }),
    weights: z
      .strictObject({ vector: z.number().min(0).max(100).default(1), text: z.number().min(0).max(100).default(1) })
      .optional()
      .openapi({ description: "Hybrid: each list's weight in the fused score (default 1 and 1)" }),
    rrfK: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(DEFAULT_RRF_K)
      .openapi({ description: "Reciprocal rank fusion constant" }),
    filters: MemorySearchFilters.optional(),
    rerank: z.boolean().optional().openapi({
      description:
        "Hybrid search with a configured reranker reranks its top candidates unless this is false (no reranker: no effect)",
    }),
  })
  .refine((input) => input.query !== undefined || input.vector !== undefined, {
    message: "Give a query, a vector or both",
  })
  .openapi("MemorySearchInput");
export type MemorySearchInput = z.input<typeof MemorySearchInput>;

export const MemorySearchResult = Memory.extend({
  similarity: z
    .number()
    .nullable()
    .openapi({ description: "Cosine similarity to the query vector (null without one)" }),
  textRank: z.number().nullable().openapi({
    description:
      "Full-text rank, ts_rank_cd normalised to 0..1 (null without a query). With textMatch `any` the text list is ordered by how many of the query's words a memory contains first, then by this rank",
  }),
  score: z
    .number()
    .openapi({ description: "Fused score: the sum of weight / (rrfK + rank) over the lists the memory is in" }),
  rerankScore: z.number().optional().openapi({ description: "The reranker's score, when it reranked the results" }),
}).openapi("MemorySearchResult");
export type MemorySearchResult = z.output<typeof MemorySearchResult>;

export const MemorySearchResponse = z
  .object({
    mode: SearchMode,
    dimensions: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "Size of the query vector (which index was searched)" }),
    results: z.array(MemorySearchResult),
  })
  .openapi("MemorySearchResponse");
export type MemorySearchResponse = z.output<typeof MemorySearchResponse>;

/** How the vector part scans: decided by the statement (auto), or forced (tests, benchmarks). */
export type VectorStrategy = "auto" | "index" | "exact";

export interface SearchOptions {
  provider?: EmbeddingProvider;
  strategy?: VectorStrategy;
  /** The reranker of a hybrid search (rerank.ts); default: the configured one, null for none. */
  reranker?: Reranker | null;
  /**
   * The caller's transaction ends with the search (the route): COMMIT goes in the statement's
   * round trip, and a reranker's call then runs after the transaction, not inside it.
   */
  commit?: boolean;
}

/** Candidates each list contributes before fusion (a pure vector or text search takes topK). */
function candidatePool(topK: number, mode: SearchMode): number {
  return mode === "hybrid" ? Math.min(Math.max(3 * topK, 50), 300) : topK;
}

/**
 * Transaction settings for a search: pass them to `withTenant(tenant, fn, settings)` (the route
 * does, through `inTenant`). `ef_search` grows with the number of candidates wanted.
 */
export function searchSettings(raw: MemorySearchInput): Record<string, string> {
  const parsed = MemorySearchInput.safeParse(raw);
  const topK = parsed.success ? parsed.data.topK : 10;
  const mode: SearchMode = parsed.success ? resolveMode(parsed.data) : "hybrid";
  const efSearch = Math.min(Math.max(2 * candidatePool(topK, mode), MIN_EF_SEARCH), 1000);
  return {
    // The index branch must use the HNSW index whenever it runs (the gate already decided that
    // many rows pass the filter). The planner does not cost the detoasting of kilobyte vectors
    // and, up to tens of thousands of rows, prefers sorting every row to the HNSW scan (whose
    // estimate grows with ef_search); with sorts disabled it takes the index-ordered path.
    // Every other sort in the statement has no alternative, so it stays as planned.
    enable_sort: "off",
    // Disabled sorts inflate the plan's estimated cost past jit_above_cost; compiling the
    // statement would then take longer (hundreds of ms) than running it.
    jit: "off",
    "hnsw.ef_search": String(efSearch),
    "hnsw.iterative_scan": "relaxed_order",
    "hnsw.max_scan_tuples": String(MAX_SCAN_TUPLES),
    // An iterative scan also stops at work_mem × this; visited 768- or 1536-dimension
    // elements take kilobytes each, so the default (1) would end a filtered scan early.
    "hnsw.scan_mem_multiplier": String(SCAN_MEM_MULTIPLIER),
  };
}

type ParsedSearch = z.output<typeof MemorySearchInput>;

function resolveMode(input: ParsedSearch): SearchMode {
  if (input.mode) return input.mode;
  return input.query !== undefined ? "hybrid" : "vector";
}

const VECTOR_TYPE: Record<SupportedDimensions, SQL> = { 768: sql.raw("vector(768)"), 1536: sql.raw("vector(1536)") };
/**
 * The size as a literal, not a parameter: the planner must prove the partial index's predicate
 * `embedding_dims = 768` from the query's, which it can only do with the same constant.
 */
const DIMS_LITERAL: Record<SupportedDimensions, SQL> = { 768: sql.raw("768"), 1536: sql.raw("1536") };

/** The memory columns of a result row (as `memoryColumns`, named as in the table). */
const RESULT_COLUMNS = sql.join(
  Object.values(memoryColumns).map((column) => sql`m.${sql.identifier(column.name)}`),
  sql`, `,
);

/** A result row: the memory's columns, then the search's own figures. */
type ResultRow = Record<string, unknown> & {
  similarity: number | string | null;
  text_rank: number | string | null;
  score: number | string;
};

/** The access statistics of a result row (named as in memory_access). */
function accessOf(row: ResultRow) {
  const { accessCount, lastAccessedAt } = mapRow(memoryAccess, row);
  return { accessCount: Number(accessCount), lastAccessedAt };
}

const toNumber = (value: number | string | null) => (value === null ? null : Number(value));

/**
 * Searches the actor's memories. One SQL statement: candidates (vector and/or text), fusion,
 * filters, and an UPDATE (writable CTE) that counts the access of each returned memory.
 * Run it in a transaction set up with `searchSettings(input)`.
 */
export async function searchMemories(
  tx: Tx,
  actor: MemoryActor,
  raw: MemorySearchInput,
  options: SearchOptions = {},
): Promise<MemorySearchResponse> {
  const parts = await prepareSearch(actor, raw, options);
  const reranker =
    parts.mode === "hybrid" && parts.rerank !== false
      ? options.reranker === undefined
        ? configuredReranker()
        : (options.reranker ?? undefined)
      : undefined;
  // A reranked search fetches the reranker's top N candidates, then keeps topK of them.
  const statement = buildSearchStatement(reranker ? { ...parts, topK: Math.max(parts.topK, reranker.topN) } : parts);
  const send = options.commit ? commitWith : together;
  const { found } = await send(tx, { found: deferred(() => rows<ResultRow>(tx, statement)) });
  const results = found.map((row) => ({
    // The access statistics include this search's own access, counted in the same statement.
    ...toMemory({ ...mapRow(memories, row), ...accessOf(row) }),
    similarity: toNumber(row.similarity),
    textRank: toNumber(row.text_rank),
    score: Number(row.score),
  }));
  return {
    mode: parts.mode,
    dimensions: parts.dims ?? null,
    results:
      reranker && parts.query !== undefined ? await rerankResults(reranker, parts.query, results, parts.topK) : results,
  };
}

/**
 * For tests and benchmarks: the plan of the statement a search runs (costs off). With `analyze`
 * the statement runs (access counts included) and the plan shows which branch executed.
 */
export async function explainSearch(
  tx: Tx,
  actor: MemoryActor,
  raw: MemorySearchInput,
  options: SearchOptions & { analyze?: boolean; timing?: boolean } = {},
): Promise<string> {
  const parts = await prepareSearch(actor, raw, options);
  const explain = options.analyze
    ? options.timing
      ? sql`explain (analyze, buffers, costs off)`
      : sql`explain (analyze, costs off, timing off, summary off)`
    : sql`explain (costs off)`;
  const plan = await rows<Record<string, string>>(tx, sql`${explain} ${buildSearchStatement(parts)}`);
  return plan.map((row) => Object.values(row)[0]).join("\n");
}

/** Validates the input, resolves the mode and embeds the text query when a vector is needed. */
async function prepareSearch(
  actor: MemoryActor,
  raw: MemorySearchInput,
  options: SearchOptions,
): Promise<StatementParts> {
  const input = parseInput(MemorySearchInput, raw);
  const mode = resolveMode(input);
  const weights = { vector: input.weights?.vector ?? 1, text: input.weights?.text ?? 1 };

  if ((mode === "text" || mode === "hybrid") && input.query === undefined) {
    throw new Invalid(`A ${mode} search needs a text query`);
  }
  if (mode === "hybrid" && weights.vector === 0 && weights.text === 0) {
    throw new Invalid("At least one of weights.vector and weights.text must be positive");
  }
  if (input.vector) {
    const problem = vectorProblem(input.vector);
    if (problem)
      throw new Invalid(`The query vector cannot be searched: ${problem}`, [{ path: "vector", message: problem }]);
  }
  if (input.minSimilarity !== undefined && mode === "text" && !input.vector) {
    throw new Invalid("minSimilarity needs a query vector (send `vector`, or use vector or hybrid mode)");
  }
  const filters = input.filters ?? {};
  if (filters.createdAfter && filters.createdBefore && filters.createdAfter >= filters.createdBefore) {
    throw new Invalid("filters.createdAfter must be before filters.createdBefore");
  }

  // The query vector: the client's, or the text query embedded (a text search needs none).
  let vector = input.vector;
  if (!vector && mode !== "text" && input.query !== undefined) {
    [vector] = await embedTexts(options.provider ?? embeddingProvider(), [input.query]);
  }
  return {
    workspaceId: actor.workspaceId,
    mode,
    query: input.query,
    textMatch: input.textMatch ?? defaultTextMatch(mode),
    vector,
    dims: vector ? (vector.length as SupportedDimensions) : undefined,
    pool: candidatePool(input.topK, mode),
    topK: input.topK,
    minSimilarity: input.minSimilarity,
    weights,
    rrfK: input.rrfK,
    filters,
    strategy: options.strategy ?? "auto",
    rerank: input.rerank,
  };
}

interface StatementParts {
  workspaceId: string;
  mode: SearchMode;
  query: string | undefined;
  textMatch: TextMatch;
  vector: number[] | undefined;
  dims: SupportedDimensions | undefined;
  pool: number;
  topK: number;
  minSimilarity: number | undefined;
  weights: { vector: number; text: number };
  rrfK: number;
  filters: z.output<typeof MemorySearchFilters>;
  strategy: VectorStrategy;
  rerank: boolean | undefined;
}

/**
 * The tsquery of a text query, as a one-row SELECT of `query` (and, for `any`, the query's
 * `lexemes`). `any`: the query's lexemes (to_tsvector: stemmed, stop words dropped) OR-ed, each
 * quoted as tsquery input wants (a doubled quote or backslash); a query of stop words alone has no
 * lexemes and matches nothing. `all`: websearch_to_tsquery.
 */
function textQuery(query: string, match: TextMatch): SQL {
  if (match === "all") return sql`select websearch_to_tsquery('english', ${query}) as query`;
  return sql`select lexemes,
      (select string_agg('''' || replace(replace(l, '\\', '\\\\'), '''', '''''') || '''', ' | ')
       from unnest(lexemes) as l)::tsquery as query
    from (select tsvector_to_array(to_tsvector('english', ${query})) as lexemes) as words`;
}

/**
 * The filters every candidate list applies (unqualified columns of `memories`): the one place a
 * search's conditions are built.
 */
function filterConditions(workspaceId: string, filters: z.output<typeof MemorySearchFilters>): SQL[] {
  const tiers = filters.tier ?? ["hot", "warm"];
  const conditions: SQL[] = [sql`workspace_id = ${workspaceId}`, sql`tier in ${tiers}`];
  if (filters.type) conditions.push(sql`type in ${filters.type}`);
  if (filters.sourceType) conditions.push(sql`source_type in ${filters.sourceType}`);
  if (filters.metadata) conditions.push(sql`metadata @> ${JSON.stringify(filters.metadata)}::jsonb`);
  if (filters.createdAfter) conditions.push(sql`created_at >= ${filters.createdAfter.toISOString()}::timestamptz`);
  if (filters.createdBefore) conditions.push(sql`created_at < ${filters.createdBefore.toISOString()}::timestamptz`);
  if (filters.minImportance !== undefined) conditions.push(sql`importance >= ${filters.minImportance}::real`);
  conditions.push(...memoryModelConditions(filters, filters.asOf ? { kind: "at", at: filters.asOf } : { kind: "now" }));
  return conditions;
}

function buildSearchStatement(parts: StatementParts): SQL {
  const { mode, dims, pool } = parts;
  const where = sql.join(filterConditions(parts.workspaceId, parts.filters), sql` and `);
  const ctes: SQL[] = [];
  const useVector = mode !== "text";
  const useText = mode !== "vector";

  if (parts.vector && dims) ctes.push(sql`q as (select ${vectorLiteral(parts.vector)}::${VECTOR_TYPE[dims]} as v)`);
  if (parts.query !== undefined) ctes.push(sql`tq as (${textQuery(parts.query, parts.textMatch)})`);

  if (useVector && dims) {
    const vt = VECTOR_TYPE[dims];
    const distance = sql`embedding::${vt} <=> (select v from q)`;
    const vectorWhere = sql`embedding_dims = ${DIMS_LITERAL[dims]} and ${where}`;
    // The index branch: ORDER BY the indexed expression's distance, ascending, with a LIMIT.
    // It takes INDEX_OVERFETCH times the candidates: a relaxed-order iterative scan returns its
    // batches roughly sorted, so a closer row can come after the cut; vector_ranked re-sorts
    // by distance and keeps the pool.
    const indexBranch = (gate: SQL) =>
      sql`(select id, ${distance} as distance from memories where ${vectorWhere}${gate} order by ${distance} limit ${pool * INDEX_OVERFETCH})`;
    // The exact branch: `+ 0` makes the ordering unusable by the HNSW index, so every row that
    // passes the filter is compared (found through the filter's own indexes where it has some).
    const exactBranch = (gate: SQL) =>
      sql`(select id, ${distance} as distance from memories where ${vectorWhere}${gate} order by (${distance}) + 0 limit ${pool})`;
    if (parts.strategy === "index") {
      ctes.push(sql`vector_hits as ${indexBranch(sql``)}`);
    } else if (parts.strategy === "exact") {
      ctes.push(sql`vector_hits as ${exactBranch(sql``)}`);
    } else {
      ctes.push(
        sql`gate as (select count(*) as n from (select 1 from memories where ${vectorWhere} limit ${EXACT_SCAN_MAX_ROWS + 1}) g)`,
      );
      ctes.push(
        sql`vector_hits as (${indexBranch(sql` and (select n from gate) > ${EXACT_SCAN_MAX_ROWS}`)}
          union all ${exactBranch(sql` and (select n from gate) <= ${EXACT_SCAN_MAX_ROWS}`)})`,
      );
    }
    // Relaxed-order index scans may return neighbours slightly out of order: rank by distance.
    ctes.push(sql`vector_ranked as (
      select id, distance, rank
      from (select id, distance, row_number() over (order by distance, id) as rank from vector_hits) ranked
      where rank <= ${pool})`);
  }
  if (useText) {
    // The matches come from cairn_text_matches (migration 0010), which reaches the GIN index
    // on search_vector; as a plain condition here, row-level security would keep the index out
    // (`@@` is not leakproof) and every row of the workspace would be read. Its ids are looked up
    // by primary key, and the filters apply here, as in the vector branches.
    const matched =
      parts.textMatch === "any"
        ? sql`length(search_vector) - length(ts_delete(search_vector, (select lexemes from tq)))`
        : sql`0`;
    ctes.push(sql`text_hits as (
      select id, ${matched} as matched, ts_rank_cd(search_vector, (select query from tq), 32) as rank_value
      from memories
      where ${where} and id = any(array(select cairn_text_matches((select query from tq))))
      order by matched desc, rank_value desc, id
      limit ${pool})`);
    ctes.push(
      sql`text_ranked as (select id, rank_value, row_number() over (order by matched desc, rank_value desc, id) as rank from text_hits)`,
    );
  }

  const wv = sql`${parts.weights.vector}::float8`;
  const wt = sql`${parts.weights.text}::float8`;
  const k = sql`${parts.rrfK}::float8`;
  if (useVector && useText) {
    ctes.push(sql`fused as (
      select coalesce(v.id, t.id) as id, v.distance, t.rank_value,
             coalesce(${wv} / (${k} + v.rank), 0) + coalesce(${wt} / (${k} + t.rank), 0) as score
      from vector_ranked v full outer join text_ranked t on t.id = v.id)`);
  } else if (useVector) {
    ctes.push(
      sql`fused as (select id, distance, null::float8 as rank_value, 1 / (${k} + rank) as score from vector_ranked)`,
    );
  } else {
    ctes.push(
      sql`fused as (select id, null::float8 as distance, rank_value, 1 / (${k} + rank) as score from text_ranked)`,
    );
  }

  // A candidate's similarity and text rank, as its list computed them; computed here only for a
  // hybrid candidate found by the other list alone (coalesce evaluates its second argument only
  // then), so no embedding is read twice.
  const similarity =
    parts.vector && dims
      ? sql`coalesce(1 - f.distance, case when m.embedding_dims = ${DIMS_LITERAL[dims]} then 1 - (m.embedding::${VECTOR_TYPE[dims]} <=> (select v from q)) end)`
      : sql`null::float8`;
  const textRank =
    parts.query !== undefined
      ? sql`coalesce(f.rank_value, ts_rank_cd(m.search_vector, (select query from tq), 32))::float8`
      : sql`null::float8`;
  const minSimilarity =
    parts.minSimilarity !== undefined ? sql`where s.similarity >= ${parts.minSimilarity}::float8` : sql``;

  // The fused ids are looked up by primary key (`= any(array(...))`): joined to the CTE, the
  // planner misjudges its size and scans memories.
  ctes.push(sql`scored as (
    select ${RESULT_COLUMNS}, ${similarity} as similarity, ${textRank} as text_rank, f.score
    from memories m join fused f on f.id = m.id
    where m.id = any(array(select id from fused)) and m.workspace_id = ${parts.workspaceId})`);
  ctes.push(sql`top as (
    select * from scored s ${minSimilarity}
    order by s.score desc, s.similarity desc nulls last, s.id
    limit ${parts.topK})`);
  // Access counting in the same statement (no second round trip; it commits with the read), in
  // memory_access, never in memories: a HOT update of a narrow row per returned memory, or a
  // first-access insert. SKIP LOCKED: a search never waits for (or deadlocks with) another
  // transaction counting the same memory; that memory is still returned, this access goes
  // uncounted. Access counts are a ranking signal, not a ledger. First accesses insert in id
  // order, so two searches inserting the same new rows wait for each other without deadlock.
  ctes.push(sql`counted as (
    update memory_access a set access_count = a.access_count + 1, last_accessed_at = now()
    where a.memory_id in (
      select memory_id from memory_access
      where workspace_id = ${parts.workspaceId} and memory_id in (select id from top)
      for no key update skip locked)
    returning a.memory_id, a.access_count, a.last_accessed_at)`);
  ctes.push(sql`first_counted as (
    insert into memory_access (memory_id, workspace_id, access_count, last_accessed_at)
    select top.id, ${parts.workspaceId}::uuid, 1, now() from top
    where not exists (select 1 from memory_access a where a.memory_id = top.id)
    order by top.id
    on conflict (memory_id) do nothing
    returning memory_id, access_count, last_accessed_at)`);

  return sql`with ${sql.join(ctes, sql`, `)}
    select top.*,
           coalesce(c.access_count, f.access_count, seen.access_count, 0) as access_count,
           coalesce(c.last_accessed_at, f.last_accessed_at, seen.last_accessed_at) as last_accessed_at
    from top
    left join counted c on c.memory_id = top.id
    left join first_counted f on f.memory_id = top.id
    left join memory_access seen on seen.memory_id = top.id
    order by top.score desc, top.similarity desc nulls last, top.id`;
}
