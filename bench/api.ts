import { allRouters } from "../functions/routers.js";
import { createApp } from "../functions/shared/app.js";
import { claimWorkItems } from "../functions/work-orders/claims.js";
import { corpusSize } from "./cairn-adapter.js";
import { fmt } from "./lib/results.js";
import type { Section } from "./lib/section.js";
import { now, timePairs } from "./lib/stats.js";

/**
 * 6. API overhead: p50 of a vector search and of a claim through the Hono app in-process
 * (`app.request`: routing, body limit, API-key authentication — checked in the set-up statement —,
 * zod validation, the domain call, JSON response) versus the domain call alone in a tenant
 * transaction. Same database handle (Neon driver through the WS proxy) for both; the two are
 * timed in alternation, call by call (`timePairs`).
 */
export const apiSection: Section = {
  name: "api",
  title: "API overhead (Hono app.request vs domain call)",
  budgetSeconds: { quick: 30, full: 50 },
  async run(ctx) {
    const cairn = ctx.cairn;
    const size = corpusSize(ctx.options.quick);
    const corpus = await cairn.corpus(size.rows, size.queries);
    const database = cairn.database;
    const app = createApp({ database: async () => database, routers: Object.values(allRouters) });
    const samples = ctx.options.quick ? 100 : 200;
    const warmup = 5;
    // At least 8 s for each side: a pair of loops gets 16 s.
    const deadline = () => Math.max(ctx.deadline, now() + 16_000);

    // Search: the corpus's query vectors, vector mode, top 10.
    const ws = corpus.main;
    const idx = Array.from({ length: samples }, (_, i) => i % corpus.queries.length);
    const input = (i: number) => ({ vector: Array.from(corpus.queries[i]), topK: 10, mode: "vector" as const });
    const request = async (path: string, key: string, body: unknown) => {
      const res = await app.request(path, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return res.json() as Promise<Record<string, unknown>>;
    };
    // Each pair of calls is timed side by side (timePairs): one loop after the other would give
    // the second loop warmer caches, or another share of a loaded machine, and a shorter queue.
    const search = await timePairs(
      idx,
      async (i) => ((await request("/v1/memories/search", ws.key, input(i))).results as unknown[]).length,
      async (i) => (await cairn.search({ workspaceId: ws.workspaceId, input: input(i) })).length,
      { warmup, deadline: deadline() },
    );
    const apiSearch = search.first;
    const domainSearch = search.second;

    // Claim: one item per call from a queue of QUEUED items, which both sides drain.
    const queue = await cairn.seedQueue(2 * (samples + warmup));
    const tenant = { workspaceId: queue.workspaceId, userId: queue.userId };
    const claims = Array.from({ length: samples }, (_, i) => i);
    const claim = await timePairs(
      claims,
      async () =>
        ((await request("/v1/work-items/claim", queue.key, { workerId: "api", limit: 1 })).items as unknown[]).length,
      async () =>
        (await database.withTenant(tenant, (tx) => claimWorkItems(tx, queue.actor, { workerId: "domain", limit: 1 })))
          .length,
      { warmup, deadline: deadline() },
    );
    const apiClaim = claim.first;
    const domainClaim = claim.second;
    if (search.truncated || claim.truncated) ctx.partial = true;
    const empty = [...apiClaim.results, ...domainClaim.results].filter((n) => n !== 1).length;
    if (empty) {
      ctx.failed = true;
      ctx.messages.push(`${empty} claims returned no item`);
    }
    console.log(
      `  search: app.request p50 ${fmt(apiSearch.summary.p50)} ms vs domain ${fmt(domainSearch.summary.p50)} ms; claim: ${fmt(apiClaim.summary.p50)} vs ${fmt(domainClaim.summary.p50)} ms`,
    );
    ctx.recorder.row({
      section: "api",
      scenario: "vector search through app.request vs searchMemories alone: p50",
      cairn: { value: apiSearch.summary.p50, unit: "ms", label: `p95 ${fmt(apiSearch.summary.p95)} ms` },
      baseline: { value: domainSearch.summary.p50, unit: "ms", label: "domain call in withTenant" },
      better: "lower",
      notes: `+${fmt(apiSearch.summary.p50 - domainSearch.summary.p50)} ms: the key re-checked in the set-up statement, 768-number JSON body parsed and validated, response serialised`,
    });
    ctx.recorder.row({
      section: "api",
      scenario: "claim (limit 1) through app.request vs claimWorkItems alone: p50",
      cairn: { value: apiClaim.summary.p50, unit: "ms", label: `p95 ${fmt(apiClaim.summary.p95)} ms` },
      baseline: { value: domainClaim.summary.p50, unit: "ms", label: "domain call in withTenant" },
      better: "lower",
      notes: `+${fmt(apiClaim.summary.p50 - domainClaim.summary.p50)} ms per call`,
    });
    return {
      apiSearch: apiSearch.summary,
      domainSearch: domainSearch.summary,
      apiClaim: apiClaim.summary,
      domainClaim: domainClaim.summary,
    };
  },
};
