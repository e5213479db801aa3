/**
 * Work that no request waits for: schedules (EventBridge Scheduler, through `sst.aws.CronV2`;
 * the older `Cron` is deprecated) and the ingest queue.
 *
 * Every job is idempotent and set-based, so an overlapping or repeated run is harmless; the
 * schedules are how often work is looked for, not a promise of exactly-once execution.
 */
import { jobFunctions } from "./bundling";
import { defineJobFunction } from "./database";
import { embeddingEnvironment } from "./embedding";
import { seconds } from "./function-defaults";
import { embeddingApiKey } from "./secrets";

// SQS hides a received message for the visibility timeout. AWS advises at least 6x the
// subscriber's timeout so a batch still being retried by Lambda is not handed out twice.
const visibilityFor = (functionTimeoutSeconds: number) => seconds(6 * functionTimeoutSeconds);

/** Moves memories between hot, warm and cold tiers; one set-based pass a day, off-peak (UTC). */
export const tiering = defineJobFunction("Tiering", {
  handler: jobFunctions.tiering,
  description: "Moves memories between hot, warm and cold tiers",
  timeout: "5 minutes",
  memory: "512 MB", // the work is SQL in Postgres; the function mostly waits
});
export const tieringSchedule = new sst.aws.CronV2("TieringSchedule", {
  function: lambdaArn(tiering),
  schedule: "cron(15 3 * * ? *)",
});

/** Expires stale leases and escalates overdue approvals. */
export const sweeper = defineJobFunction("Sweeper", {
  handler: jobFunctions.sweeper,
  description: "Expires stale work-item leases and overdue approvals",
  // Finishes well inside its one-minute period, so runs rarely overlap.
  timeout: "50 seconds",
  memory: "512 MB",
});
export const sweeperSchedule = new sst.aws.CronV2("SweeperSchedule", {
  function: lambdaArn(sweeper),
  schedule: "rate(1 minute)",
});

/**
 * Ingest events that could not be processed after `maxReceiveCount` tries land here, kept
 * for 14 days (the SQS maximum) so nothing is lost while someone looks.
 */
const deadLettersTimeoutSeconds = 60;
export const deadLetterQueue = new sst.aws.Queue("IngestDeadLetterQueue", {
  visibilityTimeout: visibilityFor(deadLettersTimeoutSeconds),
  transform: { queue: { messageRetentionSeconds: 14 * 24 * 60 * 60 } },
});

/**
 * Dead-letter reprocessing: on a schedule it redrives the dead letters marked for automatic
 * retry (rows in Postgres); as the dead-letter queue's subscriber it records failed ingest
 * messages, reporting per-message failures (`batchItemFailures`).
 */
export const deadLetters = defineJobFunction("DeadLetters", {
  handler: jobFunctions["dead-letters"],
  description: "Redrives dead letters; consumes the ingest dead-letter queue",
  timeout: seconds(deadLettersTimeoutSeconds),
  memory: "512 MB",
  // Subscribing by ARN (below) grants the function nothing; the link gives it the queue.
  link: [deadLetterQueue],
});
export const deadLettersSchedule = new sst.aws.CronV2("DeadLettersSchedule", {
  function: lambdaArn(deadLetters),
  schedule: "rate(5 minutes)",
});
export const deadLetterSubscription = deadLetterQueue.subscribe(lambdaArn(deadLetters), {
  batch: { size: 10, partialResponses: true },
});

/**
 * The ingest queue: the memory function stores raw events, then sends a nudge here after
 * its transaction commits; the events function turns events into knowledge chunks.
 */
const eventsTimeoutSeconds = 120; // embedding a batch is a few provider round trips
export const ingestQueue = new sst.aws.Queue("IngestQueue", {
  visibilityTimeout: visibilityFor(eventsTimeoutSeconds),
  // After 5 failed receives a message moves to the dead-letter queue (SQS maxReceiveCount).
  dlq: { queue: deadLetterQueue.arn, retry: 5 },
});

/**
 * Event processing: a queue subscriber for low latency, and a schedule that picks up
 * anything a lost nudge left behind (the events themselves are rows in Postgres).
 */
export const events = defineJobFunction("Events", {
  handler: jobFunctions.events,
  description: "Processes ingested events into memory",
  timeout: seconds(eventsTimeoutSeconds),
  link: [embeddingApiKey, ingestQueue],
  environment: embeddingEnvironment,
});
export const eventsSchedule = new sst.aws.CronV2("EventsSchedule", {
  function: lambdaArn(events),
  schedule: "rate(5 minutes)",
});
export const ingestSubscription = ingestQueue.subscribe(lambdaArn(events), {
  batch: { size: 10, partialResponses: true },
});

/**
 * A queue may have one subscriber, given as function arguments or an ARN; reuse the function.
 * CronV2 takes the ARN too (SST 4.6.11, the last release whose dependencies install on Node 20,
 * takes no Function object there).
 */
function lambdaArn(fn: sst.aws.Function) {
  return fn.arn.apply((arn) => arn as `arn:${string}`);
}
