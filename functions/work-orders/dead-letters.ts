/**
 * Dead letters: failures kept for inspection, redrive or discard. These calls never delete
 * one; a redriven or discarded dead letter stays, marked, with who and when.
 */

import { z } from "@hono/zod-openapi";
import { and, desc, eq, gte, lt, sql } from "drizzle-orm";
import { jsonParam, one, rows, type Tx } from "../../db/client";
import { type ApprovalRequirement, deadLetterSource, deadLetterStatus, deadLetters } from "../../db/schema";
import { openApprovalRequests, resolveApprovalRequirements } from "../approvals/gates";
import { refreshOrderStatus } from "../lifecycle/orders";
import { validateItemPayloads } from "../platform/payload-schemas";
import type { Actor } from "../shared/actor";
import { type ActorRef, actorRef } from "../shared/actor";
import { auditCte } from "../shared/audit";
import { canonicalHash } from "../shared/canonical-json";
import { Conflict, NotFound } from "../shared/errors";
import { after, PageQuery, page } from "../shared/pagination";
import { DateTimeInput, parseInput, StorableJsonObject } from "../shared/validation";
import { deadLetterColumns } from "./schemas";

const QueryFlag = z.preprocess((v) => (v === "true" ? true : v === "false" ? false : v), z.boolean());

export const ListDeadLettersQuery = PageQuery.extend({
  status: z.enum(deadLetterStatus.enumValues).optional(),
  source: z.enum(deadLetterSource.enumValues).optional(),
  workItemId: z.string().uuid().optional(),
  autoRetry: QueryFlag.optional(),
  createdAfter: DateTimeInput().optional(),
  createdBefore: DateTimeInput().optional(),
});

export const RedriveInput = z
  .strictObject({
    payload: StorableJsonObject()
      .optional()
      .openapi({ description: "Replaces the item's payload before it runs again" }),
  })
  .openapi("RedriveDeadLetterInput");

export const RetryPolicyInput = z
  .strictObject({
    autoRetry: z.boolean().openapi({ description: "Let the dead-letter reprocessing job redrive it automatically" }),
    maxRedrives: z
      .number()
      .int()
      .min(0)
      .max(100)
      .optional()
      .openapi({ description: "Cap on automatic redrives (default kept)" }),
    nextRetryAt: DateTimeInput("First automatic retry (default now)").optional(),
  })
  .openapi("DeadLetterRetryPolicy");

export const DiscardInput = z
  .strictObject({ reason: z.string().trim().min(1).max(2000) })
  .openapi("DiscardDeadLetterInput");

export async function listDeadLetters(tx: Tx, actor: Actor, raw: z.input<typeof ListDeadLettersQuery>) {
  const query = parseInput(ListDeadLettersQuery, raw);
  const list = await tx
    .select(deadLetterColumns)
    .from(deadLetters)
    .where(
      and(
        eq(deadLetters.workspaceId, actor.workspaceId),
        query.status ? eq(deadLetters.status, query.status) : undefined,
        query.source ? eq(deadLetters.source, query.source) : undefined,
        query.workItemId ? eq(deadLetters.workItemId, query.workItemId) : undefined,
        query.autoRetry === undefined ? undefined : eq(deadLetters.autoRetry, query.autoRetry),
        query.createdAfter ? gte(deadLetters.createdAt, query.createdAfter) : undefined,
        query.createdBefore ? lt(deadLetters.createdAt, query.createdBefore) : undefined,
        after(deadLetters.createdAt, deadLetters.id, query.cursor),
      ),
    )
    .orderBy(desc(deadLetters.createdAt), desc(deadLetters.id))
    .limit(query.limit + 1);
  return page(list, query.limit);
}

export async function getDeadLetter(tx: Tx, actor: Actor, id: string) {
  const [row] = await tx
    .select(deadLetterColumns)
    .from(deadLetters)
    .where(and(eq(deadLetters.workspaceId, actor.workspaceId), eq(deadLetters.id, id)));
  if (!row) throw new NotFound("Dead letter", id);
  return row;
}

interface RedriveCandidate {
  id: string;
  workspace_id: string;
  source: string;
  status: string;
  work_item_id: string | null;
  redrive_count: number;
  max_redrives: number;
  item_status: string | null;
  item_type: string | null;
  item_payload: Record<string, unknown> | null;
  item_requested_approval: ApprovalRequirement | null;
  order_id: string | null;
  order_status: string | null;
}

/**
 * Redrives a work-item dead letter: the item runs again with a fresh attempt budget (and
 * `payload` if given, validated against its type's schema), and the dead letter is marked
 * REDRIVEN (redrive_count + 1, who and when) — it stays, linked to the item, whose next failure
 * writes a new dead letter. The gates run again as for a new item (the current policies, the
 * item's own requirement): if a before-gate applies and no approval was given for exactly this
 * payload, the item AWAITS_APPROVAL under a new request instead of running — an approval given
 * for an old payload never covers a new one. Usable by jobs: `actor.workspaceId` null means any
 * workspace (maintenance role); `automatic` enforces `max_redrives`.
 * 409 when the dead letter is not OPEN, is not from a work item, its item is gone or not
 * FAILED, or its order was cancelled.
 */
export async function redriveDeadLetter(
  tx: Tx,
  actor: ActorRef,
  id: string,
  raw: z.input<typeof RedriveInput> = {},
  options: { automatic?: boolean } = {},
) {
  const input = parseInput(RedriveInput, raw);
  const [candidate] = await rows<RedriveCandidate>(
    tx,
    sql`select d.id, d.workspace_id, d.source::text as source, d.status::text as status, d.work_item_id, d.redrive_count, d.max_redrives,
               i.status::text as item_status, i.type as item_type, i.payload as item_payload,
               i.requested_approval as item_requested_approval, o.id as order_id, o.status::text as order_status
        from dead_letters d
        left join work_items i on i.id = d.work_item_id
        left join work_orders o on o.id = i.work_order_id
        where d.id = ${id}::uuid ${actor.workspaceId ? sql`and d.workspace_id = ${actor.workspaceId}::uuid` : sql``}
        for update of d`,
  );
  if (!candidate) throw new NotFound("Dead letter", id);
  if (candidate.status !== "OPEN")
    throw new Conflict(`The dead letter is already ${candidate.status}`, { status: candidate.status });
  if (candidate.source !== "work_item") {
    throw new Conflict(
      `Dead letters from source '${candidate.source}' are not redriven here: they are reprocessed by their own pipeline (events are re-ingested by the event processor)`,
      { source: candidate.source },
    );
  }
  if (!candidate.work_item_id || !candidate.item_status)
    throw new Conflict("The dead letter's work item no longer exists");
  if (options.automatic && candidate.redrive_count >= candidate.max_redrives) {
    throw new Conflict(`The dead letter reached its limit of ${candidate.max_redrives} redrives`);
  }
  if (candidate.order_status === "CANCELLED")
    throw new Conflict("The work item's order was cancelled; it cannot be redriven");
  if (candidate.item_status !== "FAILED") {
    throw new Conflict(`The work item is ${candidate.item_status}, not FAILED; only a failed item can be redriven`, {
      itemStatus: candidate.item_status,
    });
  }
  const itemType = candidate.item_type ?? "";
  const payload = input.payload ?? candidate.item_payload ?? {};
  if (input.payload) await validateItemPayloads(tx, candidate.workspace_id, [{ type: itemType, payload }]);
  const [approval] = await resolveApprovalRequirements(tx, candidate.workspace_id, [
    { type: itemType, payload, approval: candidate.item_requested_approval },
  ]);
  const gated = approval?.gate === "BEFORE" && !(await approvalCovers(tx, candidate.work_item_id, payload, approval));

  const by = actor.id ?? actor.type;
  // Attempt numbers keep counting; the retry budget restarts from here (see `budgetAttempts`).
  const [redriven] = await rows<{ id: string; work_item_id: string; work_order_id: string; status: string }>(
    tx,
    sql`with item as (
          update work_items i
          set status = ${gated ? "AWAITING_APPROVAL" : "QUEUED"}::work_item_status, available_at = now(),
              retry_base = i.attempt_count, redriven_at = now(),
              payload = ${jsonParam(payload)}, approval = ${approval ? jsonParam(approval) : sql`null::jsonb`},
              lease_expires_at = null, locked_by = null, completed_at = null, last_error = null, updated_at = now()
          where i.id = ${candidate.work_item_id}::uuid and i.status = 'FAILED'
          returning i.id, i.workspace_id, i.work_order_id, i.status, i.attempt_count
        ),
        letter as (
          update dead_letters d
          set status = 'REDRIVEN', redrive_count = d.redrive_count + 1, redriven_at = now(), redriven_by = ${by},
              next_retry_at = null, updated_at = now()
          from item
          where d.id = ${id}::uuid and d.status = 'OPEN'
          returning d.id, d.workspace_id, d.redrive_count
        ),
        ${auditCte(
          "logged",
          actor,
          sql`select l.workspace_id, 'dead_letter.redriven', 'dead_letter', l.id,
                     jsonb_build_object('status', 'OPEN'),
                     jsonb_build_object('status', 'REDRIVEN', 'workItemId', ${candidate.work_item_id}::uuid, 'redriveCount', l.redrive_count,
                                        'payloadEdited', ${input.payload !== undefined}::boolean, 'automatic', ${options.automatic ?? false}::boolean)
              from letter l
              union all
              select i.workspace_id, 'work_item.requeued', 'work_item', i.id,
                     jsonb_build_object('status', 'FAILED'),
                     jsonb_build_object('status', i.status, 'deadLetterId', ${id}::uuid, 'redrivenAfterAttempt', i.attempt_count)
              from item i`,
        )}
        select l.id, i.id as work_item_id, i.work_order_id, i.status::text as status from letter l, item i`,
  );
  if (!redriven) throw new Conflict("The dead letter or its item changed concurrently; retry");
  const [approvalRequestId] =
    gated && approval
      ? await openApprovalRequests(
          tx,
          { workspaceId: candidate.workspace_id, userId: actor.type === "USER" ? actor.id : null },
          [{ workItemId: redriven.work_item_id, workOrderId: redriven.work_order_id, payload, requirement: approval }],
        )
      : [];
  await refreshOrderStatus(tx, [redriven.work_order_id], { actor });
  const letter = one(await tx.select(deadLetterColumns).from(deadLetters).where(eq(deadLetters.id, id)));
  return {
    deadLetter: letter,
    workItemId: redriven.work_item_id,
    workOrderId: redriven.work_order_id,
    itemStatus: redriven.status as "QUEUED" | "AWAITING_APPROVAL",
    approvalRequestId: approvalRequestId ?? null,
  };
}

/**
 * Whether the item already holds an approval for exactly this payload under at least this
 * requirement (a before-gate request APPROVED for the same payload hash, same policy version, as
 * many approvals): then running it again needs no new one.
 */
async function approvalCovers(
  tx: Tx,
  itemId: string,
  payload: Record<string, unknown>,
  requirement: ApprovalRequirement,
) {
  const found = await rows<{ id: string }>(
    tx,
    sql`select id from approval_requests
        where work_item_id = ${itemId}::uuid and gate = 'BEFORE' and status = 'APPROVED'
          and payload_hash = ${canonicalHash(payload)}
          and policy_id is not distinct from ${requirement.policyId ?? null}::uuid
          and policy_version is not distinct from ${requirement.policyVersion ?? null}::int
          and required_approvals >= ${requirement.requiredApprovals ?? 1}
        limit 1`,
  );
  return found.length > 0;
}

/** Marks an open dead letter DISCARDED with who and why (it is kept). */
export async function discardDeadLetter(tx: Tx, actor: Actor, id: string, raw: z.input<typeof DiscardInput>) {
  const input = parseInput(DiscardInput, raw);
  const current = await getDeadLetter(tx, actor, id);
  if (current.status !== "OPEN")
    throw new Conflict(`The dead letter is already ${current.status}`, { status: current.status });
  const who = actorRef(actor);
  const [updated] = await rows<{ id: string }>(
    tx,
    sql`with letter as (
          update dead_letters d
          set status = 'DISCARDED', discarded_at = now(), discarded_by = ${actor.userId}, discard_reason = ${input.reason},
              auto_retry = false, next_retry_at = null, updated_at = now()
          where d.id = ${id}::uuid and d.workspace_id = ${actor.workspaceId}::uuid and d.status = 'OPEN'
          returning d.id, d.workspace_id
        ),
        ${auditCte(
          "logged",
          who,
          sql`select l.workspace_id, 'dead_letter.discarded', 'dead_letter', l.id,
                     jsonb_build_object('status', 'OPEN'), jsonb_build_object('status', 'DISCARDED', 'reason', ${input.reason}::text)
              from letter l`,
        )}
        select id from letter`,
  );
  if (!updated) throw new Conflict("The dead letter changed concurrently; retry");
  return getDeadLetter(tx, actor, id);
}

/**
 * Marks an open dead letter for automatic retry (or stops it). The dead-letter reprocessing
 * job redrives those whose next retry time has come, up to `maxRedrives` times.
 */
export async function setDeadLetterRetry(tx: Tx, actor: Actor, id: string, raw: z.input<typeof RetryPolicyInput>) {
  const input = parseInput(RetryPolicyInput, raw);
  const current = await getDeadLetter(tx, actor, id);
  if (current.status !== "OPEN")
    throw new Conflict(`The dead letter is already ${current.status}`, { status: current.status });
  const who = actorRef(actor);
  // Default: now, on the database's clock (the one the reprocessing job compares with), in milliseconds like updated_at.
  const nextRetryAt = input.autoRetry
    ? sql`coalesce(${input.nextRetryAt ?? null}::timestamptz, now()::timestamptz(3))`
    : sql`null`;
  const maxRedrives = input.maxRedrives ?? current.maxRedrives;
  const [updated] = await rows<{ id: string }>(
    tx,
    sql`with letter as (
          update dead_letters d
          set auto_retry = ${input.autoRetry}, next_retry_at = ${nextRetryAt}, max_redrives = ${maxRedrives}, updated_at = now()
          where d.id = ${id}::uuid and d.workspace_id = ${actor.workspaceId}::uuid and d.status = 'OPEN'
          returning d.id, d.workspace_id
        ),
        ${auditCte(
          "logged",
          who,
          sql`select l.workspace_id, 'dead_letter.retry_policy_set', 'dead_letter', l.id,
                     jsonb_build_object('autoRetry', ${current.autoRetry}::boolean, 'maxRedrives', ${current.maxRedrives}::int),
                     jsonb_build_object('autoRetry', ${input.autoRetry}::boolean, 'maxRedrives', ${maxRedrives}::int)
              from letter l`,
        )}
        select id from letter`,
  );
  if (!updated) throw new Conflict("The dead letter changed concurrently; retry");
  return getDeadLetter(tx, actor, id);
}

/** The route's entry: redrive as the calling user, in their workspace. */
export function redriveDeadLetterAs(tx: Tx, actor: Actor, id: string, raw: z.input<typeof RedriveInput>) {
  return redriveDeadLetter(tx, actorRef(actor), id, raw);
}
