/**
 * Event processing, a handler on the internal job runtime: an `event` job (queued with its
 * event by intake) turns the event's text into memories. Each job runs in one tenant
 * transaction — extract the text, chunk, embed, store the memories, mark the event and the job
 * COMPLETED — all or nothing. A failed attempt is retried with backoff; after `max_attempts`
 * (or at once for a poisoned event, or a provider error that is not retryable) the event is
 * FAILED and a dead letter is written, in the transaction that fails the job.
 */
import { and, eq, sql } from "drizzle-orm";
import { type Database, rows, type Tx } from "../../../db/client";
import { rawEvents } from "../../../db/schema";
import type { ClaimedJob, JobHandler } from "../../jobs/runtime/job";
import { runJobs } from "../../jobs/runtime/worker";
import { AppError, UpstreamFailed } from "../../shared/errors";
import { logger } from "../../shared/logger";
import type { RetryPolicy } from "../../shared/retry";
import { type ChunkOptions, chunkText } from "../chunking";
import { type EmbeddingProvider, EmbeddingProviderError } from "../embeddings";
import { insertMemories } from "../memories";
import { embeddingProvider } from "../provider";

export const EVENT_JOB = "event";
export const DEFAULT_MAX_ATTEMPTS = 3;

/**
 * Equal jitter, not the runtime's usual full jitter: a retry here usually follows an embedding
 * provider that is down or rate-limiting, and half the backoff as a floor keeps a batch of
 * failed events from coming back almost at once.
 */
export const EVENT_RETRY: RetryPolicy = { baseMs: 10_000, capMs: 15 * 60_000, jitter: "equal" };

/** Payload fields whose string value is the event's main text, in order of preference. */
export const TEXT_FIELDS = ["text", "content", "message", "body", "description"] as const;

/**
 * The text an event contributes to memory: `payload.title` (when a non-empty string) followed,
 * after a blank line, by the first non-empty string among `payload.text`, `content`, `message`,
 * `body`, `description`. Other fields and non-string values are ignored (a connector flattens
 * nested shapes before sending). `null` when there is nothing: such an event (a reaction, say)
 * is processed, COMPLETED with no memory — there was nothing to remember, which is no failure.
 */
export function extractEventText(payload: unknown): string | null {
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) return null;
  const record = payload as Record<string, unknown>;
  const nonEmpty = (value: unknown) => (typeof value === "string" && value.trim() !== "" ? value.trim() : undefined);
  const title = nonEmpty(record.title);
  const main = TEXT_FIELDS.map((field) => nonEmpty(record[field])).find((value) => value !== undefined);
  const parts = [title, main].filter((part): part is string => part !== undefined);
  return parts.length > 0 ? parts.join("\n\n") : null;
}

/** A failure that retrying cannot fix: the job is dead-lettered at once. */
export class PoisonedEvent extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PoisonedEvent";
  }
}

/**
 * Whether another attempt could succeed: not for a poisoned event, a provider error the provider
 * calls permanent (502), or input the memory layer rejects (400/422: it would reject it again).
 * Database and network errors, and anything unknown, are retried.
 */
export function isRetryable(error: unknown): boolean {
  if (error instanceof PoisonedEvent) return false;
  if (error instanceof EmbeddingProviderError) return error.retryable;
  if (error instanceof UpstreamFailed) return error.status === 503;
  if (error instanceof AppError) return error.status >= 500 || error.status === 409;
  return true;
}

export interface EventProcessingOptions {
  /** Default: the configured provider (`embeddingProvider()`), created at the first job. */
  provider?: EmbeddingProvider;
  chunk?: ChunkOptions;
  /** How long a claimed job is reserved before another run may reclaim it (default 5 min). */
  leaseMs?: number;
  retry?: RetryPolicy;
}

export interface EventJobOutput extends Record<string, unknown> {
  memoryIds: string[];
  chunks: number;
  deduplicated: number;
  /** New memories stored (chunks whose content already existed in the workspace are not counted). */
  created: number;
}

async function setEventStatus(
  tx: Tx,
  job: Pick<ClaimedJob, "workspaceId" | "eventId">,
  status: "PENDING" | "COMPLETED" | "FAILED",
  now: Date,
) {
  if (!job.eventId) return;
  await tx
    .update(rawEvents)
    .set({ processingStatus: status, updatedAt: now, ...(status === "COMPLETED" ? { processedAt: now } : {}) })
    .where(and(eq(rawEvents.workspaceId, job.workspaceId), eq(rawEvents.id, job.eventId)));
}

export function eventProcessingHandler(options: EventProcessingOptions = {}): JobHandler<EventJobOutput> {
  let provider = options.provider;
  return {
    type: EVENT_JOB,
    maxAttempts: DEFAULT_MAX_ATTEMPTS,
    retry: options.retry ?? EVENT_RETRY,
    leaseMs: options.leaseMs ?? 5 * 60_000,
    // One at a time: each job calls the embedding provider, which has its own batch limits.
    concurrency: 1,
    retryable: isRetryable,
    run: (job, context) =>
      context.inJob(async (tx, complete) => {
        if (!job.eventId) throw new PoisonedEvent("The job's event no longer exists");
        const [event] = await tx
          .select()
          .from(rawEvents)
          .where(and(eq(rawEvents.workspaceId, job.workspaceId), eq(rawEvents.id, job.eventId)));
        if (!event) throw new PoisonedEvent("The job's event no longer exists");
        const text = extractEventText(event.payload);
        // An event with nothing to remember (a reaction, a label change) is processed with no memory.
        const chunks = text === null ? [] : chunkText(text, options.chunk);
        provider ??= embeddingProvider();
        const stored = await insertMemories(
          tx,
          { workspaceId: job.workspaceId },
          chunks.map((content) => ({
            content,
            sourceType: event.source,
            metadata: { ...event.metadata, eventType: event.eventType, externalId: event.externalId },
          })),
          { provider, sourceEventId: event.id, chunkIndexes: chunks.map((_, index) => index) },
        );
        const created = stored.filter((memory) => !memory.deduplicated).length;
        await setEventStatus(tx, job, "COMPLETED", context.now);
        const output: EventJobOutput = {
          memoryIds: stored.map((memory) => memory.id),
          chunks: chunks.length,
          deduplicated: stored.length - created,
          created,
        };
        await complete(output);
        return output;
      }),
    deadLetter: async (tx, job, error, retryable) => {
      const [event] = job.eventId
        ? await rows<{
            id: string;
            source: string;
            event_type: string;
            external_id: string;
            payload: unknown;
            metadata: unknown;
          }>(
            tx,
            sql`select id, source, event_type, external_id, payload, metadata from raw_events
                where workspace_id = ${job.workspaceId}::uuid and id = ${job.eventId}::uuid`,
          )
        : [];
      return {
        source: "event",
        rawEventId: event?.id ?? null,
        reason: retryable ? `Failed after ${job.attempts} attempts: ${error}` : error,
        payload: {
          jobId: job.id,
          event: event
            ? {
                source: event.source,
                eventType: event.event_type,
                externalId: event.external_id,
                payload: event.payload,
                metadata: event.metadata,
              }
            : null,
        },
      };
    },
    onFailure: (tx, job, final) => setEventStatus(tx, job, final ? "FAILED" : "PENDING", new Date()),
    onRedrive: (tx, job) => setEventStatus(tx, job, "PENDING", new Date()),
  };
}

export interface ProcessEventsOptions extends EventProcessingOptions {
  /** Jobs claimed per round (one short transaction each); rounds repeat until no work is due. */
  limit?: number;
  /** The clock for due times, leases and backoff (tests pin it). Default: now. */
  now?: Date;
  /**
   * How long the run may keep starting jobs (default 60 s): no claim and no job starts after it,
   * and claimed jobs not yet started are handed back. The caller keeps its own margin for the
   * job in progress (the events Lambda passes its remaining time minus a safety margin).
   */
  timeBudgetMs?: number;
  random?: () => number;
}

export interface ProcessEventsResult {
  /** Jobs claimed (processed + failed + released + stale). */
  claimed: number;
  /** Jobs completed: their events' memories are stored. */
  processed: number;
  /** Jobs whose attempt failed (a retry is scheduled, or it was dead-lettered). */
  failed: number;
  /** Of `failed`, the jobs that will not be retried: job and event FAILED, a dead letter written. */
  deadLettered: number;
  /** New memories stored (chunks whose content already existed in the workspace are not counted). */
  memories: number;
  /** Claimed jobs handed back unstarted because the time budget ran out. */
  released: number;
  /** Claimed jobs whose lease had been taken over by another run before they finished here. */
  stale: number;
}

/** The events job: turns queued events into memories, across workspaces, until none is due or the budget is spent. */
export async function processEvents(
  database: Database,
  options: ProcessEventsOptions = {},
): Promise<ProcessEventsResult> {
  const run = await runJobs(database, [eventProcessingHandler(options)], {
    limit: options.limit ?? 25,
    now: options.now,
    timeBudgetMs: options.timeBudgetMs,
    random: options.random,
  });
  const result: ProcessEventsResult = {
    claimed: run.claimed,
    processed: run.completed.length,
    failed: run.failed,
    deadLettered: run.deadLettered,
    memories: run.completed.reduce((sum, done) => sum + done.output.created, 0),
    released: run.released,
    stale: run.stale,
  };
  if (result.claimed > 0) logger.info("events processed", { ...result });
  return result;
}
