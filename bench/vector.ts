import pg from "pg";
import type { Section, SectionContext } from "./lib/section.js";
import { fmt } from "./lib/results.js";
import { mean, now, recallAtK, timeEach } from "./lib/stats.js";
import { ClusteredVectors, binaryArray, defaultVectorOptions, vectorBinary } from "./lib/vectors.js";

/**
 * 2. Vector search on a plain pgvector table: recall@10 (against exact search computed in
 * the same run), p50/p95 latency and single-connection QPS for HNSW at ef_search 40/100/200
 * versus the exact scan; then the filtered cases — a workspace holding 1% of the rows and
 * a metadata filter keeping 1% — with and without iterative index scans (pgvector 0.8).
 *
 * HOOK: when Cairn is wired, `cairn.loadMemories` + `cairn.searchVector` run the same
 * queries and their recall/latency are reported next to these plain-table figures.
 */
const schema = "bench_vector";
const k = 10;
const mainWorkspace = 1;
const smallWorkspace = 2;
/** 100 metadata sources, so `metadata @> '{"source":"s7"}'` keeps 1% of the rows. */
const sources = 100;
const rareSourceIndex = 7;
const rareSource = `s${rareSourceIndex}`;

/** Each query phase may run at least 20 s even when the section's budget is spent, so recall is never computed from a handful of queries. */
const phaseDeadline = (ctxDeadline?: number) => Math.max(ctxDeadline ?? 0, now() + 20_000);

interface Sizes {
  rows: number;
  queries: number;
  /** Queries for which the server's exact scan is timed (and cross-checked). */
  exactTimed: number;
}

interface Dataset {
  rows: number;
  smallWorkspaceRows: number;
  dimensions: number;
  /** All vectors back to back, row i at [i·dim, (i+1)·dim); row i has id i. */
  data: Float32Array;
  workspace: Uint8Array;
  source: Uint8Array;
}

export const vectorSection: Section = {
  name: "vector",
  title: "Vector search (HNSW vs exact, filtered with/without iterative scans)",
  budgetSeconds: { quick: 120, full: 480 },
  async run(ctx) {
    const sizes: Sizes = ctx.options.quick ? { rows: 20_000, queries: 50, exactTimed: 20 } : { rows: 100_000, queries: 100, exactTimed: 20 };
    const details: Record<string, unknown> = { ...sizes, dimensions: defaultVectorOptions.dimensions, clusters: defaultVectorOptions.clusters };
    const client = new pg.Client({ connectionString: ctx.options.databaseUrl, application_name: "cairn-bench-vector" });
    await client.connect();
    try {
      const gen = new ClusteredVectors();
      const t0 = now();
      const loaded = await load(client, gen, sizes.rows);
      details.load = { rows: loaded.rows, smallWorkspaceRows: loaded.smallWorkspaceRows, seconds: (now() - t0) / 1000 };
      console.log(`  loaded ${loaded.rows} vectors in ${((now() - t0) / 1000).toFixed(1)} s`);

      const queries = Array.from({ length: sizes.queries }, () => gen.next().vector);
      const qbufs = queries.map(vectorBinary);

      // Ground truth: exact top-10 by brute force in JS over the same float32 data (cosine
      // distance on unit vectors = 1 − dot). Scanning 100k × 768 on the server takes ~0.5 s
      // a query here, so the server's exact scan is timed on a subset only, which also
      // cross-checks the JS answers against pgvector's own.
      const tt = now();
      const { main: truthMain, smallWorkspace: truthWs, metadata: truthMeta } = bruteForceAll(loaded, queries);
      details.groundTruthSeconds = (now() - tt) / 1000;
      console.log(`  exact top-${k} for ${queries.length} queries × 3 filters in JS: ${fmt((now() - tt) / 1000)} s`);

      const timedExact = qbufs.slice(0, sizes.exactTimed);
      const exactDeadline = now() + (ctx.deadline - now()) * 0.25;
      const exact = await timeEach(timedExact, (q) => topK(client, mainSql(), q), { warmup: 1, deadline: exactDeadline });
      const exactWs = await timeEach(timedExact, (q) => topK(client, smallWorkspaceSql(), q), { warmup: 1 });
      const exactMeta = await timeEach(timedExact, (q) => topK(client, metadataSql(), q), { warmup: 1 });
      const agreement = {
        main: mean(exact.results.map((r, i) => recallAtK(truthMain[i]!, r, k))),
        smallWorkspace: mean(exactWs.results.map((r, i) => recallAtK(truthWs[i]!, r, k))),
        metadata: mean(exactMeta.results.map((r, i) => recallAtK(truthMeta[i]!, r, k))),
      };
      details.exact = {
        main: exact.summary,
        smallWorkspace: exactWs.summary,
        metadata: exactMeta.summary,
        agreementWithJsGroundTruth: agreement,
        plan: await planOf(client, mainSql(), qbufs[0]!),
      };
      console.log(
        `  exact scan (server): p50 ${fmt(exact.summary.p50)} ms, p95 ${fmt(exact.summary.p95)} ms over ${exact.summary.count} queries; ` +
          `agreement with JS ground truth ${fmt(agreement.main)} / ${fmt(agreement.smallWorkspace)} / ${fmt(agreement.metadata)}`,
      );
      if (agreement.main < 0.99 || agreement.smallWorkspace < 0.99 || agreement.metadata < 0.99) {
        ctx.messages.push("JS ground truth disagrees with pgvector exact scan above 1%");
      }
      const nq = qbufs.length;

      // Index build, timed: it decides whether the full run fits in the 15-minute budget.
      await client.query("set maintenance_work_mem = '1GB'");
      await client.query("set max_parallel_maintenance_workers = 1"); // leader + 1 worker = the 2 cores
      const tb = now();
      await client.query(`create index items_embedding_hnsw on ${schema}.items using hnsw (embedding vector_cosine_ops) with (m = 16, ef_construction = 64)`);
      const buildSeconds = (now() - tb) / 1000;
      await client.query(`analyze ${schema}.items`);
      const { rows: sizeRows } = await client.query<{ size: string }>(
        `select pg_size_pretty(pg_relation_size('${schema}.items_embedding_hnsw')) as size`,
      );
      details.indexBuild = { seconds: buildSeconds, size: sizeRows[0]!.size, m: 16, efConstruction: 64, parallelWorkers: 1, maintenanceWorkMem: "1GB" };
      console.log(`  HNSW build (m=16, ef_construction=64): ${buildSeconds.toFixed(1)} s, ${sizeRows[0]!.size}`);
      ctx.recorder.row({
        section: "vector",
        scenario: `HNSW index build, ${loaded.rows.toLocaleString("en-US")} × ${defaultVectorOptions.dimensions}`,
        cairn: null,
        baseline: { value: buildSeconds, unit: "s", label: "plain table, m=16 ef_c=64" },
        better: "lower",
        notes: `index ${sizeRows[0]!.size}; load ${fmt(loaded.rows / (details.load as { seconds: number }).seconds)} rows/s`,
      });

      const truth = truthMain;

      // Unfiltered HNSW at three ef_search settings.
      const hnsw: Record<string, unknown> = {};
      for (const ef of [40, 100, 200]) {
        await client.query(`set hnsw.ef_search = ${ef}`);
        const run = await timeEach(qbufs.slice(0, nq), (q) => topK(client, mainSql(), q), { warmup: 3, deadline: phaseDeadline(ctx.deadline) });
        const recall = mean(run.results.map((found, i) => recallAtK(truth[i]!, found, k)));
        hnsw[`ef${ef}`] = { recall, ...run.summary, plan: await planOf(client, mainSql(), qbufs[0]!) };
        if (run.truncated) ctx.partial = true;
        ctx.recorder.row({
          section: "vector",
          scenario: `HNSW ef_search=${ef}: p50 latency (recall@10 ${fmt(recall)})`,
          cairn: null,
          baseline: { value: run.summary.p50, unit: "ms p50", label: `plain HNSW, p95 ${fmt(run.summary.p95)} ms, ${fmt(run.summary.qps)} q/s` },
          better: "lower",
          notes: `exact scan p50 ${fmt(exact.summary.p50)} ms / ${fmt(exact.summary.qps)} q/s (${exact.summary.count} queries); HNSW is ${fmt(exact.summary.p50 / run.summary.p50)}× faster at recall ${fmt(recall)}`,
        });
      }
      details.hnsw = hnsw;
      await client.query("reset hnsw.ef_search");

      // Filtered: HNSW alone post-filters its ef_search candidates, so a 1% filter leaves
      // almost nothing; iterative scans keep walking the graph until k rows pass the filter.
      const filtered: Record<string, unknown> = {};
      const cases = [
        { name: "1% workspace", sql: smallWorkspaceSql, forcedSql: smallWorkspaceNoBtreeSql, truth: truthWs, exact: exactWs.summary },
        { name: "1% metadata filter", sql: metadataSql, forcedSql: metadataNoBtreeSql, truth: truthMeta, exact: exactMeta.summary },
      ];
      // Force the HNSW index (seq scan off; `workspace_id + 0` keeps the btree out) so the
      // figures are about the index, whatever the planner would pick on this data size.
      for (const c of cases) {
        const byMode: Record<string, unknown> = {};
        for (const mode of ["off", "relaxed_order"] as const) {
          await client.query(`set hnsw.iterative_scan = ${mode}`);
          await client.query("set enable_seqscan = off");
          const run = await timeEach(qbufs.slice(0, nq), (q) => topK(client, c.forcedSql(), q), { warmup: 3, deadline: phaseDeadline(ctx.deadline) });
          const recall = mean(run.results.map((found, i) => recallAtK(c.truth[i]!, found, k)));
          const returned = mean(run.results.map((r) => r.length));
          const plan = await planOf(client, c.forcedSql(), qbufs[0]!);
          await client.query("reset enable_seqscan");
          // What the planner picks on its own with this setting (recorded, not timed).
          const plannerChoice = await planOf(client, c.sql(), qbufs[0]!);
          byMode[mode] = { recall, avgReturned: returned, ...run.summary, plan, plannerChoice };
          if (run.truncated) ctx.partial = true;
          ctx.recorder.row({
            section: "vector",
            scenario: `${c.name}, HNSW ef_search=40, iterative_scan=${mode}: p50 (recall@10 ${fmt(recall)})`,
            cairn: null,
            baseline: { value: run.summary.p50, unit: "ms p50", label: `plain HNSW, ${fmt(returned)} rows returned on avg` },
            better: "lower",
            notes: `exact (filtered) p50 ${fmt(c.exact.p50)} ms, recall 1; planner alone picks: ${plannerChoice}`,
          });
        }
        filtered[c.name] = byMode;
      }
      await client.query("reset hnsw.iterative_scan");
      details.filtered = filtered;

      await cairnSide(ctx, details);
      return details;
    } finally {
      await client.end();
    }
  },
};

/** Cairn's search on the same data and queries; skipped (partial) until the adapter is wired. */
async function cairnSide(ctx: SectionContext, details: Record<string, unknown>): Promise<void> {
  if (!ctx.cairn.wired) {
    ctx.partial = true;
    ctx.messages.push("Cairn not wired");
    return;
  }
  // HOOK: generate the same dataset as BenchMemory rows (same seed), cairn.loadMemories(...),
  // run cairn.searchVector for the same queries, record recall against `truth` and latency
  // next to the plain HNSW figures above.
  details.cairn = "not implemented";
}

async function load(client: pg.Client, gen: ClusteredVectors, rows: number): Promise<Dataset> {
  await client.query(`drop schema if exists ${schema} cascade`);
  await client.query(`create schema ${schema}`);
  await client.query(`
    create table ${schema}.items (
      id int primary key,
      workspace_id int not null,
      metadata jsonb not null,
      embedding vector(${gen.options.dimensions}) not null
    )`);
  await client.query(`create index items_workspace on ${schema}.items (workspace_id)`);
  const { rows: oidRows } = await client.query<{ oid: number }>("select 'vector'::regtype::oid::int as oid");
  const vectorOid = oidRows[0]!.oid;

  // The main workspace gets `rows` vectors, the small one another 1%, interleaved as they
  // would arrive. Batches are sent as one `vector[]` parameter in binary form; the next
  // batch is generated while the server inserts the previous one.
  const smallWorkspaceRows = Math.round(rows * 0.01);
  const total = rows + smallWorkspaceRows;
  const dim = gen.options.dimensions;
  const data = new Float32Array(total * dim);
  const workspace = new Uint8Array(total);
  const source = new Uint8Array(total);
  const batchSize = 1000;
  const insertSql = `insert into ${schema}.items (id, workspace_id, metadata, embedding)
    select * from unnest($1::int[], $2::int[], $3::jsonb[], $4::vector[])`;
  let pending: Promise<unknown> | undefined;
  let smallLeft = smallWorkspaceRows;
  for (let from = 0; from < total; from += batchSize) {
    const ids: number[] = [];
    const workspaces: number[] = [];
    const metas: string[] = [];
    const vecs: Buffer[] = [];
    for (let id = from; id < Math.min(total, from + batchSize); id++) {
      const remaining = total - id;
      const small = smallLeft > 0 && gen.random() < smallLeft / remaining;
      if (small) smallLeft--;
      const src = Math.floor(gen.random() * sources);
      const { vector } = gen.next();
      data.set(vector, id * dim);
      workspace[id] = small ? smallWorkspace : mainWorkspace;
      source[id] = src;
      ids.push(id);
      workspaces.push(workspace[id]!);
      metas.push(JSON.stringify({ source: `s${src}` }));
      vecs.push(vectorBinary(vector));
    }
    const params = [ids, workspaces, metas, binaryArray(vecs, vectorOid)];
    if (pending) await pending;
    pending = client.query(insertSql, params);
  }
  if (pending) await pending;
  await client.query(`vacuum analyze ${schema}.items`);
  return { rows: total, smallWorkspaceRows, dimensions: dim, data, workspace, source };
}

/** A running top-k (smallest distances), kept sorted by insertion. */
class TopK {
  readonly ids: number[] = [];
  readonly dist: number[] = [];
  push(id: number, d: number): void {
    const n = this.ids.length;
    if (n === k && d >= this.dist[k - 1]!) return;
    let pos = n === k ? k - 1 : n;
    while (pos > 0 && this.dist[pos - 1]! > d) {
      this.dist[pos] = this.dist[pos - 1]!;
      this.ids[pos] = this.ids[pos - 1]!;
      pos--;
    }
    this.dist[pos] = d;
    this.ids[pos] = id;
  }
}

/**
 * Exact top-k by cosine distance (1 − dot on unit vectors) for every query and every
 * filter at once. Rows are visited in blocks that stay in cache while all queries are
 * scored against them, so the 300 MB of vectors stream from memory once, not once per query.
 */
function bruteForceAll(ds: Dataset, queries: Float32Array[]): { main: string[][]; smallWorkspace: string[][]; metadata: string[][] } {
  const dim = ds.dimensions;
  const data = ds.data;
  const main = queries.map(() => new TopK());
  const ws = queries.map(() => new TopK());
  const meta = queries.map(() => new TopK());
  const block = 128;
  for (let start = 0; start < ds.rows; start += block) {
    const end = Math.min(ds.rows, start + block);
    for (let qi = 0; qi < queries.length; qi++) {
      const q = queries[qi]!;
      for (let row = start; row < end; row++) {
        const off = row * dim;
        let dot = 0;
        for (let j = 0; j < dim; j++) dot += q[j]! * data[off + j]!;
        const d = 1 - dot;
        if (ds.workspace[row] === mainWorkspace) {
          main[qi]!.push(row, d);
          if (ds.source[row] === rareSourceIndex) meta[qi]!.push(row, d);
        } else if (ds.workspace[row] === smallWorkspace) {
          ws[qi]!.push(row, d);
        }
      }
    }
  }
  const ids = (t: TopK[]) => t.map((x) => x.ids.map(String));
  return { main: ids(main), smallWorkspace: ids(ws), metadata: ids(meta) };
}

const mainSql = () => `select id from ${schema}.items where workspace_id = ${mainWorkspace} order by embedding <=> $1::vector limit ${k}`;
const smallWorkspaceSql = () => `select id from ${schema}.items where workspace_id = ${smallWorkspace} order by embedding <=> $1::vector limit ${k}`;
const smallWorkspaceNoBtreeSql = () =>
  `select id from ${schema}.items where workspace_id + 0 = ${smallWorkspace} order by embedding <=> $1::vector limit ${k}`;
const metadataNoBtreeSql = () =>
  `select id from ${schema}.items where workspace_id + 0 = ${mainWorkspace} and metadata @> '{"source":"${rareSource}"}' order by embedding <=> $1::vector limit ${k}`;
const metadataSql = () =>
  `select id from ${schema}.items where workspace_id = ${mainWorkspace} and metadata @> '{"source":"${rareSource}"}' order by embedding <=> $1::vector limit ${k}`;

async function topK(client: pg.Client, sql: string, q: Buffer): Promise<string[]> {
  const res = await client.query<{ id: number }>(sql, [q]);
  return res.rows.map((r) => String(r.id));
}

/** The plan's scan nodes, compactly, e.g. "Index Scan using items_embedding_hnsw". */
async function planOf(client: pg.Client, sql: string, q: Buffer): Promise<string> {
  const res = await client.query<{ "QUERY PLAN": string }>(`explain ${sql}`, [q]);
  return res.rows
    .map((r) => r["QUERY PLAN"].trim().replace(/^->\s*/, ""))
    .filter((l) => /Scan/.test(l))
    .map((l) => l.replace(/\s+\(cost=.*$/, ""))
    .join(" / ");
}
