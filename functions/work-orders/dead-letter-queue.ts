/**
 * The subscriber of the AWS dead-letter queue (an SQS batch): stores each message as a dead
 * letter with source `queue` in the workspace named by the message's JSON body (`workspaceId`),
 * idempotently per SQS message id, and reports partial batch failures: a message that cannot be
 * attributed to an existing workspace (malformed JSON, no valid workspace id) cannot go into a
 * tenant table, so it is reported back and SQS keeps it (for the queue's 14-day retention) —
 * nothing is dropped silently. Queue dead letters are records only: never redriven.
 */
import type { SQSRecord } from "aws-lambda";
import { sql } from "drizzle-orm";
import { type Database, jsonParam, rows } from "../../db/client";
import { systemActor } from "../shared/actor";
import { auditCte } from "../shared/audit";

/** Who stored a queue dead letter (activity actor id). */
export const QUEUE_SUBSCRIBER_ID = "dead-letter-queue";

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
          ${auditCte(
            "logged",
            systemActor(null, QUEUE_SUBSCRIBER_ID),
            sql`select workspace_id, 'dead_letter.created', 'dead_letter', id, null::jsonb,
                       jsonb_build_object('source', 'queue', 'messageId', message_id)
                from inserted`,
          )}
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
