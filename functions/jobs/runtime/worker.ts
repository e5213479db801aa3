/**
 * Running jobs: claim due jobs of the given handlers' types (one statement), run each with its
 * handler, and record what happened — completed by the handler in its own transaction, or
 * failed (retried by the handler's policy or dead-lettered, in one fenced statement). A run
 * stops starting jobs when its time budget is spent and hands claimed, unstarted jobs back.
 * Nothing is lost to a crash: a job whose run died is claimed again when its lease expires, and
 * the dead run's late calls are refused by the fencing token.
 */
import type { Database, Tx } from "../../../db/client";
import { describeError } from "../../shared/errors";
import { logger } from "../../shared/logger";
import { type ClaimedJob, type JobContext, type JobHandler, StaleJob } from "./job";
import { claimJobs } from "./sql/claim";
import { failJob, isFinalAttempt } from "./sql/fail";
import { completeJob, lockJob, releaseJobs } from "./sql/fence";

export interface RunOptions {
  /** Jobs claimed per round; rounds repeat until no job is due or the budget is spent. */
  limit?: number;
  /** How long the run may keep starting jobs (default 60 s). */
  timeBudgetMs?: number;
  /** The clock for due times, leases and backoff (tests pin it). Default: now, read at each use. */
  now?: Date;
  /** Only these jobs of this workspace, claimed as its tenant (a request delivering what it enqueued). */
  scope?: { workspaceId: string; jobIds: string[] };
  /** Stop after this many rounds (default: until nothing is due). */
  maxRounds?: number;
  random?: () => number;
}

export interface CompletedJob<Output> {
  job: ClaimedJob;
  output: Output;
}

export interface RunResult<Output> {
  /** Jobs claimed (completed + failed + released + stale). */
  claimed: number;
  completed: CompletedJob<Output>[];
  /** Attempts that failed (a retry is scheduled, or the job failed for good). */
  failed: number;
  /** Of `failed`, the jobs that failed for good (with their dead letter, if their handler writes one). */
  deadLettered: number;
  /** Claimed jobs handed back unstarted because the time budget ran out. */
  released: number;
  /** Claimed jobs whose lease another run took over before they finished here. */
  stale: number;
}

/** A job claimed more often than its attempts allow: runs that took it died mid-attempt. */
class AbandonedJob extends Error {
  constructor(job: ClaimedJob) {
    super(`The job's lease expired ${job.attempts - 1} times without completing`);
    this.name = "AbandonedJob";
  }
}

export async function runJobs<Output extends Record<string, unknown>>(
  database: Database,
  handlers: JobHandler<Output>[],
  options: RunOptions = {},
): Promise<RunResult<Output>> {
  const byType = new Map(handlers.map((handler) => [handler.type, handler]));
  const limit = options.limit ?? 25;
  const stopStartingAt = performance.now() + (options.timeBudgetMs ?? 60_000);
  const clock = () => options.now ?? new Date();
  const scope = options.scope;
  const inScope = <T>(fn: (tx: Tx) => Promise<T>) =>
    scope ? database.withTenant({ workspaceId: scope.workspaceId }, fn) : database.withMaintenance(fn);
  const result: RunResult<Output> = { claimed: 0, completed: [], failed: 0, deadLettered: 0, released: 0, stale: 0 };
  const leaseMs = Math.max(...handlers.map((handler) => handler.leaseMs));

  for (let round = 0; round < (options.maxRounds ?? Number.POSITIVE_INFINITY); round++) {
    if (performance.now() >= stopStartingAt) break;
    const jobs = await inScope((tx) =>
      claimJobs(tx, { types: [...byType.keys()], limit, now: clock(), leaseMs, jobIds: scope?.jobIds }),
    );
    if (jobs.length === 0) break;
    result.claimed += jobs.length;
    const queue = [...jobs];
    const unstarted: ClaimedJob[] = [];
    const worker = async () => {
      for (let job = queue.shift(); job; job = queue.shift()) {
        if (performance.now() >= stopStartingAt) {
          unstarted.push(job, ...queue.splice(0));
          return;
        }
        const handler = byType.get(job.type);
        if (!handler) throw new Error(`no handler for job type ${job.type}`);
        await runOne(database, handler, job, clock, options.random, result);
      }
    };
    const concurrency = Math.max(1, Math.min(...handlers.map((handler) => handler.concurrency)));
    await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
    if (unstarted.length > 0) {
      result.released += await inScope((tx) => releaseJobs(tx, unstarted));
      break;
    }
    if (scope) break;
  }
  return result;
}

async function runOne<Output extends Record<string, unknown>>(
  database: Database,
  handler: JobHandler<Output>,
  job: ClaimedJob,
  clock: () => Date,
  random: (() => number) | undefined,
  result: RunResult<Output>,
): Promise<void> {
  const started = performance.now();
  const tenant = { workspaceId: job.workspaceId };
  const context: JobContext = {
    database,
    now: clock(),
    inJob: (fn) =>
      database.withTenant(tenant, async (tx) => {
        if (!(await lockJob(tx, job))) throw new StaleJob(job.id);
        return fn(tx, async (output) => {
          const durationMs = Math.round(performance.now() - started);
          if (!(await completeJob(tx, job, output, { now: clock(), durationMs }))) throw new StaleJob(job.id);
        });
      }),
  };
  try {
    if (job.attempts > job.maxAttempts) throw new AbandonedJob(job);
    const output = await handler.run(job, context);
    result.completed.push({ job, output });
  } catch (error) {
    if (error instanceof StaleJob) {
      result.stale += 1;
      return;
    }
    const retryable = !(error instanceof AbandonedJob) && (handler.retryable?.(error) ?? true);
    const final = isFinalAttempt(job, retryable);
    const message = describeError(error);
    logger.warn("job attempt failed", { jobId: job.id, type: job.type, attempt: job.attempts, final, error: message });
    try {
      const recorded = await database.withTenant(tenant, async (tx) => {
        if (!(await lockJob(tx, job))) return null;
        const deadLetter = final ? await handler.deadLetter(tx, job, message, retryable) : null;
        const outcome = await failJob(tx, job, {
          error: message,
          final,
          policy: handler.retry,
          now: clock(),
          random,
          deadLetter,
        });
        await handler.onFailure?.(tx, job, final);
        return outcome;
      });
      if (!recorded) {
        result.stale += 1;
        return;
      }
      result.failed += 1;
      if (final) result.deadLettered += 1;
    } catch (failure) {
      // The lease will expire and a later run retries the job: nothing is lost.
      logger.error("could not record a failed job attempt", { jobId: job.id, error: failure });
      result.failed += 1;
    }
  }
}
