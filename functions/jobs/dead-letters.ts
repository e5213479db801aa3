/**
 * Dead-letter reprocessing. One Lambda, two triggers:
 *
 * (a) a schedule (default every 5 minutes): redrives the dead letters marked for automatic
 *     retry — `auto_retry`, OPEN, due (`next_retry_at <= now`, or unset) and under their cap
 *     (`redrive_count < max_redrives`) — at most CAIRN_DEAD_LETTER_REDRIVES_PER_RUN [100] per
 *     run. A work-item dead letter is redriven by the work-orders context's `redriveDeadLetter`
 *     (the item is QUEUED again); an event dead letter gets its event's processing job queued
 *     again; an approval-webhook dead letter is redriven by the approvals context's
 *     `redriveWebhookDeadLetter` (its notification job is PENDING again). Either way the dead
 *     letter becomes REDRIVEN. (Queue dead letters are records only: never redriven here.) When the redriven work fails again,
 *     its context writes a new dead letter; this job carries the automatic retry over to it
 *     (same cap, the redrive count so far) and schedules it with exponential backoff:
 *     `next_retry_at = failure time + min(CAIRN_DEAD_LETTER_BACKOFF_MAX_MS [6 h],
 *     CAIRN_DEAD_LETTER_BACKOFF_BASE_MS [5 min] × 2^(redrives so far − 1))`. So the cap
 *     holds for the work, not just for one row. A redrive that is refused for good (its item
 *     is gone or no longer FAILED, its order was cancelled) switches the dead letter's
 *     `auto_retry` off and records why in its `errors`, leaving it OPEN for a person; one
 *     that fails for another reason counts against the cap and backs off the same way.
 *
 * (b) the subscriber of the AWS dead-letter queue (an SQS batch): stores each message as a
 *     dead letter with source `queue` in the workspace named by the message's JSON body
 *     (`workspaceId`), idempotently per SQS message id, and reports partial batch failures:
 *     a message that cannot be attributed to an existing workspace (malformed JSON, no valid
 *     workspace id) cannot go into a tenant table, so it is reported in `batchItemFailures`
 *     and SQS keeps it (for the queue's 14-day retention) — nothing is dropped silently.
 */
import type { ScheduledEvent, SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { sql } from "drizzle-orm";
import { type Database, jsonParam, rows, type Tx } from "../../db/client";
import { redriveWebhookDeadLetter } from "../approvals/notifications";
import { systemActor } from "../shared/actor";
import { audit } from "../shared/audit";
import { Conflict, NotFound } from "../shared/errors";
import { lambdaDatabase } from "../shared/lambda-database";
import { logger } from "../shared/logger";
import { redriveDeadLetter } from "../work-orders/dead-letters";
import { type DatabaseSource, describeError, envNumber, type JobContext, runJob } from "./job";

/** Who the job's redrives are recorded as (`redriven_by`, activity actor id). */
export const REPROCESSOR_ID = "dead-letter-reprocessor";

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
  /** Due dead letters another run held (skipped; that run redrives them). */
  skipped: number;
  ok: boolean;
}

interface DueLetter {
  id: string;
  workspace_id: string;
  source: "work_item" | "event" | "webhook";
}

/**
 * (a) One scheduled pass: carry the automatic retry over to re-failed work, then redrive up
 * to `perRun` due dead letters, each in its own tenant transaction (RLS applies).
 */
export async function redriveDueDeadLetters(database: Database, options: RedriveOptions = {}): Promise<RedriveResult> {
  const config = { ...DEFAULT_REDRIVE_CONFIG, ...options };
  const now = options.now ?? new Date();
  const result: RedriveResult = {
    carriedOver: await carryOverAutoRetry(database, config),
    due: 0,
    redriven: { workItems: 0, events: 0, webhooks: 0 },
    refused: [],
    failed: [],
    skipped: 0,
    ok: true,
  };

  // Reading the due list across workspaces is the maintenance role's job; each redrive then
  // runs as its workspace's tenant and locks its row again, so concurrent runs split the work.
  const due = await database.withMaintenance((tx) =>
    rows<DueLetter>(
      tx,
      sql`select id, workspace_id, source::text as source from dead_letters
          where auto_retry and status = 'OPEN' and source in ('work_item', 'event', 'webhook')
            and (next_retry_at <= ${now.toISOString()}::timestamptz or next_retry_at is null)
            and redrive_count < max_redrives
          order by next_retry_at nulls first, id
          limit ${config.perRun}`,
    ),
  );
  result.due = due.length;

  for (const letter of due) {
    try {
      const outcome = await database.withTenant({ workspaceId: letter.workspace_id }, (tx) =>
        redriveOne(tx, letter, now),
      );
      if (outcome === "skipped") result.skipped += 1;
      else if (letter.source === "work_item") result.redriven.workItems += 1;
      else if (letter.source === "event") result.redriven.events += 1;
      else result.redriven.webhooks += 1;
    } catch (error) {
      const failure = { deadLetterId: letter.id, workspaceId: letter.workspace_id, error: describeError(error) };
      const permanent = error instanceof Conflict || error instanceof NotFound;
      (permanent ? result.refused : result.failed).push(failure);
      try {
        await recordRedriveFailure(database, letter, failure.error, permanent, now, config);
      } catch (recordError) {
        // The row stays as it was: the next run retries it.
        logger.error("could not record a failed redrive", { deadLetterId: letter.id, error: recordError });
      }
    }
  }
  result.ok = result.failed.length === 0;
  return result;
}

/** Locks the dead letter (skipping one another run holds), re-checks it is due, redrives it. */
async function redriveOne(tx: Tx, letter: DueLetter, now: Date): Promise<"redriven" | "skipped"> {
  const [locked] = await rows<{ id: string; raw_event_id: string | null }>(
    tx,
    sql`select id, raw_event_id from dead_letters
        where id = ${letter.id}::uuid and workspace_id = ${letter.workspace_id}::uuid
          and auto_retry and status = 'OPEN' and redrive_count < max_redrives
          and (next_retry_at <= ${now.toISOString()}::timestamptz or next_retry_at is null)
        for update skip locked`,
  );
  if (!locked) return "skipped";
  const actor = systemActor(letter.workspace_id, REPROCESSOR_ID);
  if (letter.source === "work_item") {
    await redriveDeadLetter(tx, actor, letter.id, {}, { automatic: true });
  } else if (letter.source === "webhook") {
    // The approvals context's redrive: the notification job is PENDING again; the sweeper delivers it.
    if (!(await redriveWebhookDeadLetter(tx, letter.workspace_id, letter.id, REPROCESSOR_ID))) {
      throw new Conflict("The webhook's notification job is not FAILED; there is nothing to redrive");
    }
  } else {
    await requeueEvent(tx, letter.workspace_id, letter.id, locked.raw_event_id);
  }
  return "redriven";
}

/**
 * An event dead letter: its event's latest processing job goes back to PENDING with a fresh
 * attempt budget (or a new job, if it is gone), the event to PENDING, the dead letter to
 * REDRIVEN. If processing fails again, the events job writes a new dead letter.
 */
async function requeueEvent(tx: Tx, workspaceId: string, deadLetterId: string, rawEventId: string | null) {
  if (!rawEventId) throw new Conflict("The dead letter's event no longer exists");
  const [event] = await rows<{ id: string; job_id: string | null; job_status: string | null }>(
    tx,
    sql`select e.id, j.id as job_id, j.status::text as job_status
        from raw_events e
        left join lateral (
          select id, status from processing_jobs
          where workspace_id = e.workspace_id and event_id = e.id
          order by created_at desc limit 1
        ) j on true
        where e.workspace_id = ${workspaceId}::uuid and e.id = ${rawEventId}::uuid
        for update of e`,
  );
  if (!event) throw new Conflict("The dead letter's event no longer exists");
  if (event.job_status && event.job_status !== "FAILED") {
    throw new Conflict(`The event's processing job is ${event.job_status}, not FAILED; there is nothing to redrive`);
  }
  if (event.job_id) {
    await tx.execute(sql`
      update processing_jobs
      set status = 'PENDING', attempts = 0, available_at = now(), locked_until = null, error = null,
          completed_at = null, updated_at = now()
      where id = ${event.job_id}::uuid and status = 'FAILED'`);
  } else {
    await tx.execute(sql`
      insert into processing_jobs (workspace_id, job_type, event_id) values (${workspaceId}::uuid, 'event', ${rawEventId}::uuid)`);
  }
  await tx.execute(sql`
    update raw_events set processing_status = 'PENDING', processed_at = null, updated_at = now()
    where workspace_id = ${workspaceId}::uuid and id = ${rawEventId}::uuid`);
  const [letter] = await rows<{ redrive_count: number }>(
    tx,
    sql`update dead_letters
        set status = 'REDRIVEN', redrive_count = redrive_count + 1, redriven_at = now(), redriven_by = ${REPROCESSOR_ID},
            next_retry_at = null, updated_at = now()
        where id = ${deadLetterId}::uuid and status = 'OPEN'
        returning redrive_count`,
  );
  if (!letter) throw new Conflict("The dead letter changed concurrently");
  await audit(tx, systemActor(workspaceId, REPROCESSOR_ID), [
    {
      action: "dead_letter.redriven",
      entity: { type: "dead_letter", id: deadLetterId },
      before: { status: "OPEN" },
      after: { status: "REDRIVEN", rawEventId, redriveCount: letter.redrive_count, automatic: true },
    },
    {
      action: "event.requeued",
      entity: { type: "raw_event", id: rawEventId },
      before: { processingStatus: "FAILED" },
      after: { processingStatus: "PENDING", deadLetterId },
    },
  ]);
}

/** A failed redrive, in its own transaction (the redrive's rolled back). */
async function recordRedriveFailure(
  database: Database,
  letter: DueLetter,
  error: string,
  permanent: boolean,
  now: Date,
  config: RedriveConfig,
) {
  await database.withTenant({ workspaceId: letter.workspace_id }, async (tx) => {
    const entry = { redrive: "automatic", error, at: now.toISOString(), autoRetryStopped: permanent };
    const [updated] = await rows<{ redrive_count: number }>(
      tx,
      permanent
        ? sql`update dead_letters
              set auto_retry = false, next_retry_at = null, errors = errors || ${jsonParam([entry])}, updated_at = now()
              where id = ${letter.id}::uuid and workspace_id = ${letter.workspace_id}::uuid and status = 'OPEN'
              returning redrive_count`
        : sql`update dead_letters
              set redrive_count = redrive_count + 1,
                  next_retry_at = ${now.toISOString()}::timestamptz
                    + least(${config.backoffMaxMs}::float8, ${config.backoffBaseMs}::float8 * power(2, redrive_count)) * interval '1 millisecond',
                  errors = errors || ${jsonParam([entry])}, updated_at = now()
              where id = ${letter.id}::uuid and workspace_id = ${letter.workspace_id}::uuid and status = 'OPEN'
              returning redrive_count`,
    );
    if (!updated) return;
    await audit(tx, systemActor(letter.workspace_id, REPROCESSOR_ID), {
      action: permanent ? "dead_letter.auto_retry_stopped" : "dead_letter.redrive_failed",
      entity: { type: "dead_letter", id: letter.id },
      after: { error, redriveCount: updated.redrive_count },
    });
  });
}

/**
 * A work item or event that this job redrove and that failed again has a new OPEN dead letter
 * (written by its context, without `auto_retry`). It inherits the retry: `auto_retry`, the cap,
 * the redrives so far, and a backed-off `next_retry_at`. Only a dead letter never touched
 * (no redrives, not redriven) whose immediate predecessor for the same item or event was
 * redriven by this job qualifies, so a person's later choice on it is never overridden.
 * One set-based statement.
 */
async function carryOverAutoRetry(database: Database, config: RedriveConfig): Promise<number> {
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
            next_retry_at = i.created_at
              + least(${config.backoffMaxMs}::float8, ${config.backoffBaseMs}::float8 * power(2, greatest(i.redrive_count - 1, 0)))
                * interval '1 millisecond',
            updated_at = now()
        from inherited i
        where d.id = i.id
        returning d.id, d.workspace_id, d.redrive_count`,
    ),
  );
  return carried.length;
}

// ---------------------------------------------------------------------------------------------
// (b) The dead-letter queue's subscriber
// ---------------------------------------------------------------------------------------------

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface QueueDeadLetterResult {
  received: number;
  stored: number;
  /** Messages already stored by an earlier delivery of the same SQS message. */
  duplicates: number;
  /** Messages reported back to SQS (`batchItemFailures`), with why. */
  failures: Array<{ messageId: string; error: string }>;
  ok: boolean;
}

interface ParsedMessage {
  message_id: string;
  workspace_id: string;
  reason: string;
  payload: Record<string, unknown>;
}

function parseRecord(record: SQSRecord): ParsedMessage | string {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    return "The message body is not JSON";
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) return "The message body is not a JSON object";
  const workspaceId = (body as { workspaceId?: unknown }).workspaceId;
  if (typeof workspaceId !== "string" || !UUID.test(workspaceId)) return "The message has no valid workspaceId";
  const receives = record.attributes?.ApproximateReceiveCount;
  const queue = record.eventSourceARN?.split(":").pop() ?? "the dead-letter queue";
  return {
    message_id: record.messageId,
    workspace_id: workspaceId.toLowerCase(),
    reason: `Queue message moved to ${queue} after ${receives ?? "repeated"} failed receives`,
    payload: {
      sqs: {
        messageId: record.messageId,
        eventSourceARN: record.eventSourceARN,
        receiveCount: receives === undefined ? null : Number(receives),
        sentAt: record.attributes?.SentTimestamp
          ? new Date(Number(record.attributes.SentTimestamp)).toISOString()
          : null,
        messageAttributes: record.messageAttributes ?? {},
      },
      message: body,
    },
  };
}

/**
 * (b) Stores a dead-letter-queue batch: one transaction as the maintenance role (the batch
 * spans workspaces), one statement for all attributable messages. Idempotent per SQS message
 * id: the insert skips a message already stored (`NOT EXISTS` in the same statement), and a
 * transaction-scoped advisory lock per message id keeps two concurrent deliveries of one
 * message from both inserting (there is no unique index to lean on).
 */
export async function storeQueueDeadLetters(database: Database, records: SQSRecord[]): Promise<QueueDeadLetterResult> {
  const failures: QueueDeadLetterResult["failures"] = [];
  const parsed: ParsedMessage[] = [];
  for (const record of records) {
    const message = parseRecord(record);
    if (typeof message === "string") failures.push({ messageId: record.messageId, error: message });
    else parsed.push(message);
  }
  let stored = 0;
  let duplicates = 0;
  if (parsed.length > 0) {
    const outcome = await database.withMaintenance(async (tx) => {
      const ids = [...new Set(parsed.map((m) => m.message_id))].sort();
      await tx.execute(
        sql`select pg_advisory_xact_lock(hashtextextended('cairn.queue-dead-letter:' || id, 0))
            from jsonb_array_elements_text(${jsonParam(ids)}) as id order by id`,
      );
      return rows<{ message_id: string; outcome: "stored" | "duplicate" }>(
        tx,
        sql`
          with input as (
            select * from jsonb_to_recordset(${jsonParam(parsed)})
              as x(message_id text, workspace_id uuid, reason text, payload jsonb)
          ),
          attributable as (
            select distinct on (i.message_id) i.* from input i join workspaces w on w.id = i.workspace_id
            order by i.message_id
          ),
          existing as (
            select a.message_id from attributable a
            where exists (
              select 1 from dead_letters d
              where d.workspace_id = a.workspace_id and d.source = 'queue'
                and d.payload -> 'sqs' ->> 'messageId' = a.message_id
            )
          ),
          inserted as (
            insert into dead_letters (workspace_id, source, reason, payload)
            select a.workspace_id, 'queue', a.reason, a.payload from attributable a
            where a.message_id not in (select message_id from existing)
            returning id, workspace_id, payload -> 'sqs' ->> 'messageId' as message_id
          ),
          logged as (
            insert into activity_log (workspace_id, actor_type, actor_id, action, entity_type, entity_id, after)
            select workspace_id, 'SYSTEM', ${REPROCESSOR_ID}, 'dead_letter.created', 'dead_letter', id,
                   jsonb_build_object('source', 'queue', 'messageId', message_id)
            from inserted
          )
          select message_id, 'stored' as outcome from inserted
          union all
          select message_id, 'duplicate' as outcome from existing`,
      );
    });
    const known = new Map(outcome.map((row) => [row.message_id, row.outcome]));
    for (const message of parsed) {
      const result = known.get(message.message_id);
      if (result === "stored") stored += 1;
      else if (result === "duplicate") duplicates += 1;
      else failures.push({ messageId: message.message_id, error: `Workspace ${message.workspace_id} does not exist` });
    }
  }
  return { received: records.length, stored, duplicates, failures, ok: failures.length === 0 };
}

// ---------------------------------------------------------------------------------------------
// The Lambda
// ---------------------------------------------------------------------------------------------

function isSqsEvent(event: unknown): event is SQSEvent {
  return typeof event === "object" && event !== null && Array.isArray((event as SQSEvent).Records);
}

/**
 * The dead-letters Lambda: an SQS batch (the dead-letter queue) is stored and answered with
 * `{ batchItemFailures }`; anything else (the schedule) runs a redrive pass and returns its summary.
 */
export function makeDeadLettersHandler(getDatabase: DatabaseSource, overrides: RedriveOptions = {}) {
  async function handler(event: SQSEvent, context?: JobContext): Promise<SQSBatchResponse>;
  async function handler(
    event?: ScheduledEvent,
    context?: JobContext,
  ): Promise<Awaited<ReturnType<typeof redriveSummary>>>;
  async function handler(event?: ScheduledEvent | SQSEvent, _context?: JobContext) {
    if (isSqsEvent(event)) {
      const summary = await runJob("dead-letters", "queue", async () =>
        storeQueueDeadLetters(await getDatabase(), event.Records),
      );
      const batchItemFailures: SQSBatchItemFailure[] = summary.failures.map((f) => ({ itemIdentifier: f.messageId }));
      return { batchItemFailures };
    }
    return redriveSummary(getDatabase, overrides);
  }
  return handler;
}

function redriveSummary(getDatabase: DatabaseSource, overrides: RedriveOptions) {
  return runJob("dead-letters", "schedule", async () =>
    redriveDueDeadLetters(await getDatabase(), { ...redriveConfig(), ...overrides }),
  );
}

export const handler = makeDeadLettersHandler(lambdaDatabase);
