/**
 * Event processing (scheduled, and on an SQS nudge the memory context sends after it stores
 * events): runs `processEvents` until no work is left or the run's time budget is near its
 * end. Inside Lambda the budget is the invocation's remaining time minus a safety margin
 * (CAIRN_EVENTS_SAFETY_MARGIN_MS [15 s]), so a run finishes what it started and returns
 * before the timeout; elsewhere it is CAIRN_EVENTS_TIME_BUDGET_MS [60 s].
 *
 * A nudge carries no work itself (the events are rows in Postgres), so a batch of nudges is
 * one run; if that run fails, every message in the batch is reported failed so SQS delivers
 * it again (and, after its maxReceiveCount, moves it to the dead-letter queue).
 */
import type { ScheduledEvent, SQSBatchResponse, SQSEvent } from "aws-lambda";
import type { Database } from "../../db/client";
import { type ProcessEventsOptions, type ProcessEventsResult, processEvents } from "../memory/events/processing";
import { jobsLambdaDatabase } from "../shared/lambda-database";
import { logger } from "../shared/logger";
import {
  type DatabaseSource,
  envNumber,
  isSqsEvent,
  type JobContext,
  type JobTrigger,
  runJob,
  timeBudgetMs,
} from "./job";

export interface EventsJobConfig {
  /** Budget outside Lambda (local scheduler, CLI). */
  timeBudgetMs: number;
  /** Time kept spare at the end of a Lambda invocation. */
  safetyMarginMs: number;
  /** Jobs claimed per round. */
  limit: number;
}

export function eventsJobConfig(env: NodeJS.ProcessEnv = process.env): EventsJobConfig {
  return {
    timeBudgetMs: envNumber(env, "CAIRN_EVENTS_TIME_BUDGET_MS", 60_000, { min: 1 }),
    safetyMarginMs: envNumber(env, "CAIRN_EVENTS_SAFETY_MARGIN_MS", 15_000),
    limit: Math.floor(envNumber(env, "CAIRN_EVENTS_BATCH_SIZE", 25, { min: 1, max: 1000 })),
  };
}

export interface EventsRunResult extends ProcessEventsResult {
  timeBudgetMs: number;
}

/** One run of the events job with an explicit budget (the scheduler, the CLI and tests call this). */
export async function runEventProcessing(
  database: Database,
  options: Omit<ProcessEventsOptions, "timeBudgetMs"> & { timeBudgetMs?: number } = {},
): Promise<EventsRunResult> {
  const config = eventsJobConfig();
  const budget = options.timeBudgetMs ?? config.timeBudgetMs;
  const result = await processEvents(database, { limit: config.limit, ...options, timeBudgetMs: budget });
  return { ...result, timeBudgetMs: budget };
}

/**
 * The events Lambda: a schedule returns the run's summary; an SQS batch of nudges returns
 * `{ batchItemFailures }` (empty when the run succeeded, every message when it failed).
 */
export function makeEventsHandler(
  getDatabase: DatabaseSource,
  overrides: Omit<ProcessEventsOptions, "timeBudgetMs"> = {},
) {
  const run = (trigger: JobTrigger, context: JobContext) =>
    runJob("events", trigger, async () => {
      const config = eventsJobConfig();
      return runEventProcessing(await getDatabase(), {
        ...overrides,
        timeBudgetMs: timeBudgetMs(context, config.timeBudgetMs, config.safetyMarginMs),
      });
    });

  async function handler(event: SQSEvent, context?: JobContext): Promise<SQSBatchResponse>;
  async function handler(event?: ScheduledEvent, context?: JobContext): Promise<Awaited<ReturnType<typeof run>>>;
  async function handler(event?: ScheduledEvent | SQSEvent, context?: JobContext) {
    if (!isSqsEvent(event)) return run("schedule", context);
    try {
      await run("queue", context);
      return { batchItemFailures: [] } satisfies SQSBatchResponse;
    } catch (error) {
      logger.warn("events run failed; the nudges go back to the queue", { messages: event.Records.length, error });
      return {
        batchItemFailures: event.Records.map((record) => ({ itemIdentifier: record.messageId })),
      } satisfies SQSBatchResponse;
    }
  }
  return handler;
}

export const handler = makeEventsHandler(jobsLambdaDatabase);
