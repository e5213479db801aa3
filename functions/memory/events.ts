/**
 * Events: the event-sourcing path into memory.
 *
 * Raw events arrive in batches (`POST /v1/events` with an API key, or
 * `POST /v1/connectors/{id}/events` signed with the connector's secret). Each batch is one
 * statement that stores the new events, skips duplicates (same workspace, source and external
 * id) and queues a `processing_jobs` row per stored event. `processEvents` (the events job,
 * every minute and on an ingest-queue nudge) turns queued events into memories.
 */

import { timingSafeEqual } from "node:crypto";
import { z } from "@hono/zod-openapi";
import { and, desc, eq, type SQL, sql } from "drizzle-orm";
import { type Database, jsonParam, rows, type Tx } from "../../db/client";
import { deadLetters, processingJobs, processingStatus, rawEvents } from "../../db/schema";
import { type ActivityEntry, recordActivity } from "../shared/activity";
import { AppError, BadRequest, Forbidden, NotFound, Unauthorized, UpstreamFailed } from "../shared/errors";
import { logger } from "../shared/logger";
import { after, PageQuery, page } from "../shared/pagination";
import { SIGNATURE_HEADER, signBody, TIMESTAMP_HEADER } from "../shared/signatures";
import { parseInput } from "../shared/validation";
import { type ChunkOptions, chunkText } from "./chunking";
import { type EmbeddingProvider, EmbeddingProviderError } from "./embeddings";
import { insertMemories } from "./memories";
import { embeddingProvider } from "./provider";

// ---------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------

/** Most events one call may carry (one statement stores them all). */
export const MAX_EVENTS_PER_BATCH = 500;

/**
 * PostgreSQL text and jsonb cannot hold U+0000, and jsonb parsing has a nesting limit (the
 * server's stack): such input is refused here with a 400, instead of failing in the database.
 */
const NUL_MESSAGE = "must not contain the NUL character (U+0000)";
export const MAX_JSON_DEPTH = 64;
export const hasNoNul = (value: string) => !value.includes("\u0000");

/** What makes a JSON value unstorable (a NUL in any string or key, or deeper nesting than MAX_JSON_DEPTH), if anything. */
export function jsonProblem(value: unknown): string | undefined {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop()!;
    if (typeof current === "string") {
      if (!hasNoNul(current)) return NUL_MESSAGE;
    } else if (current !== null && typeof current === "object") {
      if (depth >= MAX_JSON_DEPTH) return `must not be nested deeper than ${MAX_JSON_DEPTH} levels`;
      for (const [key, inner] of Object.entries(current)) {
        if (!hasNoNul(key)) return NUL_MESSAGE;
        stack.push({ value: inner, depth: depth + 1 });
      }
    }
  }
  return undefined;
}

export const StorableString = () => z.string().refine(hasNoNul, { message: NUL_MESSAGE });
export const StorableJson = <T extends z.ZodTypeAny>(schema: T) =>
  schema.superRefine((value, ctx) => {
    const problem = jsonProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

const Label = StorableString().trim().min(1).max(200);

export const EventInput = z
  .strictObject({
    // At most 100 characters: it becomes the memories' source_type.
    source: StorableString()
      .trim()
      .min(1)
      .max(100)
      .openapi({ description: "Where the event comes from: slack, jira, git, …", example: "slack" }),
    eventType: Label.openapi({ example: "message.posted" }),
    externalId: StorableString().min(1).max(500).openapi({
      description: "The event's id in its source; with `source`, the duplicate key",
      example: "C024BE91L-1700000000.000100",
    }),
    payload: StorableJson(z.record(z.string(), z.unknown())).openapi({
      description:
        "The event as the source sent it. Text for memory is taken from `title` plus the first of `text`, `content`, `message`, `body`, `description` (string fields).",
      example: { text: "Deploys are frozen until Monday." },
    }),
    metadata: StorableJson(z.record(z.string(), z.unknown())).optional(),
  })
  .openapi("EventInput");
export type EventInput = z.infer<typeof EventInput>;

export const IngestEventsInput = z
  .strictObject({ events: z.array(EventInput).min(1).max(MAX_EVENTS_PER_BATCH) })
  .openapi("IngestEventsInput");
export type IngestEventsInput = z.infer<typeof IngestEventsInput>;

export const IngestedEvent = z
  .object({
    index: z.number().int().openapi({ description: "Position in the request's `events`" }),
    status: z.enum(["stored", "duplicate"]),
    id: z
      .string()
      .uuid()
      .nullable()
      .openapi({ description: "The stored event's id (for a duplicate, the id of the event already stored)" }),
    source: z.string(),
    externalId: z.string(),
  })
  .openapi("IngestedEvent");
export type IngestedEvent = z.infer<typeof IngestedEvent>;

export const IngestEventsResult = z
  .object({ stored: z.number().int(), duplicates: z.number().int(), items: z.array(IngestedEvent) })
  .openapi("IngestEventsResult");
export type IngestEventsResult = z.infer<typeof IngestEventsResult>;

export const EventStatus = z.enum(processingStatus.enumValues);

export const ListEventsQuery = PageQuery.extend({
  status: EventStatus.optional(),
  source: StorableString().max(200).optional(),
}).openapi("ListEventsQuery");
export type ListEventsQuery = z.infer<typeof ListEventsQuery>;

// ---------------------------------------------------------------------------------------------
// Ingestion
// ---------------------------------------------------------------------------------------------

export interface IngestOptions {
  /** Set when a connector delivered the batch (stored on each event). */
  connectorId?: string | null;
  /** Who to record in the activity log; defaults to the actor's user. */
  activityActor?: ActivityEntry["actor"];
  /** Attempts each event's processing job gets before it is dead-lettered. */
  maxAttempts?: number;
}

/**
 * Stores a batch of events in one statement: `INSERT … ON CONFLICT DO NOTHING RETURNING` on
 * (workspace, source, external id), plus each stored event's processing job in a CTE of the
 * same statement. Duplicates (already stored, or repeated within the batch) are reported with
 * the id of the stored event.
 */
export async function ingestEvents(
  tx: Tx,
  actor: { workspaceId: string; userId?: string | null },
  raw: z.input<typeof IngestEventsInput>,
  options: IngestOptions = {},
): Promise<IngestEventsResult> {
  const input = parseInput(IngestEventsInput, raw);
  const records = input.events.map((event, ord) => ({
    ord,
    source: event.source,
    event_type: event.eventType,
    external_id: event.externalId,
    payload: event.payload,
    metadata: event.metadata ?? {},
  }));
  const connectorId = options.connectorId ?? null;
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  // The outer SELECT sees the table as it was before this statement: rows inserted here come
  // from `inserted`, rows that were already there (the duplicates) from `existing`.
  const matched = await rows<{ ord: number; inserted_id: string | null; existing_id: string | null }>(
    tx,
    sql`
      with input as (
        select * from jsonb_to_recordset(${jsonParam(records)})
          as x(ord int, source text, event_type text, external_id text, payload jsonb, metadata jsonb)
      ),
      inserted as (
        insert into raw_events (workspace_id, source, event_type, external_id, connector_id, payload, metadata)
        select ${actor.workspaceId}::uuid, source, event_type, external_id, ${connectorId}::uuid, payload, metadata
        from input order by ord
        on conflict (workspace_id, source, external_id) do nothing
        returning id, source, external_id
      ),
      jobs as (
        insert into processing_jobs (workspace_id, job_type, event_id, max_attempts)
        select ${actor.workspaceId}::uuid, 'event', id, ${maxAttempts}::int from inserted
        returning id
      )
      select input.ord, inserted.id as inserted_id, existing.id as existing_id
      from input
      left join inserted on inserted.source = input.source and inserted.external_id = input.external_id
      left join raw_events existing
        on existing.workspace_id = ${actor.workspaceId}::uuid
       and existing.source = input.source and existing.external_id = input.external_id
      order by input.ord`,
  );

  const seen = new Set<string>();
  const items: IngestedEvent[] = [];
  const missing: number[] = [];
  for (const row of matched) {
    const event = input.events[row.ord]!;
    const key = JSON.stringify([event.source, event.externalId]);
    const stored = row.inserted_id !== null && !seen.has(key);
    seen.add(key);
    const id = row.inserted_id ?? row.existing_id;
    if (id === null) missing.push(row.ord);
    items.push({
      index: row.ord,
      status: stored ? "stored" : "duplicate",
      id,
      source: event.source,
      externalId: event.externalId,
    });
  }
  if (missing.length > 0) {
    // A concurrent batch committed the same keys after this statement's snapshot was taken.
    await fillConcurrentDuplicates(tx, actor.workspaceId, items, missing);
  }

  const storedItems = items.filter((item) => item.status === "stored");
  if (storedItems.length > 0) {
    await recordActivity(tx, {
      workspaceId: actor.workspaceId,
      actor: options.activityActor ?? { type: "USER", id: actor.userId ?? null },
      action: "events.ingested",
      entityType: "raw_event",
      entityId: storedItems[0]!.id!,
      after: { stored: storedItems.length, duplicates: items.length - storedItems.length, connectorId },
    });
  }
  return { stored: storedItems.length, duplicates: items.length - storedItems.length, items };
}

async function fillConcurrentDuplicates(tx: Tx, workspaceId: string, items: IngestedEvent[], missing: number[]) {
  const keys = missing.map((ord) => sql`(${items[ord]!.source}, ${items[ord]!.externalId})`);
  const found = await rows<{ id: string; source: string; external_id: string }>(
    tx,
    sql`select id, source, external_id from raw_events
        where workspace_id = ${workspaceId}::uuid and (source, external_id) in (${sql.join(keys, sql`, `)})`,
  );
  const byKey = new Map(found.map((row) => [JSON.stringify([row.source, row.external_id]), row.id]));
  for (const ord of missing) {
    items[ord]!.id = byKey.get(JSON.stringify([items[ord]!.source, items[ord]!.externalId])) ?? null;
  }
}

// ---------------------------------------------------------------------------------------------
// Connector intake (signed, no API key)
// ---------------------------------------------------------------------------------------------

/** How far a signed request's timestamp may be from the server's clock. */
export const SIGNATURE_TOLERANCE_SECONDS = 5 * 60;

export interface SignedDelivery {
  rawBody: string;
  /** `X-Cairn-Signature`: `sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`. */
  signature: string | undefined;
  /** `X-Cairn-Timestamp`: unix seconds. */
  timestamp: string | undefined;
}

/** Whether `signature` is the HMAC of the timestamp and raw body under `secret` (constant time). */
export function verifySignature(secret: string, delivery: SignedDelivery, now: Date): boolean {
  const { signature, timestamp, rawBody } = delivery;
  if (!signature || !timestamp || !/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(now.getTime() / 1000 - Number(timestamp)) > SIGNATURE_TOLERANCE_SECONDS) return false;
  const match = /^sha256=([0-9a-f]{64})$/i.exec(signature.trim());
  if (!match) return false;
  const expected = Buffer.from(signBody(secret, timestamp, rawBody).slice("sha256=".length), "hex");
  const presented = Buffer.from(match[1]!.toLowerCase(), "hex");
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}

/**
 * `POST /v1/connectors/{id}/events`: a batch delivered by a connector, authenticated by the
 * HMAC of its raw body instead of an API key.
 *
 * The workspace is not known until the connector is found, so that one lookup runs as the
 * maintenance role (it reads only the connector's workspace, status and signing secret); the
 * events are then stored as that workspace's tenant, with RLS. An unknown connector and a bad
 * signature are the same 401, so the endpoint does not reveal which connector ids exist; an
 * inactive connector is 403, but only to a caller whose signature is valid. Nothing is stored
 * unless the signature is valid and the connector active.
 */
export async function receiveConnectorEvents(
  database: Database,
  connectorId: string,
  delivery: SignedDelivery,
  now = new Date(),
): Promise<IngestEventsResult & { workspaceId: string }> {
  const connector = await database.withMaintenance(async (tx) => {
    const found = await rows<{ workspace_id: string; status: string; signing_secret: string }>(
      tx,
      sql`select workspace_id, status, signing_secret from connectors where id = ${connectorId}::uuid`,
    );
    return found[0];
  });
  // Verify against a throwaway secret when the connector is unknown, so both paths do the same work.
  const secret = connector?.signing_secret ?? "unknown-connector";
  if (!verifySignature(secret, delivery, now) || !connector) {
    throw new Unauthorized(
      `Send a valid ${SIGNATURE_HEADER} (HMAC-SHA256 of "<timestamp>.<body>") and a current ${TIMESTAMP_HEADER}`,
    );
  }
  if (connector.status !== "ACTIVE") throw new Forbidden(`The connector is ${connector.status}, not ACTIVE`);

  let body: unknown;
  try {
    body = JSON.parse(delivery.rawBody);
  } catch {
    throw new BadRequest("The request body is not valid JSON");
  }
  const events = parseInput(IngestEventsInput, body, { message: "The request body is not valid" });
  const workspaceId = connector.workspace_id;
  const result = await database.withTenant({ workspaceId, userId: null }, (tx) =>
    ingestEvents(tx, { workspaceId }, events, {
      connectorId,
      activityActor: { type: "SYSTEM", id: `connector:${connectorId}` },
    }),
  );
  return { ...result, workspaceId };
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

const eventColumns = {
  id: rawEvents.id,
  source: rawEvents.source,
  eventType: rawEvents.eventType,
  externalId: rawEvents.externalId,
  connectorId: rawEvents.connectorId,
  payload: rawEvents.payload,
  metadata: rawEvents.metadata,
  processingStatus: rawEvents.processingStatus,
  ingestedAt: rawEvents.ingestedAt,
  processedAt: rawEvents.processedAt,
  createdAt: rawEvents.createdAt,
};

/** Newest first, optionally by processing status and source; keyset-paginated. */
export async function listEvents(tx: Tx, actor: { workspaceId: string }, raw: z.input<typeof ListEventsQuery>) {
  const query = parseInput(ListEventsQuery, raw);
  const conditions: Array<SQL | undefined> = [
    eq(rawEvents.workspaceId, actor.workspaceId),
    query.status ? eq(rawEvents.processingStatus, query.status) : undefined,
    query.source ? eq(rawEvents.source, query.source) : undefined,
    after(rawEvents.createdAt, rawEvents.id, query.cursor),
  ];
  const found = await tx
    .select(eventColumns)
    .from(rawEvents)
    .where(and(...conditions))
    .orderBy(desc(rawEvents.createdAt), desc(rawEvents.id))
    .limit(query.limit + 1);
  return page(found, query.limit);
}

/** One event with its processing job (status, attempts, last error) and the memories made from it. */
export async function getEvent(tx: Tx, actor: { workspaceId: string }, id: string) {
  const [event] = await tx
    .select(eventColumns)
    .from(rawEvents)
    .where(and(eq(rawEvents.workspaceId, actor.workspaceId), eq(rawEvents.id, id)));
  if (!event) throw new NotFound("Event", id);
  const [job] = await tx
    .select({
      id: processingJobs.id,
      status: processingJobs.status,
      attempts: processingJobs.attempts,
      maxAttempts: processingJobs.maxAttempts,
      error: processingJobs.error,
      availableAt: processingJobs.availableAt,
      completedAt: processingJobs.completedAt,
      durationMs: processingJobs.durationMs,
    })
    .from(processingJobs)
    .where(and(eq(processingJobs.workspaceId, actor.workspaceId), eq(processingJobs.eventId, id)))
    .orderBy(desc(processingJobs.createdAt))
    .limit(1);
  const memoryIds = await rows<{ id: string }>(
    tx,
    sql`select id from memories where workspace_id = ${actor.workspaceId}::uuid and source_event_id = ${id}::uuid
        order by chunk_index nulls last, id`,
  );
  return { ...event, job: job ?? null, memoryIds: memoryIds.map((row) => row.id) };
}

// ---------------------------------------------------------------------------------------------
// Processing
// ---------------------------------------------------------------------------------------------

export const DEFAULT_MAX_ATTEMPTS = 3;

/** Payload fields whose string value is the event's main text, in order of preference. */
const TEXT_FIELDS = ["text", "content", "message", "body", "description"] as const;

/**
 * The text an event contributes to memory: `payload.title` (when a non-empty string) followed,
 * after a blank line, by the first non-empty string among `payload.text`, `content`, `message`,
 * `body`, `description`. Other fields and non-string values are ignored (a connector flattens
 * nested shapes before sending). `null` when there is nothing: such an event is poisoned and
 * goes straight to a dead letter.
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

export interface RetryBackoff {
  /** Delay before the second attempt (default 10 s); doubles per attempt. */
  baseMs?: number;
  /** Largest delay (default 15 min). */
  maxMs?: number;
}

/** Exponential backoff with equal jitter: half the exponential delay, plus up to the other half at random. */
export function retryDelayMs(attempt: number, backoff: RetryBackoff = {}, random: () => number = Math.random): number {
  const base = backoff.baseMs ?? 10_000;
  const cap = backoff.maxMs ?? 15 * 60_000;
  const exponential = Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential / 2 + random() * (exponential / 2));
}

export interface ProcessEventsOptions {
  /** Jobs claimed per round (one short transaction each); rounds repeat until no work is due. */
  limit?: number;
  /** The clock for due times, leases and backoff (tests pin it). Default: now. */
  now?: Date;
  /** Default: the configured provider (`embeddingProvider()`). */
  provider?: EmbeddingProvider;
  chunk?: ChunkOptions;
  /**
   * How long the run may keep starting jobs (default 60 s): no claim and no job starts after it,
   * and claimed jobs not yet started are handed back. The caller keeps its own margin for the
   * job in progress (the events Lambda passes its remaining time minus a safety margin).
   */
  timeBudgetMs?: number;
  /** How long a claimed job is reserved before another run may reclaim it (default 5 min). */
  leaseMs?: number;
  backoff?: RetryBackoff;
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

interface ClaimedJob {
  id: string;
  workspace_id: string;
  event_id: string | null;
  attempts: number;
  max_attempts: number;
}

/**
 * The events job: turns queued events into memories, across workspaces.
 *
 * Each round claims up to `limit` due jobs in one short maintenance transaction
 * (`FOR UPDATE SKIP LOCKED`, oldest first; a PROCESSING job whose lease expired is due again),
 * then handles each job in its own tenant transaction: extract the text, chunk, embed and store
 * the memories, and mark event and job COMPLETED — all or nothing. A failed attempt is retried
 * with exponential backoff and jitter; after `max_attempts` (or at once for a poisoned event
 * without text, or a provider error that is not retryable) job and event become FAILED and a
 * dead letter is written in the same transaction. The job's `attempts` is the fencing token: a
 * run whose lease was taken over changes nothing.
 */
export async function processEvents(
  database: Database,
  options: ProcessEventsOptions = {},
): Promise<ProcessEventsResult> {
  const limit = options.limit ?? 25;
  const budgetMs = options.timeBudgetMs ?? 60_000;
  const stopStartingAt = performance.now() + budgetMs;
  const clock = () => options.now ?? new Date();
  let provider = options.provider;
  const result: ProcessEventsResult = {
    claimed: 0,
    processed: 0,
    failed: 0,
    deadLettered: 0,
    memories: 0,
    released: 0,
    stale: 0,
  };

  while (performance.now() < stopStartingAt) {
    const jobs = await claimEventJobs(database, limit, clock(), options.leaseMs ?? 5 * 60_000);
    if (jobs.length === 0) break;
    result.claimed += jobs.length;
    for (const [index, job] of jobs.entries()) {
      if (performance.now() >= stopStartingAt) {
        result.released += await releaseJobs(database, jobs.slice(index));
        break;
      }
      provider ??= embeddingProvider();
      const outcome = await runJob(database, job, provider, options, clock);
      if (outcome.kind === "completed") {
        result.processed += 1;
        result.memories += outcome.memories;
      } else if (outcome.kind === "failed") {
        result.failed += 1;
        if (outcome.deadLettered) result.deadLettered += 1;
      } else {
        result.stale += 1;
      }
    }
  }
  if (result.claimed > 0) logger.info("events processed", { ...result });
  return result;
}

/** One statement: pick due jobs, lease them, count the attempt, mark their events PROCESSING. */
async function claimEventJobs(database: Database, limit: number, now: Date, leaseMs: number): Promise<ClaimedJob[]> {
  const at = now.toISOString();
  const lockedUntil = new Date(now.getTime() + leaseMs).toISOString();
  return database.withMaintenance((tx) =>
    rows<ClaimedJob>(
      tx,
      sql`
        with due as (
          select id from processing_jobs
          where status in ('PENDING', 'PROCESSING') and available_at <= ${at}::timestamptz
            and job_type = 'event'
            and (status = 'PENDING' or locked_until < ${at}::timestamptz)
          order by available_at
          limit ${limit}
          for update skip locked
        ),
        claimed as (
          update processing_jobs j
          set status = 'PROCESSING', attempts = j.attempts + 1, locked_until = ${lockedUntil}::timestamptz,
              started_at = ${at}::timestamptz, updated_at = ${at}::timestamptz
          from due where j.id = due.id
          returning j.id, j.workspace_id, j.event_id, j.attempts, j.max_attempts, j.available_at
        ),
        events as (
          update raw_events e set processing_status = 'PROCESSING', updated_at = ${at}::timestamptz
          from claimed where e.id = claimed.event_id
          returning e.id
        )
        select id, workspace_id, event_id, attempts, max_attempts from claimed order by available_at`,
    ),
  );
}

/** Hands claimed, unstarted jobs back (the attempt they were charged is refunded). */
async function releaseJobs(database: Database, jobs: ClaimedJob[]): Promise<number> {
  const fenced = jobs.map((job) => sql`(${job.id}::uuid, ${job.attempts}::int)`);
  const released = await database.withMaintenance((tx) =>
    rows<{ id: string }>(
      tx,
      sql`
        with released as (
          update processing_jobs set status = 'PENDING', attempts = attempts - 1, locked_until = null
          where status = 'PROCESSING' and (id, attempts) in (${sql.join(fenced, sql`, `)})
          returning id, event_id
        ),
        events as (
          update raw_events e set processing_status = 'PENDING' from released where e.id = released.event_id returning e.id
        )
        select id from released`,
    ),
  );
  return released.length;
}

type JobOutcome =
  | { kind: "completed"; memories: number }
  | { kind: "failed"; deadLettered: boolean }
  | { kind: "stale" };

class StaleLease extends Error {}

/** The job's row, locked, if this run still holds its lease (the attempt count is the fence). */
async function lockOwnJob(tx: Tx, job: ClaimedJob) {
  const [row] = await tx
    .select({ id: processingJobs.id, outputData: processingJobs.outputData })
    .from(processingJobs)
    .where(
      and(
        eq(processingJobs.workspaceId, job.workspace_id),
        eq(processingJobs.id, job.id),
        eq(processingJobs.status, "PROCESSING"),
        eq(processingJobs.attempts, job.attempts),
      ),
    )
    .for("update");
  return row;
}

async function runJob(
  database: Database,
  job: ClaimedJob,
  provider: EmbeddingProvider,
  options: ProcessEventsOptions,
  clock: () => Date,
): Promise<JobOutcome> {
  const started = performance.now();
  const tenant = { workspaceId: job.workspace_id, userId: null };
  try {
    const memories = await database.withTenant(tenant, async (tx) => {
      if (!(await lockOwnJob(tx, job))) throw new StaleLease();
      if (job.attempts > job.max_attempts) {
        // Earlier runs took the job and never finished (crashed or timed out) too often.
        throw new PoisonedEvent(`The job's lease expired ${job.attempts - 1} times without completing`);
      }
      if (!job.event_id) throw new PoisonedEvent("The job's event no longer exists");
      const [event] = await tx
        .select()
        .from(rawEvents)
        .where(and(eq(rawEvents.workspaceId, job.workspace_id), eq(rawEvents.id, job.event_id)));
      if (!event) throw new PoisonedEvent("The job's event no longer exists");
      const text = extractEventText(event.payload);
      if (text === null) {
        throw new PoisonedEvent(
          `The event has no text: its payload has none of the string fields title, ${TEXT_FIELDS.join(", ")}`,
        );
      }
      const chunks = chunkText(text, options.chunk);
      const stored = await insertMemories(
        tx,
        { workspaceId: job.workspace_id },
        chunks.map((content) => ({
          content,
          sourceType: event.source,
          metadata: { ...event.metadata, eventType: event.eventType, externalId: event.externalId },
        })),
        { provider, sourceEventId: event.id, chunkIndexes: chunks.map((_, index) => index) },
      );
      const now = clock();
      const durationMs = Math.round(performance.now() - started);
      const memoryIds = stored.map((memory) => memory.id);
      const created = stored.filter((memory) => !memory.deduplicated).length;
      await tx
        .update(rawEvents)
        .set({ processingStatus: "COMPLETED", processedAt: now, updatedAt: now })
        .where(and(eq(rawEvents.workspaceId, job.workspace_id), eq(rawEvents.id, event.id)));
      await tx
        .update(processingJobs)
        .set({
          status: "COMPLETED",
          completedAt: now,
          lockedUntil: null,
          error: null,
          durationMs,
          outputData: { memoryIds, chunks: chunks.length, deduplicated: stored.length - created, durationMs },
          updatedAt: now,
        })
        .where(eq(processingJobs.id, job.id));
      return created;
    });
    return { kind: "completed", memories };
  } catch (error) {
    if (error instanceof StaleLease) return { kind: "stale" };
    return recordFailure(database, job, error, options, clock());
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

/** A failed attempt: schedule the retry, or (last attempt, or not retryable) fail and dead-letter. */
async function recordFailure(
  database: Database,
  job: ClaimedJob,
  error: unknown,
  options: ProcessEventsOptions,
  now: Date,
): Promise<JobOutcome> {
  const message = error instanceof Error ? error.message : String(error);
  const retryable = isRetryable(error);
  const final = !retryable || job.attempts >= job.max_attempts;
  logger.warn("event processing failed", {
    jobId: job.id,
    eventId: job.event_id,
    attempt: job.attempts,
    final,
    error: message,
  });
  try {
    return await database.withTenant({ workspaceId: job.workspace_id, userId: null }, async (tx) => {
      const own = await lockOwnJob(tx, job);
      if (!own) return { kind: "stale" } as const;
      const previous = (own.outputData as { errors?: Array<Record<string, unknown>> } | null)?.errors ?? [];
      const errors = [...previous, { attempt: job.attempts, error: message, at: now.toISOString() }];
      if (!final) {
        const availableAt = new Date(now.getTime() + retryDelayMs(job.attempts, options.backoff, options.random));
        await tx
          .update(processingJobs)
          .set({
            status: "PENDING",
            availableAt,
            lockedUntil: null,
            error: message,
            outputData: { errors },
            updatedAt: now,
          })
          .where(eq(processingJobs.id, job.id));
        if (job.event_id) {
          await tx
            .update(rawEvents)
            .set({ processingStatus: "PENDING", updatedAt: now })
            .where(and(eq(rawEvents.workspaceId, job.workspace_id), eq(rawEvents.id, job.event_id)));
        }
        return { kind: "failed", deadLettered: false } as const;
      }

      await tx
        .update(processingJobs)
        .set({
          status: "FAILED",
          completedAt: now,
          lockedUntil: null,
          error: message,
          outputData: { errors },
          updatedAt: now,
        })
        .where(eq(processingJobs.id, job.id));
      const [event] = job.event_id
        ? await tx
            .update(rawEvents)
            .set({ processingStatus: "FAILED", updatedAt: now })
            .where(and(eq(rawEvents.workspaceId, job.workspace_id), eq(rawEvents.id, job.event_id)))
            .returning()
        : [];
      const [deadLetter] = await tx
        .insert(deadLetters)
        .values({
          workspaceId: job.workspace_id,
          source: "event",
          rawEventId: event?.id ?? null,
          reason: retryable ? `Failed after ${job.attempts} attempts: ${message}` : message,
          payload: {
            jobId: job.id,
            event: event
              ? {
                  source: event.source,
                  eventType: event.eventType,
                  externalId: event.externalId,
                  payload: event.payload,
                  metadata: event.metadata,
                }
              : null,
          },
          errors,
        })
        .returning({ id: deadLetters.id });
      await recordActivity(tx, {
        workspaceId: job.workspace_id,
        actor: { type: "SYSTEM", id: "events-job" },
        action: "event.dead_lettered",
        entityType: "dead_letter",
        entityId: deadLetter!.id,
        after: { rawEventId: event?.id ?? null, jobId: job.id, reason: message },
      });
      return { kind: "failed", deadLettered: true } as const;
    });
  } catch (failure) {
    // The lease will expire and another run retries the job; nothing is lost.
    logger.error("could not record an event processing failure", { jobId: job.id, error: failure });
    return { kind: "failed", deadLettered: false };
  }
}
