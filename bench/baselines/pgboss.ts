import pg from "pg";
import PgBoss from "pg-boss";
import type { ClaimTarget } from "../lib/claim-harness.js";

/**
 * pg-boss 10, the popular general-purpose Postgres queue, doing the same work: fetch
 * (batchSize 1 or 10) then complete, on the same server, in its own schema, with its
 * maintenance and cron loops off so only the fetch/complete path is measured.
 */
const schema = "bench_pgboss";
const queue = "bench";

export async function createPgBossTarget(databaseUrl: string, items: number, workers: number): Promise<ClaimTarget> {
  // A fresh schema each run: pg-boss then installs itself from scratch and no earlier
  // run's archive or retained jobs sit in its tables.
  const setup = new pg.Client({ connectionString: databaseUrl });
  await setup.connect();
  try {
    await setup.query(`drop schema if exists ${schema} cascade`);
  } finally {
    await setup.end();
  }

  const boss = new PgBoss({
    connectionString: databaseUrl,
    schema,
    max: workers,
    supervise: false,
    schedule: false,
    migrate: true,
  });
  boss.on("error", (err) => console.error("pg-boss error:", err));
  await boss.start();
  await boss.createQueue(queue);

  const chunk = 1000;
  for (let from = 0; from < items; from += chunk) {
    const jobs: PgBoss.JobInsert[] = [];
    for (let i = from; i < Math.min(items, from + chunk); i++) {
      jobs.push({ name: queue, data: { i }, priority: (i * 7919) % 10 });
    }
    await boss.insert(jobs);
  }

  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });

  return {
    name: "pg-boss 10",
    async claim(_worker, limit) {
      const jobs = await boss.fetch(queue, { batchSize: limit });
      return jobs.map((j) => j.id);
    },
    async complete(_worker, ids) {
      if (ids.length === 1) await boss.complete(queue, ids[0]);
      else await boss.complete(queue, ids);
    },
    async verify() {
      const { rows } = await pool.query<{ done: number; not_done: number }>(
        `select count(*) filter (where state = 'completed')::int as done,
                count(*) filter (where state <> 'completed')::int as not_done
         from ${schema}.job where name = $1`,
        [queue],
      );
      return { done: rows[0].done, notDone: rows[0].not_done };
    },
    async close() {
      await pool.end();
      await boss.stop({ graceful: false, wait: true });
    },
  };
}
