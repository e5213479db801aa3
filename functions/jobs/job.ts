/**
 * What every scheduled or queue-driven job shares: its name, how a run is timed and logged
 * (one structured summary line per run, also returned), and how much time a run may take.
 *
 * A job's core is a plain function over a `Database`; its Lambda handler is a thin wrapper
 * made by `makeXHandler(getDatabase)`, so tests hand the handler their own database and the
 * deployed entry passes `jobsLambdaDatabase`.
 */
import type { Context, SQSEvent } from "aws-lambda";
import type { Database } from "../../db/client";
import { logger } from "../shared/logger";

export const JOB_NAMES = ["tiering", "sweeper", "dead-letters", "events"] as const;
export type JobName = (typeof JOB_NAMES)[number];

export function isJobName(name: string): name is JobName {
  return (JOB_NAMES as readonly string[]).includes(name);
}

/** What started a run: an AWS schedule, an SQS batch, the local scheduler, or `npm run job`. */
export type JobTrigger = "schedule" | "queue" | "local" | "cli";

/** How a Lambda gets its database (`jobsLambdaDatabase` when deployed, the test database in tests). */
export type DatabaseSource = () => Promise<Database>;

/** The parts of a Lambda context a job looks at (tests may pass less than a full `Context`). */
export type JobContext = Partial<Pick<Context, "getRemainingTimeInMillis">> | undefined;

/** The summary line of one run: the job's own result plus what every run reports. */
export type JobSummary<T extends object> = T & {
  job: JobName;
  trigger: JobTrigger;
  /** False when part of the run failed (the details are in the job's result). */
  ok: boolean;
  startedAt: string;
  durationMs: number;
};

/**
 * Runs one job, logs its summary line ("job finished", or a warning when `ok` is false) and
 * returns it. A run that throws logs "job failed" with its duration and rethrows, so Lambda
 * reports the error and the schedule's retry policy applies.
 */
export async function runJob<T extends object & { ok?: boolean }>(
  job: JobName,
  trigger: JobTrigger,
  work: () => Promise<T>,
): Promise<JobSummary<T>> {
  const startedAt = new Date();
  const started = performance.now();
  try {
    const result = await work();
    const summary = {
      job,
      trigger,
      ok: true,
      startedAt: startedAt.toISOString(),
      durationMs: Math.round(performance.now() - started),
      ...result,
    } as JobSummary<T>;
    if (summary.ok) logger.info("job finished", summary);
    else logger.warn("job finished with failures", summary);
    return summary;
  } catch (error) {
    logger.error("job failed", {
      job,
      trigger,
      ok: false,
      startedAt: startedAt.toISOString(),
      durationMs: Math.round(performance.now() - started),
      error,
    });
    throw error;
  }
}

/**
 * How long a run may keep starting work: the Lambda's remaining time minus a safety margin
 * (so it can finish what it started and return), or `fallbackMs` outside Lambda.
 */
export function timeBudgetMs(context: JobContext, fallbackMs: number, safetyMarginMs: number): number {
  const remaining =
    context && typeof context.getRemainingTimeInMillis === "function" ? context.getRemainingTimeInMillis() : undefined;
  if (remaining === undefined) return fallbackMs;
  return Math.max(0, remaining - safetyMarginMs);
}

/** A positive number from the environment, or the default; a malformed value is a configuration error. */
export function envNumber(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  { min = 0, max = Infinity } = {},
): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new Error(`${name}=${JSON.stringify(raw)} is not a number between ${min} and ${max}`);
  }
  return value;
}

/** An SQS batch (a queue trigger), as opposed to a schedule's event. */
export function isSqsEvent(event: unknown): event is SQSEvent {
  return typeof event === "object" && event !== null && Array.isArray((event as SQSEvent).Records);
}
