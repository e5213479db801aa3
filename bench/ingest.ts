import { createHash } from "node:crypto";
import pg from "pg";
import type { BenchMemory } from "./lib/memories.js";
import { MemoryGenerator } from "./lib/memories.js";
import { mulberry32, seededUuid } from "./lib/random.js";
import { fmt } from "./lib/results.js";
import type { Section } from "./lib/section.js";
import { now } from "./lib/stats.js";
import { binaryArray, ClusteredVectors, vectorBinary } from "./lib/vectors.js";

/**
 * 4. Ingestion: memories per second through one set-based statement per batch versus one
 * INSERT per memory (each its own statement and commit, as a client posting memories one
 * at a time would cause). Both write into a memory-shaped table carrying the indexes a
 * memory table needs: HNSW on the embedding, GIN on the text, unique content hash.
 *
 * Cairn: `insertMemories` (the statement behind POST /v1/memories:batch: one SELECT of
 * known hashes, one INSERT … ON CONFLICT DO NOTHING RETURNING, the activity rows) in a
 * tenant transaction per call, over the Neon driver, into Cairn's `memories` table with all
 * its indexes (partial HNSW per dimension, GIN on text and metadata, b-trees). Calls of
 * `batchSize` memories versus one memory per call (= POST /v1/memories). Runs before the
 * search corpus is loaded, so both tables start empty; Cairn's rows are deleted afterwards.
 */
const schema = "bench_ingest";
const batchSize = 500;

export const ingestSection: Section = {
  name: "ingest",
  title: "Ingestion: batch statement vs one INSERT per memory",
  budgetSeconds: { quick: 40, full: 100 },
  async run(ctx) {
    const count = ctx.options.quick ? 1_000 : 5_000;
    const workspaceId = seededUuid(mulberry32(99));
    const memories = makeMemories(count, workspaceId);
    const details: Record<string, unknown> = { count, batchSize };
    const client = new pg.Client({ connectionString: ctx.options.databaseUrl, application_name: "cairn-bench-ingest" });
    await client.connect();
    try {
      const { rows } = await client.query<{ oid: number }>("select 'vector'::regtype::oid::int as oid");
      const vectorOid = rows[0].oid;
      // Four timed phases, each with an equal share of what is left of the budget.
      let phasesLeft = 4;
      const half = () => now() + Math.max(3_000, (ctx.deadline - now()) / phasesLeft--);

      await resetTable(client);
      const batch = await timed(memories, half(), async (slice) => insertBatch(client, slice, vectorOid), batchSize);
      await resetTable(client);
      const single = await timed(
        memories,
        half(),
        async (slice) => {
          for (const m of slice) await insertBatch(client, [m], vectorOid, true);
        },
        50,
      );
      details.plain = { batch, single };
      if (batch.truncated || single.truncated) ctx.partial = true;
      console.log(
        `  plain table: batch ${fmt(batch.perSecond)}/s (${batch.inserted}), one-by-one ${fmt(single.perSecond)}/s (${single.inserted})`,
      );

      // Cairn, same memories, same slices.
      const cairn = ctx.cairn;
      const wsBatch = await cairn.workspace("ingest-batch");
      const wsSingle = await cairn.workspace("ingest-single");
      const cairnMemories = makeMemories(count, wsBatch.workspaceId);
      const toInput = (m: BenchMemory) => ({
        content: m.content,
        embedding: Array.from(m.embedding),
        metadata: m.metadata,
      });
      const cb = await timed(
        cairnMemories,
        half(),
        async (slice) => {
          await cairn.insertBatch(wsBatch, slice.map(toInput));
        },
        batchSize,
      );
      const cs = await timed(
        cairnMemories,
        half(),
        async (slice) => {
          for (const m of slice) await cairn.insertBatch(wsSingle, [toInput(m)]);
        },
        50,
      );
      if (cb.truncated || cs.truncated) ctx.partial = true;
      details.cairn = { batch: cb, single: cs };
      console.log(
        `  Cairn: insertMemories ${batchSize}/call ${fmt(cb.perSecond)}/s (${cb.inserted}), one per call ${fmt(cs.perSecond)}/s (${cs.inserted})`,
      );
      await cairn.owner.query("delete from memories where workspace_id = any($1::uuid[])", [
        [wsBatch.workspaceId, wsSingle.workspaceId],
      ]);

      ctx.recorder.row({
        section: "ingest",
        scenario: `Cairn batch statement (insertMemories, ${batchSize}/call) vs one memory per call`,
        cairn: { value: cb.perSecond, unit: "memories/s" },
        baseline: { value: cs.perSecond, unit: "memories/s", label: "Cairn, one memory per call" },
        notes: `${cb.inserted} and ${cs.inserted} memories timed; one call = one tenant transaction`,
      });
      ctx.recorder.row({
        section: "ingest",
        scenario: `Cairn batch statement vs raw SQL batch INSERT into a plain memory-shaped table (${batchSize}/statement)`,
        cairn: { value: cb.perSecond, unit: "memories/s" },
        baseline: { value: batch.perSecond, unit: "memories/s", label: "raw SQL batch, node-postgres, binary vectors" },
        notes: "plain table: HNSW + GIN(tsvector) + unique hash, no RLS, no activity rows, no dedup read-back",
      });
      ctx.recorder.row({
        section: "ingest",
        scenario: "Cairn one memory per call vs raw SQL one INSERT per memory",
        cairn: { value: cs.perSecond, unit: "memories/s" },
        baseline: { value: single.perSecond, unit: "memories/s", label: "raw SQL, one INSERT per memory" },
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
  await client.query(
    `create index on ${schema}.memories using hnsw (embedding vector_cosine_ops) with (m = 16, ef_construction = 128)`,
  );
  await client.query(`create index on ${schema}.memories using gin (content_tsv)`);
}

/** One statement for the whole slice; `single` uses the same statement for one row. */
async function insertBatch(client: pg.Client, slice: BenchMemory[], vectorOid: number, single = false): Promise<void> {
  const hash = (s: string) => createHash("sha256").update(s).digest("hex");
  if (single) {
    const m = slice[0];
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
      binaryArray(
        slice.map((m) => vectorBinary(m.embedding)),
        vectorOid,
      ),
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
