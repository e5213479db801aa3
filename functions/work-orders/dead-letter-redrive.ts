/**
 * Automatic redrive of dead letters, a handler on the internal job runtime. A dead letter
 * marked `auto_retry` (OPEN, due: `next_retry_at <= now` or unset, under its cap
 * `redrive_count < max_redrives`) gets a `dead_letter_redrive` job when the dead-letters
 * schedule ticks; the job redrives it: a work item is QUEUED again (`redriveDeadLetter`), an
 * event or a webhook notification has its job PENDING again (the runtime's
 * `redriveJobDeadLetter`, with its handler's `onRedrive`). Either way the dead letter becomes
 * REDRIVEN. When the redriven work fails again, its new dead letter inherits the automatic
 * retry (`carryOverAutoRetry`: same cap, the redrive count so far) with backoff
 * `min(backoffMaxMs, backoffBaseMs × 2^(redrives so far − 1))`, so the cap holds for the work,
 * not just for one row. A redrive refused for good (the item is gone or no longer FAILED, its
 * order was cancelled) switches `auto_retry` off and records why in the dead letter's `errors`,
 * leaving it OPEN for a person; one that fails otherwise counts against the cap and backs off.
 */
import { sql } from "drizzle-orm";
import { type Database, jsonParam, rows, type Tx } from "../../db/client";
import type { JobHandler } from "../jobs/runtime/job";
import { StaleJob } from "../jobs/runtime/job";
import { redriveJobDeadLetter } from "../jobs/runtime/redrive";
import { enqueueJobs } from "../jobs/runtime/sql/enqueue";
import { runJobs } from "../jobs/runtime/worker";
import { systemActor } from "../shared/actor";
import { audit } from "../shared/audit";
import { Conflict, describeError, NotFound } from "../shared/errors";
import { type RetryPolicy, retryDelaySql } from "../shared/retry";
import { redriveDeadLetter } from "./dead-letters";

/** Who the automatic redrives are recorded as (`redriven_by`, activity actor id). */
export const REPROCESSOR_ID = "dead-letter-reprocessor";
export const DEAD_LETTER_REDRIVE_JOB = "dead_letter_redrive";

export interface RedriveConfig {
  /** Most dead letters redriven in one run. */
  perRun: number;
  /** Backoff before the first automatic redrive of a re-failed item or event; doubles per redrive. */
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export const DEFAULT_REDRIVE_CONFIG: RedriveConfig = {
  perRun: 100,
  backoffBaseMs: 5 * 60_000,
  backoffMaxMs: 6 * 60 * 60_000,
};

/** No jitter: `next_retry_at` is a time a person reads on the dead letter and plans around. */
const redriveBackoff = (config: RedriveConfig): RetryPolicy => ({
  baseMs: config.backoffBaseMs,
  capMs: config.backoffMaxMs,
  jitter: "none",
});

export interface RedriveFailure {
  deadLetterId: string;
  workspaceId: string;
  error: string;
}

export interface RedriveResult {
  /** Re-failed items and events whose new dead letter took over the automatic retry. */
  carriedOver: number;
  /** Due dead letters found (at most `perRun`). */
  due: number;
  redriven: { workItems: number; events: number; webhooks: number };
  /** Redrives refused for good: `auto_retry` switched off, left OPEN for a person. */
  refused: RedriveFailure[];
  /** Redrives that failed otherwise: counted against the cap, retried after a backoff. */
  failed: RedriveFailure[];
  /** Due dead letters another run had redriven or held by the time this one got to them. */
  skipped: number;
  ok: boolean;
}

type Source = "work_item" | "event" | "webhook";

interface RedriveInput {
  deadLetterId: string;
  source: Source;
}

type RedriveOutput =
  | { outcome: "redriven" | "skipped"; source: Source }
  | { outcome: "refused" | "failed"; source: Source; error: string };

const DUE = (now: Date) => sql`auto_retry and status = 'OPEN' and source in ('work_item', 'event', 'webhook')
  and (next_retry_at <= ${now.toISOString()}::timestamptz or next_retry_at is null)
  and redrive_count < max_redrives`;

/** Locks the dead letter (skipping one another run holds), re-checks it is due, redrives it. */
async function redriveOne(
  tx: Tx,
  workspaceId: string,
  input: RedriveInput,
  now: Date,
  jobHandlers: Pick<JobHandler, "type" | "onRedrive">[],
): Promise<"redriven" | "skipped"> {
  const [locked] = await rows<{ id: string }>(
    tx,
    sql`select id from dead_letters
        where id = ${input.deadLetterId}::uuid and workspace_id = ${workspaceId}::uuid and ${DUE(now)}
        for update skip locked`,
  );
  if (!locked) return "skipped";
  const actor = systemActor(workspaceId, REPROCESSOR_ID);
  if (input.source === "work_item") {
    await redriveDeadLetter(tx, actor, input.deadLetterId, {}, { automatic: true });
  } else if (!(await redriveJobDeadLetter(tx, actor, input.deadLetterId, jobHandlers))) {
    throw new Conflict(`The ${input.source}'s job is gone or not FAILED; there is nothing to redrive`);
  }
  return "redriven";
}

/** A failed redrive, recorded on the dead letter (the redrive's own transaction rolled back). */
async function recordRedriveFailure(
  tx: Tx,
  workspaceId: string,
  deadLetterId: string,
  failure: { error: string; permanent: boolean; now: Date; config: RedriveConfig },
) {
  const entry = {
    redrive: "automatic",
    error: failure.error,
    at: failure.now.toISOString(),
    autoRetryStopped: failure.permanent,
  };
  const [updated] = await rows<{ redrive_count: number }>(
    tx,
    failure.permanent
      ? sql`update dead_letters
            set auto_retry = false, next_retry_at = null, errors = errors || ${jsonParam([entry])}, updated_at = now()
            where id = ${deadLetterId}::uuid and workspace_id = ${workspaceId}::uuid and status = 'OPEN'
            returning redrive_count`
      : sql`update dead_letters
            set redrive_count = redrive_count + 1,
                next_retry_at = ${failure.now.toISOString()}::timestamptz
                  + ${retryDelaySql(redriveBackoff(failure.config), sql`redrive_count + 1`)},
                errors = errors || ${jsonParam([entry])}, updated_at = now()
            where id = ${deadLetterId}::uuid and workspace_id = ${workspaceId}::uuid and status = 'OPEN'
            returning redrive_count`,
  );
  if (!updated) return;
  await audit(tx, systemActor(workspaceId, REPROCESSOR_ID), {
    action: failure.permanent ? "dead_letter.auto_retry_stopped" : "dead_letter.redrive_failed",
    entity: { type: "dead_letter", id: deadLetterId },
    after: { error: failure.error, redriveCount: updated.redrive_count },
  });
}

export function deadLetterRedriveHandler(options: {
  config: RedriveConfig;
  now: () => Date;
  /** The handlers of the job types whose dead letters are redriven (their `onRedrive`). */
  jobHandlers: Pick<JobHandler, "type" | "onRedrive">[];
}): JobHandler<RedriveOutput> {
  return {
    type: DEAD_LETTER_REDRIVE_JOB,
    maxAttempts: 3,
    retry: { baseMs: 30_000, capMs: 600_000, jitter: "full" },
    leaseMs: 120_000,
    concurrency: 1,
    async run(job, context) {
      const input = job.input as unknown as RedriveInput;
      const now = options.now();
      try {
        return await context.inJob(async (tx, complete) => {
          const outcome = await redriveOne(tx, job.workspaceId, input, now, options.jobHandlers);
          const output: RedriveOutput = { outcome, source: input.source };
          await complete(output);
          return output;
        });
      } catch (error) {
        if (error instanceof StaleJob) throw error;
        const permanent = error instanceof Conflict || error instanceof NotFound;
        const message = describeError(error);
        return context.inJob(async (tx, complete) => {
          await recordRedriveFailure(tx, job.workspaceId, input.deadLetterId, {
            error: message,
            permanent,
            now,
            config: options.config,
          });
          const output: RedriveOutput = {
            outcome: permanent ? "refused" : "failed",
            source: input.source,
            error: message,
          };
          await complete(output);
          return output;
        });
      }
    },
    // The dead letter being redriven keeps the failure: it stays OPEN and is due again next tick.
    deadLetter: async () => null,
  };
}

/**
 * One scheduled pass: carry the automatic retry over to re-failed work, enqueue a redrive job
 * for each due dead letter (at most `perRun`; one live job per dead letter), then run them,
 * each in its own tenant transaction (RLS applies).
 */
export async function redriveDueDeadLetters(
  database: Database,
  options: { config: RedriveConfig; now: Date; jobHandlers: Pick<JobHandler, "type" | "onRedrive">[] },
): Promise<RedriveResult> {
  const { config, now } = options;
  const carriedOver = await carryOverAutoRetry(database, config);
  // Reading the due list across workspaces is the maintenance role's job.
  const due = await database.withMaintenance(async (tx) => {
    const letters = await rows<{ id: string; workspace_id: string; source: Source }>(
      tx,
      sql`select id, workspace_id, source::text as source from dead_letters where ${DUE(now)}
          order by next_retry_at nulls first, id
          limit ${config.perRun}`,
    );
    await enqueueJobs(
      tx,
      letters.map((letter) => ({
        workspaceId: letter.workspace_id,
        type: DEAD_LETTER_REDRIVE_JOB,
        input: { deadLetterId: letter.id, source: letter.source },
        maxAttempts: 3,
        availableAt: now,
        dedupKey: letter.id,
      })),
    );
    return letters.length;
  });
  const run = await runJobs(database, [deadLetterRedriveHandler({ ...options, now: () => now })], {
    now,
    limit: config.perRun,
  });
  const result: RedriveResult = {
    carriedOver,
    due,
    redriven: { workItems: 0, events: 0, webhooks: 0 },
    refused: [],
    failed: [],
    skipped: 0,
    ok: true,
  };
  const counter = { work_item: "workItems", event: "events", webhook: "webhooks" } as const;
  for (const { job, output } of run.completed) {
    if (output.outcome === "redriven") result.redriven[counter[output.source]] += 1;
    else if (output.outcome === "skipped") result.skipped += 1;
    else if (output.outcome === "refused" || output.outcome === "failed") {
      const input = job.input as unknown as RedriveInput;
      (output.outcome === "refused" ? result.refused : result.failed).push({
        deadLetterId: input.deadLetterId,
        workspaceId: job.workspaceId,
        error: output.error,
      });
    }
  }
  result.ok = result.failed.length === 0 && run.failed === 0;
  return result;
}

/**
 * A work item or event that this job redrove and that failed again has a new OPEN dead letter
 * (written by its context, without `auto_retry`). It inherits the retry: `auto_retry`, the cap,
 * the redrives so far, and a backed-off `next_retry_at`. Only a dead letter never touched
 * (no redrives, not redriven) whose immediate predecessor for the same item or event was
 * redriven by this job qualifies, so a person's later choice on it is never overridden.
 * One set-based statement.
 */
export async function carryOverAutoRetry(database: Database, config: RedriveConfig): Promise<number> {
  const carried = await database.withMaintenance((tx) =>
    rows<{ id: string; workspace_id: string; redrive_count: number }>(
      tx,
      sql`
        with inherited as (
          select d.id, p.redrive_count, p.max_redrives, d.created_at
          from dead_letters d
          join lateral (
            select p.* from dead_letters p
            where p.workspace_id = d.workspace_id and p.source = d.source and p.id <> d.id
              and p.created_at <= d.created_at
              and ((d.source = 'work_item' and p.work_item_id = d.work_item_id)
                or (d.source = 'event' and p.raw_event_id = d.raw_event_id)
                or (d.source = 'webhook' and p.payload ->> 'jobId' = d.payload ->> 'jobId'))
            order by p.created_at desc, p.id desc
            limit 1
          ) p on true
          where d.status = 'OPEN' and not d.auto_retry and d.redrive_count = 0 and d.redriven_at is null
            and d.source in ('work_item', 'event', 'webhook')
            and (d.work_item_id is not null or d.raw_event_id is not null or d.payload ->> 'jobId' is not null)
            and p.status = 'REDRIVEN' and p.auto_retry and p.redriven_by = ${REPROCESSOR_ID}
          limit 1000
        )
        update dead_letters d
        set auto_retry = true, redrive_count = i.redrive_count, max_redrives = i.max_redrives,
            next_retry_at = i.created_at + ${retryDelaySql(redriveBackoff(config), sql`i.redrive_count`)},
            updated_at = now()
        from inherited i
        where d.id = i.id
        returning d.id, d.workspace_id, d.redrive_count`,
    ),
  );
  return carried.length;
}
