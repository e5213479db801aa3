import { createHash } from "node:crypto";
import pg from "pg";
import { NotWiredError, type BenchMemory } from "./cairn-adapter.js";
import { MemoryGenerator } from "./lib/memories.js";
import { seededUuid, mulberry32 } from "./lib/random.js";
import { fmt } from "./lib/results.js";
import type { Section } from "./lib/section.js";
import { now } from "./lib/stats.js";
import { ClusteredVectors, binaryArray, vectorBinary } from "./lib/vectors.js";

/**
 * 4. Ingestion: memories per second through one set-based statement per batch versus one
 * INSERT per memory (each its own statement and commit, as a client posting memories one
 * at a time would cause). Both write into a memory-shaped table carrying the indexes a
 * memory table needs: HNSW on the embedding, GIN on the text, unique content hash.
 *
 * Runs on a plain table now; Cairn's batch endpoint statement is measured through
 * `cairn.ingestBatch` / `cairn.ingestOneByOne` once the adapter is wired.
 */
const schema = "bench_ingest";
const batchSize = 500;

export const ingestSection: Section = {
  name: "ingest",
  title: "Ingestion: batch statement vs one INSERT per memory",
  budgetSeconds: { quick: 30, full: 90 },
  async run(ctx) {
    const count = ctx.options.quick ? 1_000 : 5_000;
    const workspaceId = seededUuid(mulberry32(99));
    const memories = makeMemories(count, workspaceId);
    const details: Record<string, unknown> = { count, batchSize };
    const client = new pg.Client({ connectionString: ctx.options.databaseUrl, application_name: "cairn-bench-ingest" });
    await client.connect();
    try {
      const { rows } = await client.query<{ oid: number }>("select 'vector'::regtype::oid::int as oid");
      const vectorOid = rows[0]!.oid;
      const half = () => now() + Math.max(3_000, (ctx.deadline - now()) / 2.5);

      await resetTable(client);
      const batch = await timed(memories, half(), async (slice) => insertBatch(client, slice, vectorOid), batchSize);
      await resetTable(client);
      const single = await timed(memories, half(), async (slice) => {
        for (const m of slice) await insertBatch(client, [m], vectorOid, true);
      }, 50);
      details.plain = { batch, single };
      if (batch.truncated || single.truncated) ctx.partial = true;
      console.log(`  plain table: batch ${fmt(batch.perSecond)}/s (${batch.inserted}), one-by-one ${fmt(single.perSecond)}/s (${single.inserted})`);

      ctx.recorder.row({
        section: "ingest",
        scenario: `plain table: batch statement (${batchSize}/statement) vs one INSERT per memory`,
        cairn: null,
        baseline: { value: batch.perSecond, unit: "memories/s", label: "plain-table batch statement" },
        notes: `one INSERT per memory: ${fmt(single.perSecond)} memories/s (${fmt(batch.perSecond / single.perSecond)}× slower than batch); ${single.inserted} rows timed`,
      });

      let cairnBatch: number | null = null;
      let cairnSingle: number | null = null;
      try {
        const tb = now();
        await ctx.cairn.ingestBatch(memories);
        cairnBatch = memories.length / ((now() - tb) / 1000);
        const other = makeMemories(Math.min(count, 1000), seededUuid(mulberry32(100)));
        const ts = now();
        await ctx.cairn.ingestOneByOne(other);
        cairnSingle = other.length / ((now() - ts) / 1000);
      } catch (err) {
        if (!(err instanceof NotWiredError)) throw err;
        ctx.partial = true;
        ctx.messages.push("Cairn not wired");
      }
      details.cairn = { batch: cairnBatch, single: cairnSingle };
      ctx.recorder.row({
        section: "ingest",
        scenario: "Cairn batch endpoint statement vs one INSERT per memory",
        cairn: cairnBatch === null ? null : { value: cairnBatch, unit: "memories/s" },
        baseline:
          cairnSingle !== null
            ? { value: cairnSingle, unit: "memories/s", label: "Cairn, one INSERT per memory" }
            : { value: single.perSecond, unit: "memories/s", label: "plain table, one INSERT per memory" },
      });
      return details;
    } finally {
      await client.query(`drop schema if exists ${schema} cascade`).catch(() => {});
      await client.end();
    }
  },
};

function makeMemories(count: number, workspaceId: string): BenchMemory[] {
  const gen = new MemoryGenerator(new ClusteredVectors(), 11);
  return Array.from({ length: count }, () => gen.next(workspaceId));
}

async function resetTable(client: pg.Client): Promise<void> {
  await client.query(`drop schema if exists ${schema} cascade`);
  await client.query(`create schema ${schema}`);
  await client.query(`
    create table ${schema}.memories (
      id uuid primary key,
      workspace_id uuid not null,
      content text not null,
      content_hash text not null,
      content_tsv tsvector generated always as (to_tsvector('english', content)) stored,
      embedding vector(768) not null,
      metadata jsonb not null default '{}',
      created_at timestamptz not null default now(),
      unique (workspace_id, content_hash)
    )`);
  await client.query(`create index on ${schema}.memories using hnsw (embedding vector_cosine_ops) with (m = 16, ef_construction = 64)`);
  await client.query(`create index on ${schema}.memories using gin (content_tsv)`);
}

/** One statement for the whole slice; `single` uses the same statement for one row. */
async function insertBatch(client: pg.Client, slice: BenchMemory[], vectorOid: number, single = false): Promise<void> {
  const hash = (s: string) => createHash("sha256").update(s).digest("hex");
  if (single) {
    const m = slice[0]!;
    await client.query({
      name: "ingest_one",
      text: `insert into ${schema}.memories (id, workspace_id, content, content_hash, embedding, metadata)
             values ($1, $2, $3, $4, $5::vector, $6) on conflict (workspace_id, content_hash) do nothing`,
      values: [m.id, m.workspaceId, m.content, hash(m.content), vectorBinary(m.embedding), JSON.stringify(m.metadata)],
    });
    return;
  }
  await client.query({
    name: "ingest_batch",
    text: `insert into ${schema}.memories (id, workspace_id, content, content_hash, embedding, metadata)
           select * from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::vector[], $6::jsonb[])
           on conflict (workspace_id, content_hash) do nothing`,
    values: [
      slice.map((m) => m.id),
      slice.map((m) => m.workspaceId),
      slice.map((m) => m.content),
      slice.map((m) => hash(m.content)),
      binaryArray(slice.map((m) => vectorBinary(m.embedding)), vectorOid),
      slice.map((m) => JSON.stringify(m.metadata)),
    ],
  });
}

async function timed(
  memories: BenchMemory[],
  deadline: number,
  insert: (slice: BenchMemory[]) => Promise<void>,
  step: number,
): Promise<{ inserted: number; seconds: number; perSecond: number; truncated: boolean }> {
  const t0 = now();
  let inserted = 0;
  let truncated = false;
  for (let i = 0; i < memories.length; i += step) {
    if (now() > deadline && inserted > 0) {
      truncated = true;
      break;
    }
    const slice = memories.slice(i, i + step);
    await insert(slice);
    inserted += slice.length;
  }
  const seconds = (now() - t0) / 1000;
  return { inserted, seconds, perSecond: inserted / seconds, truncated };
}
