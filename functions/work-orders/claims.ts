/**
 * The worker protocol: claim (one statement), heartbeat, complete and fail, each fenced by
 * the claim's attempt id and fencing token.
 *
 * Fencing rule: a call succeeds only while the item is PROCESSING under the same attempt
 * and token. A call after the lease expired but before the reaper or another worker took
 * the item is accepted (nobody else can have run it); once the item was requeued, reclaimed
 * or cancelled, the stale call is a 409 and changes nothing.
 */

import { z } from "@hono/zod-openapi";
import { type SQL, sql } from "drizzle-orm";
import { commitWith, deferred, jsonParam, mapRow, prepared, rows, type Tx, together } from "../../db/client";
import { type ApprovalRequirement, workItems } from "../../db/schema";
import { openApprovalRequests } from "../approvals/gates";
import { cancelDependants } from "../lifecycle/dependants";
import { closeFailedItems } from "../lifecycle/failures";
import { refreshOrderStatus } from "../lifecycle/orders";
import type { Actor } from "../shared/actor";
import { type ActorRef, actorRef } from "../shared/actor";
import { auditCte } from "../shared/audit";
import { Conflict, NotFound } from "../shared/errors";
import { retryDelaySql } from "../shared/retry";
import { parseInput, StorableJson } from "../shared/validation";
import { dependenciesMet, dependencyResults } from "./controls/dependencies";
import { admittedCte, blockedGroupsCte, nextClaimableAt as nextDue, notBlocked } from "./controls/limits";
import { notPaused } from "./controls/pauses";
import { recordMemoriesUsed, UsedMemoryIds } from "./ledger";
import type { ClaimedItem } from "./schemas";

export const MAX_LEASE_SECONDS = 3600;
export const MAX_CLAIM = 100;

const ItemType = z.string().trim().min(1).max(200);
const LeaseSeconds = z.number().int().min(1).max(MAX_LEASE_SECONDS);

export const ClaimInput = z
  .strictObject({
    workerId: z.string().trim().min(1).max(200),
    types: z.array(ItemType).min(1).max(50).optional(),
    limit: z.number().int().min(1).max(MAX_CLAIM).default(1),
    leaseSeconds: LeaseSeconds.default(300),
  })
  .openapi("ClaimWorkItemsInput");

const Fence = {
  attemptId: z.string().uuid(),
  fencingToken: z
    .string()
    .regex(/^[1-9][0-9]{0,18}$/, "a fencing token is a positive integer, as a string")
    .openapi({ description: "The token returned by the claim (a 64-bit integer as a string)" }),
};

export const HeartbeatInput = z
  .strictObject({
    ...Fence,
    leaseSeconds: LeaseSeconds.optional().openapi({
      description: "New lease from now; defaults to the last lease's length",
    }),
  })
  .openapi("HeartbeatInput");

export const CompleteInput = z
  .strictObject({
    ...Fence,
    result: StorableJson(z.unknown()).optional().openapi({ description: "Any JSON value" }),
    usedMemoryIds: UsedMemoryIds,
  })
  .openapi("CompleteWorkItemInput");

export const MAX_BATCH_COMPLETION = 100;

export const CompleteBatchInput = z
  .strictObject({
    items: z
      .array(z.strictObject({ id: z.string().uuid(), ...CompleteInput.shape }))
      .min(1)
      .max(MAX_BATCH_COMPLETION)
      .refine(
        (items) => new Set(items.map((item) => item.id)).size === items.length,
        "each item at most once per call",
      ),
  })
  .openapi("CompleteWorkItemsInput");

export const FailInput = z
  .strictObject({
    ...Fence,
    error: z.string().min(1).max(10_000),
    retryable: z.boolean().default(true),
  })
  .openapi("FailWorkItemInput");

/**
 * The claim order: priority, then creation time, then the creation sequence (items created by
 * one statement share their creation time). Exactly the order of work_items_claim_idx (priority
 * DESC NULLS LAST), so the claim is an index scan that stops after `limit` rows instead of a sort
 * of the whole queue. Over `work_items i`.
 */
export const CLAIM_ORDER = sql`i.priority desc nulls last, i.created_at, i.created_seq`;

/**
 * The items a claim takes, locked: a workspace's claimable items in `CLAIM_ORDER`, skipping
 * those another claim holds. `filter` narrows them (a condition on `i`, starting with `and`);
 * this is where queue controls compose into the claim.
 */
export function claimCandidates(workspaceId: string, filter: SQL, limit: number): SQL {
  return sql`select i.id from work_items i
             where i.workspace_id = ${workspaceId}::uuid and i.status = 'QUEUED' and i.available_at <= now()
             ${filter}
             order by ${CLAIM_ORDER}
             limit ${limit}
             for update skip locked`;
}

/**
 * Claims up to `limit` claimable items, highest priority first, then oldest, in ONE
 * statement: lock candidates (SKIP LOCKED), start an attempt with a fresh fencing token for
 * each, move their orders from PENDING to PROCESSING and write the activity rows.
 * Each row is touched by exactly one CTE (they share one snapshot).
 *
 * The queue controls (./controls/) add their conditions to the candidate scan (paused types
 * and orders, unmet dependencies, groups at a limit) and pass the candidates through the
 * limits' admission (`admitted`); `nextClaimableAt` says when a rate-limited group at its
 * limit has budget again.
 */
export async function claimWork(
  tx: Tx,
  actor: Actor,
  raw: z.input<typeof ClaimInput>,
  options: { commit?: boolean } = {},
): Promise<{ items: ClaimedItem[]; nextClaimableAt: Date | null }> {
  const input = parseInput(ClaimInput, raw);
  const who = actorRef(actor);
  const ws = sql`${actor.workspaceId}::uuid`;
  const typeFilter = input.types
    ? // An array computed once (an InitPlan), so the ordered index scan stays a plain filter.
      sql`and i.type = any(array(select jsonb_array_elements_text(${jsonParam(input.types)})))`
    : sql``;
  // With `commit` (the caller's transaction ends here: the route) COMMIT goes in the same round trip.
  const send = options.commit ? commitWith : together;
  const { claimed } = await send(tx, {
    claimed: deferred(() =>
      rows<Record<string, unknown>>(
        tx,
        // Prepared: planning this statement (its CTEs and the controls' subplans) cost several
        // times its execution when it was planned on every call (bench/results/redesign-before-after.md).
        prepared(sql`with ${blockedGroupsCte(ws)},
        candidates as (${claimCandidates(actor.workspaceId, sql`${typeFilter} and ${notPaused(ws)} and ${dependenciesMet()} and ${notBlocked()}`, input.limit)}),
        ${admittedCte(ws)},
        claimed as (
          update work_items i
          set status = 'PROCESSING',
              attempt_count = i.attempt_count + 1,
              lease_expires_at = coalesce(c.admitted_at, now()) + make_interval(secs => ${input.leaseSeconds}),
              locked_by = ${input.workerId},
              current_attempt_id = gen_random_uuid(),
              fencing_token = nextval('fencing_tokens'),
              updated_at = now()
          from admitted c
          where i.id = c.id
          returning i.*, c.admitted_at
        ),
        started as (
          insert into attempts (id, workspace_id, work_item_id, attempt_number, worker_id, status, fencing_token, started_at, lease_expires_at)
          select c.current_attempt_id, c.workspace_id, c.id, c.attempt_count, ${input.workerId}, 'STARTED', c.fencing_token,
                 coalesce(c.admitted_at, now()), c.lease_expires_at
          from claimed c
          returning id
        ),
        orders as (
          -- Orders are locked in id order, so two claims starting the same orders cannot deadlock.
          update work_orders o set status = 'PROCESSING', updated_at = now()
          from (select p.id from work_orders p
                where p.id in (select work_order_id from claimed) and p.status = 'PENDING'
                order by p.id for update) pending
          where o.id = pending.id
          returning o.id, o.workspace_id
        ),
        ${auditCte(
          "logged",
          who,
          sql`select c.workspace_id, 'work_item.claimed', 'work_item', c.id, null::jsonb,
                     jsonb_build_object('workerId', ${input.workerId}::text, 'attemptId', c.current_attempt_id,
                                        'attemptNumber', c.attempt_count, 'fencingToken', c.fencing_token::text)
              from claimed c
              union all
              select o.workspace_id, 'work_order.processing', 'work_order', o.id, null::jsonb,
                     jsonb_build_object('status', 'PROCESSING')
              from orders o`,
        )}
        -- One row even when nothing was claimed: it carries next_claimable_at.
        select i.*, ${dependencyResults()} as dependency_results, n.next_claimable_at
        from (select ${nextDue()} as next_claimable_at) n
        left join claimed i on true
        order by ${CLAIM_ORDER}`),
      ),
    ),
  });
  const items = claimed.flatMap((row) => {
    if (row.id === null || row.id === undefined) return [];
    const { workspaceId: _workspace, fencingToken, ...item } = mapRow(workItems, row);
    const { currentAttemptId, leaseExpiresAt } = item;
    // The claim statement set both; their absence would be a bug in it, not a client error.
    if (currentAttemptId === null || leaseExpiresAt === null) throw new Error("a claimed item has no attempt or lease");
    const dependencies = parseJson(row.dependency_results as Record<string, unknown> | string | null);
    return [
      {
        ...item,
        attemptId: currentAttemptId,
        attemptNumber: item.attemptCount,
        fencingToken: String(fencingToken),
        leaseExpiresAt,
        ...(dependencies ? { dependencies } : {}),
      },
    ];
  });
  const next = claimed[0]?.next_claimable_at;
  const due =
    items.length < input.limit && next !== null && next !== undefined ? new Date(next as string | Date) : null;
  return { items, nextClaimableAt: due };
}

/** `claimWork`'s items alone. */
export async function claimWorkItems(tx: Tx, actor: Actor, raw: z.input<typeof ClaimInput>): Promise<ClaimedItem[]> {
  return (await claimWork(tx, actor, raw)).items;
}

type Fence = { attemptId: string; fencingToken: string };

/** The fencing condition on `work_items i`. */
const fenced = (workspaceId: string, itemId: string, fence: Fence): SQL =>
  sql`i.id = ${itemId}::uuid and i.workspace_id = ${workspaceId}::uuid and i.status = 'PROCESSING'
      and i.current_attempt_id = ${fence.attemptId}::uuid and i.fencing_token = ${fence.fencingToken}::bigint`;

/** The item as the statement's snapshot saw it, to explain a fenced-off call. */
const existingItem = (workspaceId: string, itemId: string, fence: Fence): SQL =>
  sql`(select jsonb_build_object('status', e.status, 'attemptId', e.current_attempt_id, 'fencingToken', e.fencing_token::text,
                                 'attemptKnown', exists (select 1 from attempts p where p.id = ${fence.attemptId}::uuid and p.work_item_id = e.id))
       from work_items e where e.id = ${itemId}::uuid and e.workspace_id = ${workspaceId}::uuid)`;

interface Existing {
  status: string;
  attemptId: string | null;
  fencingToken: string | null;
  /** Whether the fence's attempt is one of this item's attempts (an earlier one, if not the current). */
  attemptKnown?: boolean;
}

/** Why a fenced call changed nothing: 404 if the item is not there, else a 409 saying why. */
function staleFence(existing: Existing | null, itemId: string, fence: Fence): Conflict | NotFound {
  if (!existing) return new NotFound("Work item", itemId);
  const status = { status: existing.status };
  if (existing.status === "CANCELLED") {
    return new Conflict("The work item was cancelled; this attempt's calls are no longer accepted", status);
  }
  if (existing.attemptId === fence.attemptId && existing.fencingToken !== fence.fencingToken) {
    return new Conflict("The fencing token does not match the current attempt's", status);
  }
  if (existing.attemptId !== fence.attemptId && existing.attemptKnown === false) {
    return new Conflict("The attempt id is not one of this item's attempts", status);
  }
  if (existing.attemptId !== fence.attemptId && existing.status === "PROCESSING") {
    return new Conflict("Stale attempt: the lease was lost and the item was reclaimed by a newer attempt", status);
  }
  if (existing.status === "QUEUED") {
    return new Conflict("Stale attempt: the lease expired and the item was requeued", status);
  }
  if (existing.status !== "PROCESSING") {
    return new Conflict(`The attempt is no longer running (the item is ${existing.status})`, status);
  }
  return new Conflict("The work item changed concurrently; this attempt no longer holds it", status);
}

function rejectStale(existing: Existing | null, itemId: string, fence: Fence): never {
  throw staleFence(existing, itemId, fence);
}

const parseJson = <T>(value: T | string | null): T | null =>
  typeof value === "string" ? (JSON.parse(value) as T) : value;

/** Extends the lease of a running attempt (by `leaseSeconds`, or the length of its last lease). */
export async function heartbeatWorkItem(tx: Tx, actor: Actor, itemId: string, raw: z.input<typeof HeartbeatInput>) {
  const input = parseInput(HeartbeatInput, raw);
  const lease = input.leaseSeconds
    ? sql`make_interval(secs => ${input.leaseSeconds})`
    : sql`(a.lease_expires_at - coalesce(a.heartbeat_at, a.started_at))`;
  const [row] = await rows<{
    extended: { leaseExpiresAt: string } | string | null;
    existing: Existing | string | null;
  }>(
    tx,
    sql`with target as (
          select i.id, i.current_attempt_id, now() + ${lease} as lease_expires_at
          from work_items i join attempts a on a.id = i.current_attempt_id
          where ${fenced(actor.workspaceId, itemId, input)}
        ),
        item as (
          update work_items i set lease_expires_at = t.lease_expires_at, updated_at = now()
          from target t where i.id = t.id and ${fenced(actor.workspaceId, itemId, input)}
          returning i.id, i.lease_expires_at
        ),
        attempt as (
          update attempts a set heartbeat_at = now(), lease_expires_at = t.lease_expires_at, updated_at = now()
          from target t, item where a.id = t.current_attempt_id
          returning a.id
        )
        select (select jsonb_build_object('leaseExpiresAt', item.lease_expires_at, 'attempts', (select count(*) from attempt)) from item) as extended,
               ${existingItem(actor.workspaceId, itemId, input)} as existing`,
  );
  const extended = parseJson(row?.extended ?? null);
  if (!extended) rejectStale(parseJson(row?.existing ?? null), itemId, input);
  return { id: itemId, attemptId: input.attemptId, leaseExpiresAt: new Date(extended.leaseExpiresAt) };
}

/**
 * Completes the attempt and stores the result: the item becomes COMPLETED, or
 * AWAITING_APPROVAL when it has an after-gate (a review request is opened). The batch
 * statement with one item (`completeWorkItems`); a refused fence is a 409 (404 if the item
 * is not there).
 */
export async function completeWorkItem(tx: Tx, actor: Actor, itemId: string, raw: z.input<typeof CompleteInput>) {
  const input = parseInput(CompleteInput, raw);
  const [outcome] = await completeWorkItems(tx, actor, { items: [{ id: itemId, ...input }] });
  if (!outcome) throw new Error("the completion statement returned no outcome");
  if (outcome.outcome !== "completed") throw outcome.refusal;
  return outcome.item;
}

/** A completion's answer: the item as it now is. */
export interface Completed {
  id: string;
  workOrderId: string;
  status: "COMPLETED" | "AWAITING_APPROVAL";
  attemptId: string;
  completedAt: Date | null;
  approvalRequestIds: string[];
}

/** One completion of a batch: done, or refused by its fence (a 409) or not found (a 404). */
export type BatchCompletion =
  | { id: string; outcome: "completed"; item: Completed }
  | { id: string; outcome: "conflict" | "not_found"; refusal: Conflict | NotFound };

/**
 * Completes many attempts in ONE statement, each fenced on its own: a stale fence among good
 * ones changes nothing for that item (its outcome says why) and the others complete. The
 * statement writes the attempts, the results and the activity rows, and locks each order the
 * batch may have finished; a second statement then refreshes those orders only
 * (`refreshOrderStatus` needs a snapshot taken after the lock), and items with an after-gate get
 * their review requests. Outcomes are in input order.
 */
export async function completeWorkItems(
  tx: Tx,
  actor: Actor,
  raw: z.input<typeof CompleteBatchInput>,
): Promise<BatchCompletion[]> {
  const input = parseInput(CompleteBatchInput, raw);
  const who = actorRef(actor);
  const fences = input.items.map((item) => ({
    id: item.id,
    attemptId: item.attemptId,
    fencingToken: item.fencingToken,
    result: item.result === undefined ? null : item.result,
  }));
  const found = await rows<{
    id: string;
    done: Done | string | null;
    existing: Existing | string | null;
    locked: string[] | string | null;
  }>(
    tx,
    sql`with input as (
          select (e->>'id')::uuid as id, (e->>'attemptId')::uuid as attempt_id, (e->>'fencingToken')::bigint as fencing_token,
                 e->'result' as result, n.ord
          from jsonb_array_elements(${jsonParam(fences)}) with ordinality as n(e, ord)
        ),
        target as (
          update work_items i
          set status = (case when i.approval->>'gate' = 'AFTER' then 'AWAITING_APPROVAL' else 'COMPLETED' end)::work_item_status,
              result = f.result,
              completed_at = case when i.approval->>'gate' = 'AFTER' then null else now() end,
              lease_expires_at = null, locked_by = null, last_error = null, updated_at = now()
          from input f
          where i.id = f.id and i.workspace_id = ${actor.workspaceId}::uuid and i.status = 'PROCESSING'
            and i.current_attempt_id = f.attempt_id and i.fencing_token = f.fencing_token
          returning i.id, i.workspace_id, i.work_order_id, i.status, i.current_attempt_id, i.approval, i.payload, i.completed_at,
                    f.result
        ),
        attempt as (
          update attempts a set status = 'COMPLETED', result = t.result, finished_at = now(), updated_at = now()
          from target t where a.id = t.current_attempt_id
          returning a.id
        ),
        -- Only a completion that may be its order's last needs the order (locked) and a status
        -- refresh. Another unfinished item that nobody is changing proves this is not the last;
        -- it is share-locked until commit, so it cannot finish unseen meanwhile. Items locked by
        -- a concurrent completion are skipped: both completions then lock the order in turn,
        -- and the second one's refresh sees the first one's commit.
        order_lock as (
          select o.id from work_orders o
          where o.id in (select work_order_id from target where status = 'COMPLETED')
            and not exists (
              select 1 from work_items w
              where w.work_order_id = o.id and w.id not in (select id from target)
                and w.status in ('QUEUED', 'AWAITING_APPROVAL', 'PROCESSING')
              for share skip locked
            )
          order by o.id
          for update
        ),
        ${auditCte(
          "logged",
          who,
          sql`select t.workspace_id, 'work_item.completed', 'work_item', t.id, jsonb_build_object('status', 'PROCESSING'),
                     jsonb_build_object('status', t.status, 'attemptId', t.current_attempt_id)
              from target t`,
        )}
        select f.id,
               (select jsonb_build_object('id', t.id, 'workOrderId', t.work_order_id, 'status', t.status, 'approval', t.approval,
                                          'payload', case when t.status = 'AWAITING_APPROVAL' then t.payload end,
                                          'completedAt', t.completed_at, 'attemptId', t.current_attempt_id,
                                          'attempts', (select count(*) from attempt))
                from target t where t.id = f.id) as done,
               (select jsonb_build_object('status', e.status, 'attemptId', e.current_attempt_id, 'fencingToken', e.fencing_token::text,
                                          'attemptKnown', exists (select 1 from attempts p where p.id = f.attempt_id and p.work_item_id = e.id))
                from work_items e where e.id = f.id and e.workspace_id = ${actor.workspaceId}::uuid) as existing,
               case when f.ord = 1 then (select coalesce(jsonb_agg(l.id), '[]'::jsonb) from order_lock l) end as locked
        from input f order by f.ord`,
  );
  const lockedOrders = parseJson<string[]>(found[0]?.locked ?? null) ?? [];
  if (lockedOrders.length > 0) await refreshOrderStatus(tx, lockedOrders, { actor: who, locked: true });
  const outcomes: BatchCompletion[] = [];
  for (const [index, row] of found.entries()) {
    const done = parseJson(row.done);
    if (!done) {
      const refusal = staleFence(parseJson(row.existing), row.id, fences[index] as Fence);
      outcomes.push({ id: row.id, outcome: refusal instanceof NotFound ? "not_found" : "conflict", refusal });
      continue;
    }
    await recordMemoriesUsed(tx, actor, done.id, input.items[index]?.usedMemoryIds);
    const approvalRequestIds =
      done.status === "AWAITING_APPROVAL" && done.approval
        ? await openApprovalRequests(tx, { workspaceId: actor.workspaceId, userId: actor.userId }, [
            {
              workItemId: done.id,
              workOrderId: done.workOrderId,
              payload: done.payload ?? {},
              requirement: done.approval,
            },
          ])
        : [];
    outcomes.push({
      id: row.id,
      outcome: "completed",
      item: {
        id: done.id,
        workOrderId: done.workOrderId,
        status: done.status,
        attemptId: done.attemptId,
        completedAt: done.completedAt ? new Date(done.completedAt) : null,
        approvalRequestIds,
      },
    });
  }
  return outcomes;
}

interface Done {
  id: string;
  workOrderId: string;
  status: "COMPLETED" | "AWAITING_APPROVAL";
  approval: ApprovalRequirement | null;
  /** Only when the item awaits its review: the payload the review is asked for. */
  payload: Record<string, unknown> | null;
  completedAt: string | null;
  attemptId: string;
}

/**
 * `closeFailedItems` (attempts closed, dead letters for the items that became FAILED, their
 * orders locked) and the activity rows of a failed call or a lease timeout: the shared tail
 * of both statements. `target` has the columns `closeFailedItems` needs, plus available_at.
 */
export function failureTail(actor: ActorRef, attemptStatus: "FAILED" | "TIMEOUT"): SQL {
  return sql`${closeFailedItems(attemptStatus)},
        ${auditCte(
          "logged",
          actor,
          sql`select t.workspace_id, case when t.status = 'FAILED' then 'work_item.failed' else 'work_item.retry_scheduled' end,
                     'work_item', t.id, jsonb_build_object('status', 'PROCESSING'),
                     jsonb_build_object('status', t.status, 'attemptId', t.current_attempt_id, 'attemptStatus', ${attemptStatus}::text,
                                        'error', t.error, 'availableAt', t.available_at,
                                        'deadLetterId', (select d.id from dead d where d.work_item_id = t.id))
              from target t
              union all
              select d.workspace_id, 'dead_letter.created', 'dead_letter', d.id, null::jsonb,
                     jsonb_build_object('source', 'work_item', 'workItemId', d.work_item_id)
              from dead d`,
        )}`;
}

/**
 * Attempts of item `i` counted against its retry budget: those since its last redrive.
 * `attempt_count` keeps counting across redrives (attempt numbers never restart); a redrive
 * sets `retry_base` to the attempts made so far, which gives a fresh budget of `max_attempts`.
 * Fail, the lease reaper and the backoff all count with this one expression.
 */
export const budgetAttempts = sql`(i.attempt_count - i.retry_base)`;
/** Whether item `i` may run again after this attempt (see `budgetAttempts`). */
export const hasAttemptsLeft = sql`${budgetAttempts} < i.max_attempts`;

/**
 * When a failed item (`i`, joined to its order `o`) runs again: the order's retry policy
 * (base and cap are its columns) with full jitter, after `now`.
 */
export const backoffUntil = (now: SQL): SQL =>
  sql`${now} + ${retryDelaySql({ baseMs: sql`o.retry_base_ms`, capMs: sql`o.retry_cap_ms`, jitter: "full" }, budgetAttempts)}`;

/**
 * Fails the attempt. A retryable failure with attempts left requeues the item after a
 * backoff (one statement); otherwise the item is FAILED and its dead letter is written in
 * the same statement, then the order's status is refreshed (the second statement).
 */
export async function failWorkItem(tx: Tx, actor: Actor, itemId: string, raw: z.input<typeof FailInput>) {
  const input = parseInput(FailInput, raw);
  const who = actorRef(actor);
  const [row] = await rows<{ done: FailDone | string | null; existing: Existing | string | null }>(
    tx,
    sql`with target as (
          update work_items i
          set status = (case when ${input.retryable}::boolean and ${hasAttemptsLeft} then 'QUEUED' else 'FAILED' end)::work_item_status,
              available_at = case when ${input.retryable}::boolean and ${hasAttemptsLeft}
                                  then ${backoffUntil(sql`now()`)} else i.available_at end,
              last_error = ${input.error}, lease_expires_at = null, locked_by = null, updated_at = now()
          from work_orders o
          where o.id = i.work_order_id and ${fenced(actor.workspaceId, itemId, input)}
          returning i.id, i.workspace_id, i.work_order_id, i.status, i.current_attempt_id, i.attempt_count, i.max_attempts,
                    i.payload, i.available_at, ${input.error}::text as error,
                    (case when not ${input.retryable}::boolean then 'Non-retryable failure: '
                          else 'Failed after ' || i.attempt_count || ' attempts: ' end) || ${input.error}::text as reason
        ),
        ${failureTail(who, "FAILED")}
        select (select jsonb_build_object('id', t.id, 'workOrderId', t.work_order_id, 'status', t.status,
                                          'attemptCount', t.attempt_count, 'maxAttempts', t.max_attempts,
                                          'availableAt', t.available_at,
                                          'deadLetterId', (select d.id from dead d where d.work_item_id = t.id),
                                          'attempts', (select count(*) from attempt), 'ordersLocked', (select count(*) from order_lock))
                from target t) as done,
               ${existingItem(actor.workspaceId, itemId, input)} as existing`,
  );
  const done = parseJson(row?.done ?? null);
  if (!done) rejectStale(parseJson(row?.existing ?? null), itemId, input);
  if (done.status === "FAILED") {
    await cancelDependants(tx, who, [done.id]);
    await refreshOrderStatus(tx, [done.workOrderId], { actor: who, locked: true });
  }
  return {
    id: done.id,
    workOrderId: done.workOrderId,
    status: done.status,
    attemptId: input.attemptId,
    attemptCount: done.attemptCount,
    maxAttempts: done.maxAttempts,
    willRetry: done.status === "QUEUED",
    availableAt: done.status === "QUEUED" ? new Date(done.availableAt) : null,
    deadLetterId: done.deadLetterId ?? null,
  };
}

interface FailDone {
  id: string;
  workOrderId: string;
  status: "QUEUED" | "FAILED";
  attemptCount: number;
  maxAttempts: number;
  availableAt: string;
  deadLetterId: string | null;
}
