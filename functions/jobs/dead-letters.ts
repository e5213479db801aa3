/**
 * The dead-letters Lambda. Two triggers:
 * (a) a schedule (default every 5 minutes): one automatic-redrive pass
 *     (work-orders/dead-letter-redrive.ts) over the dead letters marked for automatic retry, at
 *     most CAIRN_DEAD_LETTER_REDRIVES_PER_RUN [100] per run, with the backoff of re-failed work
 *     from CAIRN_DEAD_LETTER_BACKOFF_BASE_MS [5 min] and CAIRN_DEAD_LETTER_BACKOFF_MAX_MS [6 h];
 * (b) the AWS dead-letter queue (an SQS batch): each message stored as a dead letter
 *     (work-orders/dead-letter-queue.ts), answered with `{ batchItemFailures }`.
 */
import type { ScheduledEvent, SQSBatchItemFailure, SQSBatchResponse, SQSEvent } from "aws-lambda";
import type { Database } from "../../db/client";
import { webhookDeliveryHandler } from "../approvals/webhook-delivery";
import { eventProcessingHandler } from "../memory/events/processing";
import { jobsLambdaDatabase } from "../shared/lambda-database";
import { storeQueueDeadLetters } from "../work-orders/dead-letter-queue";
import {
  DEFAULT_REDRIVE_CONFIG,
  type RedriveConfig,
  type RedriveResult,
  redriveDueDeadLetters as redrivePass,
} from "../work-orders/dead-letter-redrive";
import { type DatabaseSource, envNumber, isSqsEvent, type JobContext, runJob } from "./job";

export { REPROCESSOR_ID } from "../work-orders/dead-letter-redrive";
export { storeQueueDeadLetters };

export function redriveConfig(env: NodeJS.ProcessEnv = process.env): RedriveConfig {
  const d = DEFAULT_REDRIVE_CONFIG;
  return {
    perRun: Math.floor(envNumber(env, "CAIRN_DEAD_LETTER_REDRIVES_PER_RUN", d.perRun, { min: 1, max: 10_000 })),
    backoffBaseMs: envNumber(env, "CAIRN_DEAD_LETTER_BACKOFF_BASE_MS", d.backoffBaseMs, { min: 0 }),
    backoffMaxMs: envNumber(env, "CAIRN_DEAD_LETTER_BACKOFF_MAX_MS", d.backoffMaxMs, { min: 0 }),
  };
}

export interface RedriveOptions extends Partial<RedriveConfig> {
  /** The clock deciding what is due (tests pass crafted times). Default: now. */
  now?: Date;
}

/** One automatic-redrive pass; event and webhook dead letters are handed back to their handlers. */
export function redriveDueDeadLetters(database: Database, options: RedriveOptions = {}): Promise<RedriveResult> {
  const { now = new Date(), ...config } = options;
  return redrivePass(database, {
    config: { ...DEFAULT_REDRIVE_CONFIG, ...config },
    now,
    jobHandlers: [eventProcessingHandler(), webhookDeliveryHandler],
  });
}

/**
 * The dead-letters Lambda: an SQS batch (the dead-letter queue) is stored and answered with
 * `{ batchItemFailures }`; anything else (the schedule) runs a redrive pass and returns its summary.
 */
export function makeDeadLettersHandler(getDatabase: DatabaseSource, overrides: RedriveOptions = {}) {
  const redriveSummary = () =>
    runJob("dead-letters", "schedule", async () =>
      redriveDueDeadLetters(await getDatabase(), { ...redriveConfig(), ...overrides }),
    );
  async function handler(event: SQSEvent, context?: JobContext): Promise<SQSBatchResponse>;
  async function handler(event?: ScheduledEvent, context?: JobContext): ReturnType<typeof redriveSummary>;
  async function handler(event?: ScheduledEvent | SQSEvent, _context?: JobContext) {
    if (isSqsEvent(event)) {
      const summary = await runJob("dead-letters", "queue", async () =>
        storeQueueDeadLetters(await getDatabase(), event.Records),
      );
      const batchItemFailures: SQSBatchItemFailure[] = summary.failures.map((f) => ({ itemIdentifier: f.messageId }));
      return { batchItemFailures };
    }
    return redriveSummary();
  }
  return handler;
}

export const handler = makeDeadLettersHandler(jobsLambdaDatabase);
