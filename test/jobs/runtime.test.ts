import { sql } from "drizzle-orm";
import { expect, it } from "vitest";
import { type Database, rows } from "../../db/client";
import type { ClaimedJob, JobHandler } from "../../functions/jobs/runtime/job";
import { claimJobs } from "../../functions/jobs/runtime/sql/claim";
import { enqueueJobs } from "../../functions/jobs/runtime/sql/enqueue";
import { completeJob } from "../../functions/jobs/runtime/sql/fence";
import { runJobs } from "../../functions/jobs/runtime/worker";
import { type RetryPolicy, retryDelayMs, retryDelaySql } from "../../functions/shared/retry";
import { describeEachDatabase } from "../support/databases";
import { seedWorkspace } from "../support/http";

let typeCounter = 0;
/** Each test its own job type: runs claim across workspaces, so tests must not see each other's jobs. */
const newType = () => `runtime_test_${++typeCounter}_${Math.random().toString(36).slice(2, 8)}`;
const RETRY: RetryPolicy = { baseMs: 60_000, capMs: 3_600_000, jitter: "none" };

/** A handler whose behaviour each test sets: it records every attempt it starts. */
function testHandler(
  type: string,
  behaviour: (job: ClaimedJob) => Promise<unknown> | unknown,
): JobHandler & { ran: string[] } {
  const ran: string[] = [];
  return {
    type,
    maxAttempts: 2,
    retry: RETRY,
    leaseMs: 30_000,
    concurrency: 1,
    ran,
    async run(job, context) {
      ran.push(`${job.id}:${job.attempts}`);
      await behaviour(job);
      return context.inJob(async (_tx, complete) => {
        await complete({ attempt: job.attempts });
        return { attempt: job.attempts };
      });
    },
    deadLetter: async (_tx, job, error) => ({
      source: "webhook",
      reason: `test job failed: ${error}`,
      payload: { jobId: job.id },
    }),
  };
}

async function jobRow(database: Database, workspaceId: string, id: string) {
  const [row] = await database.withTenant({ workspaceId }, (tx) =>
    rows<{
      status: string;
      attempts: number;
      fencing_token: string | null;
      output_data: unknown;
      error: string | null;
    }>(
      tx,
      sql`select status::text, attempts, fencing_token::text, output_data, error from processing_jobs where id = ${id}::uuid`,
    ),
  );
  return row;
}

async function enqueue(database: Database, workspaceId: string, type: string, count = 1, dedupKey?: string) {
  return database.withTenant({ workspaceId }, (tx) =>
    enqueueJobs(
      tx,
      Array.from({ length: count }, (_, i) => ({
        workspaceId,
        type,
        input: { i },
        maxAttempts: 2,
        availableAt: new Date(Date.now() - 1000),
        dedupKey,
      })),
    ),
  );
}

describeEachDatabase("internal job runtime", (db) => {
  it("the retry policy's SQL and TypeScript forms give the same delay", async () => {
    const { database } = db();
    for (const policy of [
      { baseMs: 1000, capMs: 60_000, jitter: "none" as const },
      { baseMs: 250, capMs: 8000, factor: 3, jitter: "none" as const },
    ]) {
      for (const attempt of [1, 2, 5, 40]) {
        const [row] = await rows<{ ms: number }>(
          database.db,
          sql`select (extract(epoch from ${retryDelaySql(policy, sql`${attempt}::int`)}) * 1000)::float8 as ms`,
        );
        expect(Number(row?.ms)).toBe(retryDelayMs(policy, attempt));
      }
    }
    // Full and equal jitter stay within their bounds.
    const full = { baseMs: 1000, capMs: 60_000, jitter: "full" as const };
    expect(retryDelayMs(full, 3, () => 0)).toBe(0);
    expect(retryDelayMs(full, 3, () => 1)).toBe(4000);
    expect(retryDelayMs({ ...full, jitter: "equal" }, 3, () => 0)).toBe(2000);
  });

  it("runs each job once, completes it with its output, and dedups live jobs by key", async () => {
    const { database } = db();
    const { workspaceId } = await seedWorkspace(database);
    const type = newType();
    const ids = await enqueue(database, workspaceId, type, 3);
    expect(ids).toHaveLength(3);
    const handler = testHandler(type, () => undefined);
    const result = await runJobs(database, [handler], {});
    expect(result).toMatchObject({ claimed: 3, failed: 0, deadLettered: 0, released: 0, stale: 0 });
    expect(result.completed.map((done) => done.job.id).sort()).toEqual([...ids].sort());
    for (const id of ids)
      expect(await jobRow(database, workspaceId, id)).toMatchObject({ status: "COMPLETED", attempts: 1 });

    const [first] = await enqueue(database, workspaceId, type, 1, "same-key");
    expect(first).toBeDefined();
    expect(await enqueue(database, workspaceId, type, 1, "same-key")).toEqual([]);
    await runJobs(database, [handler], {});
    // Done, the key is free again.
    expect(await enqueue(database, workspaceId, type, 1, "same-key")).toHaveLength(1);
  });

  it("a job whose run died is claimed again after its lease; the dead run's late completion is refused", async () => {
    const { database } = db();
    const { workspaceId } = await seedWorkspace(database);
    const type = newType();
    const [id] = await enqueue(database, workspaceId, type);
    const t0 = new Date();
    // A run claims the job and dies before finishing (nothing else happens to its claim).
    const [dead] = await database.withMaintenance((tx) =>
      claimJobs(tx, { types: [type], limit: 1, now: t0, leaseMs: 30_000 }),
    );
    expect(dead?.id).toBe(id);
    // While its lease holds, nobody else takes the job.
    const handler = testHandler(type, () => undefined);
    expect(await runJobs(database, [handler], { now: new Date(t0.getTime() + 10_000) })).toMatchObject({ claimed: 0 });
    // After it, another run does, under a new fencing token.
    const later = await runJobs(database, [handler], { now: new Date(t0.getTime() + 31_000) });
    expect(later).toMatchObject({ claimed: 1, stale: 0 });
    expect(later.completed[0]?.job.fencingToken).not.toBe(dead?.fencingToken);
    const done = await jobRow(database, workspaceId, id as string);
    expect(done).toMatchObject({ status: "COMPLETED", attempts: 2, output_data: { attempt: 2 } });
    // The dead run wakes up and tries to complete: refused, nothing changes.
    const late = await database.withTenant({ workspaceId }, (tx) =>
      completeJob(tx, dead as ClaimedJob, { attempt: 1 }, { now: new Date(), durationMs: 1 }),
    );
    expect(late).toBe(false);
    expect(await jobRow(database, workspaceId, id as string)).toEqual(done);
  });

  it("a run that loses its lease mid-job counts it stale and changes nothing", async () => {
    const { database } = db();
    const { workspaceId } = await seedWorkspace(database);
    const type = newType();
    const [id] = await enqueue(database, workspaceId, type);
    const t0 = new Date();
    // The handler takes so long that, meanwhile, its lease expires and another run completes the job.
    const slow = testHandler(type, async () => {
      const other = await runJobs(database, [testHandler(type, () => undefined)], {
        now: new Date(t0.getTime() + 60_000),
      });
      expect(other.completed).toHaveLength(1);
    });
    const result = await runJobs(database, [slow], { now: t0 });
    expect(result).toMatchObject({ claimed: 1, stale: 1, failed: 0 });
    expect(result.completed).toHaveLength(0);
    expect(await jobRow(database, workspaceId, id as string)).toMatchObject({
      status: "COMPLETED",
      attempts: 2,
      output_data: { attempt: 2 },
    });
  });

  it("a failure is retried by the policy, then dead-lettered once in the same statement", async () => {
    const { database } = db();
    const { workspaceId } = await seedWorkspace(database);
    const type = newType();
    const [id] = await enqueue(database, workspaceId, type);
    const failing = testHandler(type, () => {
      throw new Error("receiver down");
    });
    const t0 = new Date();
    expect(await runJobs(database, [failing], { now: t0 })).toMatchObject({ claimed: 1, failed: 1, deadLettered: 0 });
    const retrying = await jobRow(database, workspaceId, id as string);
    expect(retrying).toMatchObject({ status: "PENDING", attempts: 1, error: "receiver down" });
    // Not due before the policy's delay (60 s, no jitter), due after it.
    expect(await runJobs(database, [failing], { now: new Date(t0.getTime() + 59_000) })).toMatchObject({ claimed: 0 });
    expect(await runJobs(database, [failing], { now: new Date(t0.getTime() + 61_000) })).toMatchObject({
      claimed: 1,
      deadLettered: 1,
    });
    expect(await jobRow(database, workspaceId, id as string)).toMatchObject({ status: "FAILED", attempts: 2 });
    const letters = await database.withTenant({ workspaceId }, (tx) =>
      rows<{ reason: string; errors: Array<{ attempt: number }> }>(
        tx,
        sql`select reason, errors from dead_letters where payload->>'jobId' = ${id}`,
      ),
    );
    expect(letters).toHaveLength(1);
    expect(letters[0]?.reason).toBe("test job failed: receiver down");
    expect(letters[0]?.errors.map((entry) => entry.attempt)).toEqual([1, 2]);
    const logged = await database.withTenant({ workspaceId }, (tx) =>
      rows<{ n: number }>(
        tx,
        sql`select count(*)::int as n from activity_log where action = 'dead_letter.created' and after->>'jobId' = ${id}`,
      ),
    );
    expect(logged[0]?.n).toBe(1);
    // A failed job is never claimed again.
    expect(await runJobs(database, [failing], { now: new Date(t0.getTime() + 86_400_000) })).toMatchObject({
      claimed: 0,
    });
  });

  it("concurrent runs split the due jobs: each runs exactly once", async () => {
    const { database, url, target } = db();
    const { workspaceId } = await seedWorkspace(database);
    const type = newType();
    await enqueue(database, workspaceId, type, 40);
    const handler = testHandler(type, () => undefined);
    // On Postgres a second pool really overlaps with the first; PGlite serialises them.
    const { connect } = await import("../../db/client");
    const second = target === "postgres" ? await connect(url, { driver: "neon", max: 4 }) : database;
    try {
      const results = await Promise.all([
        runJobs(database, [handler], { limit: 5 }),
        runJobs(second, [handler], { limit: 5 }),
        runJobs(database, [handler], { limit: 5 }),
      ]);
      expect(results.reduce((sum, r) => sum + r.completed.length, 0)).toBe(40);
      expect(new Set(handler.ran).size).toBe(handler.ran.length);
      expect(handler.ran).toHaveLength(40);
    } finally {
      if (second !== database) await second.close();
    }
  });
});
