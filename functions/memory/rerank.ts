/**
 * The rerank hook: an optional reranker over the top candidates of a hybrid search. Off by
 * default. Configured by
 *   - CAIRN_RERANK_URL (+ CAIRN_RERANK_MODEL, CAIRN_RERANK_API_KEY, CAIRN_RERANK_TIMEOUT_MS
 *     [10000]): an endpoint of the `/rerank` shape that OpenAI-compatible model servers (vLLM,
 *     Jina, Hugging Face TEI, Cohere) share — POST `{model, query, documents}` answering
 *     `{results: [{index, relevance_score}]}`; or
 *   - `setReranker(fn)`: a local function, for a server embedding Cairn (and tests).
 * CAIRN_RERANK_TOP_N [50] candidates are fetched (at least `topK`), reranked and cut to `topK`.
 * A search opts out with `rerank: false`. A reranker failure fails the search (502 or 503), as an
 * embedding failure does: results silently not reranked would look the same as reranked ones.
 */
import { z } from "@hono/zod-openapi";
import { UpstreamFailed } from "../shared/errors";

/** Scores each document's relevance to the query (higher is better), in document order. */
export type RerankFunction = (query: string, documents: string[]) => Promise<number[]>;

export interface Reranker {
  rerank: RerankFunction;
  /** How many candidates to rerank. */
  topN: number;
}

export const DEFAULT_RERANK_TOP_N = 50;
const MAX_RERANK_TOP_N = 300;

const RerankConfig = z.object({
  CAIRN_RERANK_URL: z.url().optional(),
  CAIRN_RERANK_MODEL: z.string().min(1).optional(),
  CAIRN_RERANK_API_KEY: z.string().min(1).optional(),
  CAIRN_RERANK_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  CAIRN_RERANK_TOP_N: z.coerce.number().int().min(1).max(MAX_RERANK_TOP_N).default(DEFAULT_RERANK_TOP_N),
});

const RerankResponse = z.object({
  results: z.array(z.object({ index: z.number().int().min(0), relevance_score: z.number() })),
});

/** A reranker calling a `/rerank` endpoint (see the header). */
export function httpReranker(options: {
  url: string;
  model?: string;
  apiKey?: string;
  timeoutMs?: number;
  topN?: number;
}): Reranker {
  const rerank: RerankFunction = async (query, documents) => {
    let response: Response;
    try {
      response = await fetch(options.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
        },
        body: JSON.stringify({ ...(options.model ? { model: options.model } : {}), query, documents }),
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
    } catch (error) {
      throw new UpstreamFailed(`The reranker at ${options.url} could not be reached: ${String(error)}`, true);
    }
    if (!response.ok) {
      throw new UpstreamFailed(
        `The reranker at ${options.url} answered ${response.status}`,
        response.status === 429 || response.status >= 500,
      );
    }
    const parsed = RerankResponse.safeParse(await response.json().catch(() => undefined));
    if (!parsed.success) throw new UpstreamFailed(`The reranker at ${options.url} answered an unknown shape`, false);
    const scores = new Array<number>(documents.length).fill(Number.NEGATIVE_INFINITY);
    for (const { index, relevance_score } of parsed.data.results) {
      if (index < documents.length) scores[index] = relevance_score;
    }
    return scores;
  };
  return { rerank, topN: options.topN ?? DEFAULT_RERANK_TOP_N };
}

let override: Reranker | null | undefined;

/** A local reranker (a function in this process), or `null` for none; `undefined` restores the configuration. */
export function setReranker(reranker: Reranker | null | undefined): void {
  override = reranker;
}

/** The reranker in effect: `setReranker`'s, else the environment's, else none. */
export function configuredReranker(env: NodeJS.ProcessEnv = process.env): Reranker | undefined {
  if (override !== undefined) return override ?? undefined;
  if (!env.CAIRN_RERANK_URL) return undefined;
  const config = RerankConfig.parse(env);
  if (!config.CAIRN_RERANK_URL) return undefined;
  return httpReranker({
    url: config.CAIRN_RERANK_URL,
    model: config.CAIRN_RERANK_MODEL,
    apiKey: config.CAIRN_RERANK_API_KEY,
    timeoutMs: config.CAIRN_RERANK_TIMEOUT_MS,
    topN: config.CAIRN_RERANK_TOP_N,
  });
}

/**
 * Reorders `results` (the top candidates of a search) by the reranker's scores and keeps `topK`;
 * each result gets its `rerankScore`.
 */
export async function rerankResults<T extends { content: string }>(
  reranker: Reranker,
  query: string,
  results: T[],
  topK: number,
): Promise<(T & { rerankScore: number })[]> {
  if (results.length === 0) return [];
  const scores = await reranker.rerank(
    query,
    results.map((result) => result.content),
  );
  if (scores.length !== results.length || scores.some((score) => typeof score !== "number" || Number.isNaN(score))) {
    throw new UpstreamFailed(`The reranker returned ${scores.length} scores for ${results.length} documents`, false);
  }
  return results
    .map((result, index) => ({ ...result, rerankScore: scores[index] ?? Number.NEGATIVE_INFINITY, index }))
    .sort((a, b) => b.rerankScore - a.rerankScore || a.index - b.index)
    .slice(0, topK)
    .map(({ index: _index, ...result }) => result as T & { rerankScore: number });
}
