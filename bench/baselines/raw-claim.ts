import pg from "pg";
import type { ClaimTarget } from "../lib/claim-harness.js";

/**
 * The lower bound for a Postgres claim: a bare queue table and the two statements any
 * SKIP LOCKED queue needs, each worker on its own connection, statements prepared.
 * No leases, attempts, tenants or RLS — whatever Cairn adds costs something, and this
 * says how much.
 */
const schema = "bench_raw";

export async function createRawClaimTarget(databaseUrl: string, items: number, workers: number): Promise<ClaimTarget> {
  const setup = new pg.Client({ connectionString: databaseUrl });
  await setup.connect();
  try {
    await setup.query(`drop schema if exists ${schema} cascade`);
    await setup.query(`create schema ${schema}`);
    await setup.query(`
      create table ${schema}.q (
        id uuid primary key default gen_random_uuid(),
        priority int not null,
        state text not null default 'queued',
        payload jsonb not null,
        created_at timestamptz not null default clock_timestamp(),
        claimed_at timestamptz,
        done_at timestamptz
      )`);
    await setup.query(`create index q_claimable on ${schema}.q (priority desc, created_at) where state = 'queued'`);
    await setup.query(
      `insert into ${schema}.q (priority, payload, created_at)
       select (i * 7919) % 10, jsonb_build_object('i', i), clock_timestamp() - make_interval(secs => $1 - i)
       from generate_series(1, $1) as i`,
      [items],
    );
    await setup.query(`vacuum analyze ${schema}.q`);
  } finally {
    await setup.end();
  }

  const pool = new pg.Pool({ connectionString: databaseUrl, max: workers });
  const clients = await Promise.all(Array.from({ length: workers }, () => pool.connect()));

  const claimSql = `
    update ${schema}.q set state = 'active', claimed_at = now()
    where id in (
      select id from ${schema}.q where state = 'queued'
      order by priority desc, created_at
      limit $1
      for update skip locked)
    returning id`;
  const completeSql = `update ${schema}.q set state = 'done', done_at = now() where id = any($1::uuid[]) and state = 'active'`;

  return {
    name: "raw SQL",
    async claim(worker, limit) {
      const res = await clients[worker].query<{ id: string }>({ name: "raw_claim", text: claimSql, values: [limit] });
      return res.rows.map((r) => r.id);
    },
    async complete(worker, ids) {
      await clients[worker].query({ name: "raw_complete", text: completeSql, values: [ids] });
    },
    async verify() {
      // Every pooled connection belongs to a worker, so check on a connection of its own.
      const check = new pg.Client({ connectionString: databaseUrl });
      await check.connect();
      const { rows } = await check
        .query<{ done: number; not_done: number }>(
          `select count(*) filter (where state = 'done')::int as done, count(*) filter (where state <> 'done')::int as not_done from ${schema}.q`,
        )
        .finally(() => check.end());
      return { done: rows[0].done, notDone: rows[0].not_done };
    },
    async close() {
      for (const c of clients) c.release();
      await pool.end();
    },
  };
}
