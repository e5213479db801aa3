/**
 * The shapes of the internal job runtime: a claimed job, and a handler that a context
 * registers for a job type (memory: event processing; approvals: webhook delivery;
 * work-orders: dead-letter redrive).
 */
import type { Database, Tx } from "../../../db/client";
import type { deadLetterSource } from "../../../db/schema";
import type { RetryPolicy } from "../../shared/retry";

export interface ClaimedJob {
  id: string;
  workspaceId: string;
  type: string;
  input: Record<string, unknown>;
  /** The raw event an event-processing job works on. */
  eventId: string | null;
  /** This attempt's number (1 for the first). */
  attempts: number;
  maxAttempts: number;
  /** The claim's fence: completion and failure are refused once another claim took the job. */
  fencingToken: string;
  /** The errors of earlier attempts, oldest first. */
  errors: JobError[];
}

export interface JobError {
  attempt: number;
  error: string;
  at: string;
}

/** A failed job's dead letter, written in the transaction that fails it for good. */
export interface DeadLetterSpec {
  source: (typeof deadLetterSource.enumValues)[number];
  reason: string;
  payload: Record<string, unknown>;
  rawEventId?: string | null;
}

export interface JobContext {
  database: Database;
  /** The clock of this run (due times, leases, backoff); tests pin it. */
  now: Date;
  /**
   * Opens a transaction as the job's workspace (RLS applies) that first locks the job, fenced:
   * `fn` runs only while this claim still holds the job, else the run counts it stale.
   * `complete(output)` inside marks it COMPLETED in that same transaction.
   */
  inJob<T>(fn: (tx: Tx, complete: (output: Record<string, unknown>) => Promise<void>) => Promise<T>): Promise<T>;
}

export interface JobHandler<Output extends Record<string, unknown> = Record<string, unknown>> {
  type: string;
  /** Attempts a job gets when enqueued without its own. */
  maxAttempts: number;
  retry: RetryPolicy;
  /** How long a claim holds a job before another run may take it over. */
  leaseMs: number;
  /** Claimed jobs of this type that run at once (webhooks: many; embedding work: one). */
  concurrency: number;
  /**
   * Does the job and completes it through `context.inJob` (so the work and the completion
   * commit together). A thrown error fails the attempt: retried by `retry` while attempts are
   * left and `retryable(error)` says so, else the job fails for good.
   */
  run(job: ClaimedJob, context: JobContext): Promise<Output>;
  retryable?(error: unknown): boolean;
  /**
   * The dead letter of a job that failed for good, read in the failing transaction (null: none,
   * when the job's subject keeps the failure itself).
   */
  deadLetter(tx: Tx, job: ClaimedJob, error: string, retryable: boolean): Promise<DeadLetterSpec | null>;
  /** What else changes when an attempt fails, in the same transaction (`final`: no retry follows). */
  onFailure?(tx: Tx, job: ClaimedJob, final: boolean): Promise<void>;
  /** What else changes when the job's dead letter is redriven (the job is PENDING again), same transaction. */
  onRedrive?(tx: Tx, job: { id: string; workspaceId: string; eventId: string | null }): Promise<void>;
}

/** A job whose claim was taken over (its lease expired and another run claimed it): it changes nothing. */
export class StaleJob extends Error {
  constructor(jobId: string) {
    super(`job ${jobId} is no longer held by this run`);
    this.name = "StaleJob";
  }
}
