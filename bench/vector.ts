import pg from "pg";
import { EXACT_SCAN_MAX_ROWS, type MemorySearchInput, searchSettings } from "../functions/memory/search.js";
import type { Corpus, SearchCall } from "./cairn-adapter.js";
import { exactTopK } from "./lib/exact.js";
import { fmt } from "./lib/results.js";
import type { Section } from "./lib/section.js";
import { type LatencySummary, mean, now, recallAtK, timeEach } from "./lib/stats.js";
import { toVectorLiteral } from "./lib/vectors.js";

/**
 * 2. Vector search on Cairn's own `memories` table (100,000 seeded clustered 768-dim vectors
 * in one workspace + 1% in a second; quick: 20,000): recall@10 against exact search computed
 * in the same run, p50/p95 latency and single-client QPS of `searchMemories` with HNSW at
 * ef_search 40/100/200 (and Cairn's default, from `searchSettings`), versus the exact scan (the same statement with `strategy: "exact"`,
 * whose ordering the index cannot serve). Then the filtered cases — the 1% workspace and a
 * metadata filter keeping 1% — with iterative index scans off and on (relaxed_order), and
 * with Cairn's default (the statement's own gate picks an exact scan for ≤ 1,000 rows).
 *
 * Ground truth is brute force in JS over the float32 values stored, cross-checked against
 * the server's exact scan. A raw-SQL `ORDER BY embedding <=> q LIMIT 10` on the same index,
 * over node-postgres, is the lower bound for Cairn's statement + transaction + driver.
 */
const k = 10;
const MAIN = 0;
const SMALL = 1;
const RARE = 2;

interface Sizes {
  rows: number;
  queries: number;
  /** Queries for which the exact scan of the main workspace (~1 s each at 100k) is timed. */
  exactTimed: number;
}

export const vectorSection: Section = {
  name: "vector",
  title: "Vector search on Cairn's memories (HNSW vs exact, filtered with/without iterative scans)",
  budgetSeconds: { quick: 150, full: 420 },
  async run(ctx) {
    const sizes: Sizes = ctx.options.quick
      ? { rows: 20_000, queries: 50, exactTimed: 10 }
      : { rows: 100_000, queries: 100, exactTimed: 20 };
    const cairn = ctx.cairn;
    await dropOldPlainTable(ctx.options.databaseUrl);
    const corpus = await cairn.corpus(sizes.rows, sizes.queries);
    const details: Record<string, unknown> = {
      ...sizes,
      stored: corpus.rows,
      smallWorkspace: corpus.smallRows,
      rareRows: corpus.rareRows,
      load: corpus.load,
    };

    const tt = now();
    const truth = groundTruth(corpus);
    details.groundTruthSeconds = (now() - tt) / 1000;
    console.log(
      `  exact top-${k} in JS for ${corpus.queries.length} queries × 3 filters: ${fmt(details.groundTruthSeconds as number)} s`,
    );

    const qs = corpus.queries.map((q) => Array.from(q));
    const main = corpus.main.workspaceId;
    const small = corpus.small.workspaceId;
    const vectorInput = (i: number, filters?: MemorySearchInput["filters"]): MemorySearchInput => ({
      vector: qs[i],
      topK: k,
      mode: "vector",
      ...(filters ? { filters } : {}),
    });
    const idx = qs.map((_, i) => i);
    const recallOf = (t: string[][], found: string[][]) => mean(found.map((f, i) => recallAtK(t[i], f, k)));
    const phase = () => Math.max(ctx.deadline, now() + 15_000);

    // Exact scans: the baseline for latency and the cross-check of the JS ground truth.
    const exactMain = await timeEach(
      idx.slice(0, sizes.exactTimed),
      (i) => cairn.search({ workspaceId: main, input: vectorInput(i), strategy: "exact" }),
      { warmup: 1 },
    );
    const exactSmall = await timeEach(
      idx,
      (i) => cairn.search({ workspaceId: small, input: vectorInput(i), strategy: "exact" }),
      { warmup: 2 },
    );
    const rareFilter = { metadata: corpus.rareFilter };
    const exactRare = await timeEach(
      idx,
      (i) => cairn.search({ workspaceId: main, input: vectorInput(i, rareFilter), strategy: "exact" }),
      { warmup: 2 },
    );
    const agreement = {
      main: recallOf(truth[MAIN], exactMain.results),
      smallWorkspace: recallOf(truth[SMALL], exactSmall.results),
      metadata: recallOf(truth[RARE], exactRare.results),
    };
    details.exact = {
      main: exactMain.summary,
      smallWorkspace: exactSmall.summary,
      metadata: exactRare.summary,
      agreementWithJsGroundTruth: agreement,
    };
    console.log(
      `  Cairn exact scan: main p50 ${fmt(exactMain.summary.p50)} ms (${exactMain.summary.count} q), 1% workspace ${fmt(exactSmall.summary.p50)} ms, 1% metadata ${fmt(exactRare.summary.p50)} ms; ` +
        `recall vs JS ground truth ${fmt(agreement.main)} / ${fmt(agreement.smallWorkspace)} / ${fmt(agreement.metadata)}`,
    );
    if (agreement.main < 0.99 || agreement.smallWorkspace < 0.99 || agreement.metadata < 0.99) {
      ctx.messages.push("JS ground truth disagrees with the server's exact scan above 1%");
    }

    // Raw SQL on the same table and index: the lower bound at each ef_search.
    const defaultEf = Number(searchSettings(vectorInput(0))["hnsw.ef_search"]);
    const efs = [...new Set([40, 100, 200, defaultEf])].sort((a, b) => a - b);
    const raw = await rawHnsw(cairn.url, corpus, truth[MAIN], efs, phase);

    const hnsw: Record<string, unknown> = {};
    for (const ef of efs) {
      const call = (i: number): SearchCall => ({
        workspaceId: main,
        input: vectorInput(i),
        settings: { "hnsw.ef_search": String(ef) },
      });
      const run = await timeEach(idx, (i) => cairn.search(call(i)), { warmup: 3, deadline: phase() });
      const recall = recallOf(truth[MAIN], run.results);
      const r = raw[ef];
      hnsw[`ef${ef}`] = { recall, ...run.summary, plan: await cairn.plan(call(0)), raw: r };
      if (run.truncated) ctx.partial = true;
      ctx.recorder.row({
        section: "vector",
        scenario: `HNSW ef_search=${ef} vs exact scan, ${fmt(corpus.rows)} rows: p50 (recall@10 ${fmt(recall)} vs 1)`,
        cairn: {
          value: run.summary.p50,
          unit: "ms",
          label: `p95 ${fmt(run.summary.p95)} ms, ${fmt(run.summary.qps)} q/s`,
        },
        baseline: { value: exactMain.summary.p50, unit: "ms", label: `exact scan, ${fmt(exactMain.summary.qps)} q/s` },
        better: "lower",
        notes: `raw SQL ORDER BY … LIMIT on the same index: p50 ${fmt(r.summary.p50)} ms, recall ${fmt(r.recall)}`,
      });
    }
    const byDefault = hnsw[`ef${defaultEf}`] as LatencySummary & { recall: number };
    ctx.recorder.row({
      section: "vector",
      scenario: `searchMemories (default settings, ef_search=${defaultEf}) vs raw SQL on the same index: p50`,
      cairn: { value: byDefault.p50, unit: "ms", label: `recall ${fmt(byDefault.recall)}` },
      baseline: {
        value: raw[defaultEf].summary.p50,
        unit: "ms",
        label: `raw SQL over node-postgres, recall ${fmt(raw[defaultEf].recall)}`,
      },
      better: "lower",
      notes:
        "Cairn: a tenant transaction (BEGIN, set-up, statement, COMMIT) over the Neon driver and WS proxy; the statement also counts the access of each result (memory_access)",
    });
    details.hnsw = hnsw;

    // Filtered searches.
    const filtered: Record<string, unknown> = {};
    const cases = [
      {
        name: "1% workspace",
        rows: corpus.smallRows,
        ws: small,
        filters: undefined,
        truth: truth[SMALL],
        exact: exactSmall.summary,
      },
      {
        name: "1% metadata filter",
        rows: corpus.rareRows,
        ws: main,
        filters: rareFilter,
        truth: truth[RARE],
        exact: exactRare.summary,
      },
      {
        // The same rows as the metadata filter, selected by their subject (user_id).
        name: "1% subject filter (userId)",
        rows: corpus.rareRows,
        ws: main,
        filters: corpus.rareSubject,
        truth: truth[RARE],
        exact: exactRare.summary,
      },
    ];
    for (const c of cases) {
      const byMode: Record<string, unknown> = {};
      const modes: { label: string; strategy: "index" | "auto"; settings: Record<string, string> }[] = [
        { label: "HNSW, iterative scan off", strategy: "index", settings: { "hnsw.iterative_scan": "off" } },
        { label: "HNSW, iterative scan relaxed_order", strategy: "index", settings: {} },
        { label: "Cairn default (auto)", strategy: "auto", settings: {} },
      ];
      for (const m of modes) {
        const call = (i: number): SearchCall => ({
          workspaceId: c.ws,
          input: vectorInput(i, c.filters),
          settings: m.settings,
          strategy: m.strategy,
        });
        const run = await timeEach(idx, (i) => cairn.search(call(i)), { warmup: 3, deadline: phase() });
        const recall = recallOf(c.truth, run.results);
        const returned = mean(run.results.map((r) => r.length));
        const plan = await cairn.plan(call(0));
        byMode[m.label] = { recall, avgReturned: returned, ...run.summary, plan };
        if (run.truncated) ctx.partial = true;
        const auto = m.strategy === "auto";
        ctx.recorder.row({
          section: "vector",
          scenario: `${c.name} (${fmt(c.rows)} rows), ${m.label}: p50 (recall@10 ${fmt(recall)} vs 1)`,
          cairn: { value: run.summary.p50, unit: "ms", label: `${fmt(returned)} rows returned on avg` },
          baseline: { value: c.exact.p50, unit: "ms", label: "exact scan" },
          better: "lower",
          notes: auto
            ? `the statement's gate counts the rows passing the filter: ≤ ${EXACT_SCAN_MAX_ROWS} → exact scan, else the index with iterative scan`
            : `ef_search ${defaultEf} (Cairn's default); plan: ${plan.split(" / ").find((p) => /hnsw|Index/.test(p)) ?? plan}`,
        });
      }
      filtered[c.name] = byMode;
    }
    details.filtered = filtered;

    // A subject's memories against the whole workspace, same run, same default settings.
    const subject = (filtered["1% subject filter (userId)"] as Record<string, LatencySummary & { recall: number }>)[
      "Cairn default (auto)"
    ];
    if (subject) {
      ctx.recorder.row({
        section: "vector",
        scenario: `subject-filtered search (userId, 1% of ${fmt(corpus.rows)} rows) vs unfiltered: p50 (recall@10 ${fmt(subject.recall)} vs ${fmt(byDefault.recall)})`,
        cairn: { value: subject.p50, unit: "ms", label: `p95 ${fmt(subject.p95)} ms, recall ${fmt(subject.recall)}` },
        baseline: {
          value: byDefault.p50,
          unit: "ms",
          label: `unfiltered, p95 ${fmt(byDefault.p95)} ms, recall ${fmt(byDefault.recall)}`,
        },
        better: "lower",
        notes:
          "both searchMemories with default settings; the subject filter uses memories_user_idx and the exact-scan gate",
      });
    }
    return details;
  },
};

/** The benchmark used to load a duplicate plain pgvector table; it is gone, drop a leftover. */
async function dropOldPlainTable(benchUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: benchUrl });
  await client.connect();
  await client.query("drop schema if exists bench_vector cascade").finally(() => client.end());
}

function groundTruth(corpus: Corpus): string[][][] {
  const total = corpus.ids.length;
  const rows = exactTopK(
    corpus.data,
    corpus.dimensions,
    total,
    corpus.queries,
    3,
    (row) => {
      if (!corpus.ids[row]) return [];
      if (corpus.workspace[row] === 1) return [SMALL];
      return corpus.source[row] === 7 ? [MAIN, RARE] : [MAIN];
    },
    k,
  );
  return rows.map((perQuery) => perQuery.map((ids) => ids.map((row) => corpus.ids[row])));
}

/** `select id … order by embedding::vector(768) <=> q limit 10` over node-postgres, per ef_search. */
async function rawHnsw(
  appUrl: string,
  corpus: Corpus,
  truth: string[][],
  efs: number[],
  phase: () => number,
): Promise<Record<number, { recall: number; summary: LatencySummary }>> {
  const client = new pg.Client({ connectionString: appUrl, application_name: "cairn-bench-raw-vector" });
  await client.connect();
  const out: Record<number, { recall: number; summary: LatencySummary }> = {};
  try {
    const literals = corpus.queries.map(toVectorLiteral);
    const text = `select id from memories where workspace_id = $2 and embedding_dims = 768
                  order by embedding::vector(768) <=> $1::vector(768) limit ${k}`;
    for (const ef of efs) {
      await client.query(`set hnsw.ef_search = ${ef}`);
      const run = await timeEach(
        corpus.queries.map((_, i) => i),
        async (i) =>
          (
            await client.query<{ id: string }>({
              name: "raw_knn",
              text,
              values: [literals[i], corpus.main.workspaceId],
            })
          ).rows.map((r) => r.id),
        { warmup: 3, deadline: phase() },
      );
      out[ef] = { recall: mean(run.results.map((f, i) => recallAtK(truth[i], f, k))), summary: run.summary };
    }
  } finally {
    await client.end();
  }
  return out;
}
