/**
 * Event intake: the event-sourcing path into memory. Raw events arrive in batches
 * (`POST /v1/events` with an API key, or `POST /v1/connectors/{id}/events` signed with the
 * connector's secret). Each batch is one statement that stores the new events, skips duplicates
 * (same workspace, source and external id) and enqueues an `event` job per stored event for
 * the event processor (processing.ts).
 */
import { timingSafeEqual } from "node:crypto";
import { z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import { afterCommit, type Database, jsonParam, rows, type Tx } from "../../../db/client";
import { processingStatus } from "../../../db/schema";
import { enqueueCte } from "../../jobs/runtime/sql/enqueue";
import { type ActorRef, actorRef, systemActor } from "../../shared/actor";
import { audit } from "../../shared/audit";
import { BadRequest, Forbidden, Unauthorized } from "../../shared/errors";
import { PageQuery } from "../../shared/pagination";
import { SIGNATURE_HEADER, signBody, TIMESTAMP_HEADER } from "../../shared/signatures";
import { parseInput, StorableJson, StorableString } from "../../shared/validation";
import { nudgeEventProcessing } from "./nudge";
import { DEFAULT_MAX_ATTEMPTS, EVENT_JOB } from "./processing";

/** Most events one call may carry (one statement stores them all). */
export const MAX_EVENTS_PER_BATCH = 500;

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

export interface IngestOptions {
  /** Set when a connector delivered the batch (stored on each event). */
  connectorId?: string | null;
  /** Who to record in the activity log; defaults to the actor's user. */
  activityActor?: ActorRef;
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
      ${enqueueCte(
        "jobs",
        sql`select ${actor.workspaceId}::uuid, ${EVENT_JOB}::text, id, '{}'::jsonb, ${maxAttempts}::int from inserted`,
      )}
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
  const missing: IngestedEvent[] = [];
  const byOrd = new Map(matched.map((row) => [row.ord, row]));
  for (const [ord, event] of input.events.entries()) {
    const row = byOrd.get(ord);
    const key = JSON.stringify([event.source, event.externalId]);
    const stored = row?.inserted_id != null && !seen.has(key);
    seen.add(key);
    const item: IngestedEvent = {
      index: ord,
      status: stored ? "stored" : "duplicate",
      id: row?.inserted_id ?? row?.existing_id ?? null,
      source: event.source,
      externalId: event.externalId,
    };
    items.push(item);
    if (item.id === null) missing.push(item);
  }
  if (missing.length > 0) {
    // A concurrent batch committed the same keys after this statement's snapshot was taken.
    await fillConcurrentDuplicates(tx, actor.workspaceId, missing);
  }

  const storedItems = items.filter((item) => item.status === "stored");
  const firstId = storedItems[0]?.id;
  if (firstId) {
    // The scheduled processor would pick the events up anyway; the nudge is sooner.
    afterCommit(tx, () => nudgeEventProcessing(actor.workspaceId, storedItems.length));
    await audit(tx, options.activityActor ?? actorRef(actor), {
      action: "events.ingested",
      entity: { type: "raw_event", id: firstId },
      after: { stored: storedItems.length, duplicates: items.length - storedItems.length, connectorId },
    });
  }
  return { stored: storedItems.length, duplicates: items.length - storedItems.length, items };
}

async function fillConcurrentDuplicates(tx: Tx, workspaceId: string, missing: IngestedEvent[]) {
  const keys = missing.map((item) => sql`(${item.source}, ${item.externalId})`);
  const found = await rows<{ id: string; source: string; external_id: string }>(
    tx,
    sql`select id, source, external_id from raw_events
        where workspace_id = ${workspaceId}::uuid and (source, external_id) in (${sql.join(keys, sql`, `)})`,
  );
  const byKey = new Map(found.map((row) => [JSON.stringify([row.source, row.external_id]), row.id]));
  for (const item of missing) {
    item.id = byKey.get(JSON.stringify([item.source, item.externalId])) ?? null;
  }
}

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
  const hex = /^sha256=([0-9a-f]{64})$/i.exec(signature.trim())?.[1];
  if (!hex) return false;
  const expected = Buffer.from(signBody(secret, timestamp, rawBody).slice("sha256=".length), "hex");
  const presented = Buffer.from(hex.toLowerCase(), "hex");
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}

/**
 * `POST /v1/connectors/{id}/events`: a batch delivered by a connector, authenticated by the
 * HMAC of its raw body instead of an API key.
 *
 * The workspace is not known until the connector is found, so that one lookup runs as
 * cairn_app with `app.connector_id` set, which shows that connector alone (RLS policy
 * `connector_lookup`, migration 0006; the API's login role cannot become the maintenance role);
 * it reads only the connector's workspace, status and signing secret. The events are then
 * stored as that workspace's tenant, with RLS. An unknown connector and a bad
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
  const connector = await database.withSettings({ "app.connector_id": connectorId }, async (tx) => {
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
      activityActor: systemActor(workspaceId, `connector:${connectorId}`),
    }),
  );
  return { ...result, workspaceId };
}
