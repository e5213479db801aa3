/**
 * Work orders: creation with their items in one transaction (idempotent by key, expanded
 * from a template, payloads validated, approval gates resolved), listing, reading and
 * cancellation. Creation is most of the file: it gathers every read into one round trip and
 * every write into another (see `createWorkOrder`).
 */

import { randomUUID } from "node:crypto";
import { z } from "@hono/zod-openapi";
import { and, asc, desc, eq, gte, inArray, lt, sql } from "drizzle-orm";
import { commitWith, one, rows, type Tx, together } from "../../db/client";
import { type ApprovalRequirement, priority, projects, workItems, workOrderStatus, workOrders } from "../../db/schema";
import {
  ApprovalRequirementInput,
  approvalRequestWrites,
  beforeTheAction,
  currentPoliciesQuery,
  namedApproverRolesQuery,
  requirementsFor,
} from "../approvals/gates";
import { cancelledItemsCte } from "../lifecycle/items";
import { activeSchemasQuery, checkItemPayloads } from "../platform/payload-schemas";
import { type Actor, actorRef, hasScope } from "../shared/actor";
import { auditCte, auditStatement } from "../shared/audit";
import { canonicalHash } from "../shared/canonical-json";
import { Conflict, Forbidden, Invalid, NotFound, violatedUniqueConstraint } from "../shared/errors";
import { after, PageQuery, page } from "../shared/pagination";
import { DateTimeInput, parseInput, StorableJsonObject } from "../shared/validation";
import {
  dedupConflictTarget,
  dedupKeysOf,
  liveDuplicateQuery,
  refuseLiveDuplicate,
  refuseLiveDuplicates,
} from "./controls/dedup";
import { runAt } from "./controls/delays";
import { MAX_DEPENDENCIES, resolveDependencies } from "./controls/dependencies";
import { itemCountsByOrder } from "./item-counts";
import { itemColumns, orderColumns, presentOrder, RetryPolicy } from "./schemas";
import { templateQuery } from "./templates";

export const Priority = z.enum(priority.enumValues).openapi("Priority");
export const MAX_ITEMS_PER_ORDER = 5000;
const MAX_DELAY_SECONDS = 366 * 24 * 3600;
const ControlName = z.string().trim().min(1).max(200);
const DEFAULT_RETRY = { baseMs: 1000, capMs: 300_000 };

export const CreateWorkItemInput = z
  .strictObject({
    type: z.string().trim().min(1).max(200),
    payload: StorableJsonObject().default({}),
    maxAttempts: z.number().int().min(1).max(100).optional(),
    approval: ApprovalRequirementInput.nullable().optional(),
    key: ControlName.optional().openapi({ description: "The item's name within its order, for `dependsOn`" }),
    dependsOn: z.array(ControlName).max(MAX_DEPENDENCIES).optional().openapi({
      description: "Keys of items of this order that must be COMPLETED first; the claim carries their results",
    }),
    concurrencyKey: ControlName.optional().openapi({
      description: "A customer, a model, a repository: limits (/v1/queue-limits) apply per key",
    }),
    dedupKey: z.string().min(1).max(500).optional().openapi({
      description: "While an item with this key is queued, gated or running in the workspace, another is refused (409)",
    }),
    runAt: DateTimeInput("Not claimable before this time (ISO 8601)").optional(),
    delaySeconds: z
      .number()
      .int()
      .min(0)
      .max(MAX_DELAY_SECONDS)
      .optional()
      .openapi({ description: "Not claimable for this many seconds after creation" }),
  })
  .refine((item) => item.runAt === undefined || item.delaySeconds === undefined, {
    message: "Give runAt or delaySeconds, not both",
    path: ["delaySeconds"],
  })
  .openapi("CreateWorkItemInput");

/** An item to create, from the order's items or a template step (whose approval may name a policy). */
type ItemSpec = Omit<z.output<typeof CreateWorkItemInput>, "approval"> & { approval?: ApprovalRequirement | null };

export const CreateWorkOrderInput = z
  .strictObject({
    title: z.string().trim().min(1).max(500),
    description: z.string().max(10_000).optional(),
    priority: Priority.default("MEDIUM"),
    metadata: StorableJsonObject().default({}),
    templateId: z.string().uuid().optional(),
    projectId: z.string().uuid().optional().openapi({ description: "A project of the workspace the order belongs to" }),
    /** With a template: merged over every step's payload defaults. */
    payload: StorableJsonObject().optional(),
    retry: RetryPolicy.optional(),
    onDependencyFailure: z.enum(["CANCEL", "HOLD"]).default("CANCEL").openapi({
      description:
        "When an item fails for good, its dependants are cancelled with the reason (CANCEL) or stay queued (HOLD)",
    }),
    items: z.array(CreateWorkItemInput).max(MAX_ITEMS_PER_ORDER).default([]),
  })
  .openapi("CreateWorkOrderInput");
export type CreateWorkOrderInput = z.infer<typeof CreateWorkOrderInput>;

export const IdempotencyKey = z.string().trim().min(1).max(255);

export const ListWorkOrdersQuery = PageQuery.extend({
  status: z.enum(workOrderStatus.enumValues).optional(),
  priority: Priority.optional(),
  templateId: z.string().uuid().optional(),
  projectId: z.string().uuid().optional(),
  createdAfter: DateTimeInput("Created at or after (ISO 8601)").optional(),
  createdBefore: DateTimeInput("Created before (ISO 8601)").optional(),
});

export const CancelWorkOrderInput = z
  .strictObject({ reason: z.string().trim().min(1).max(2000).optional() })
  .openapi("CancelWorkOrderInput");

/** What an Idempotency-Key remembers of its request: the body, whatever its key order. */
export const requestHash = canonicalHash;

export interface CreatedWorkOrder {
  order: ReturnType<typeof presentOrder>;
  items: Array<Omit<typeof workItems.$inferSelect, "fencingToken" | "workspaceId" | "createdSeq">>;
  /** False when an earlier request with the same Idempotency-Key created it. */
  created: boolean;
  /** Approval requests opened for before-gates; deliver their notifications after commit. */
  approvalRequestIds: string[];
}

/** The order an earlier request with `key` created, and its items (two statements, sent together). */
function replayQueries(tx: Tx, workspaceId: string, key: string) {
  const sameKey = and(eq(workOrders.workspaceId, workspaceId), eq(workOrders.idempotencyKey, key));
  return {
    replayOrder: tx.select(orderColumns).from(workOrders).where(sameKey),
    replayItems: tx
      .select(itemColumns)
      .from(workItems)
      .where(
        and(
          eq(workItems.workspaceId, workspaceId),
          inArray(workItems.workOrderId, tx.select({ id: workOrders.id }).from(workOrders).where(sameKey)),
        ),
      )
      .orderBy(asc(workItems.sequence), asc(workItems.id)),
  };
}

type OrderRow = Awaited<ReturnType<typeof replayQueries>["replayOrder"]>[number];
type ItemRow = Awaited<ReturnType<typeof replayQueries>["replayItems"]>[number];

/** What the replay reads found: the earlier order (a different body is a 409), or nothing. */
function replayed(found: { replayOrder: OrderRow[]; replayItems: ItemRow[] }, hash: string) {
  const [existing] = found.replayOrder;
  if (!existing) return undefined;
  if (existing.requestHash !== hash) {
    throw new Conflict("This Idempotency-Key was already used with a different request body", {
      workOrderId: existing.id,
    });
  }
  return { order: presentOrder(existing), items: found.replayItems, created: false, approvalRequestIds: [] };
}

async function replay(tx: Tx, actor: Actor, key: string, hash: string): Promise<CreatedWorkOrder | undefined> {
  return replayed(await together(tx, replayQueries(tx, actor.workspaceId, key)), hash);
}

function orderItems(tx: Tx, workspaceId: string, workOrderId: string) {
  return tx
    .select(itemColumns)
    .from(workItems)
    .where(and(eq(workItems.workspaceId, workspaceId), eq(workItems.workOrderId, workOrderId)))
    .orderBy(asc(workItems.sequence), asc(workItems.id));
}

/** The reads that judge the items: their types' schemas, the policies, the roles of approvers they name. */
function itemReads(tx: Tx, workspaceId: string, specs: ItemSpec[]) {
  return {
    schemas: activeSchemasQuery(tx, workspaceId, specs),
    policies: currentPoliciesQuery(tx, workspaceId),
    roles: namedApproverRolesQuery(tx, workspaceId, specs),
  };
}

export interface CreateWorkOrderOptions {
  idempotencyKey?: string;
  /** Every item waits for an approval before it runs (`beforeTheAction`): MCP's request_approval. */
  approvalBefore?: boolean;
  /**
   * The caller's transaction ends with this creation (a route's `inTenant`): the writes go in
   * one round trip with COMMIT (`commitWith`) and the transaction takes no statement after.
   * Losing a race for the Idempotency-Key or a dedup key then fails it whole, nothing written,
   * with `CreationRace`; `retryCreationRace` runs it again once, and the new transaction finds
   * the winner (a replay, or the 409 naming the live item). Without it the writes stay in the
   * caller's open transaction and a lost race is settled in it (schedules, MCP, tests).
   */
  commit?: boolean;
}

/**
 * A concurrent request took this creation's Idempotency-Key or one of its dedup keys first; the
 * transaction was rolled back whole. A 409 if it reaches the client; `retryCreationRace` retries.
 */
export class CreationRace extends Conflict {}

/** Runs `attempt` (a transaction creating an order with `commit: true`) again once if it lost a race. */
export async function retryCreationRace<T>(attempt: () => Promise<T>): Promise<T> {
  try {
    return await attempt();
  } catch (error) {
    if (!(error instanceof CreationRace)) throw error;
    return attempt();
  }
}

const IDEMPOTENCY_INDEX = "work_orders_idempotency_key";
const DEDUP_INDEX = "work_items_live_dedup_key";
const CHUNK = 1000;

/**
 * Creates an order and its items in the caller's transaction. With `idempotencyKey`, a
 * repeat of the same body returns the original order (`created: false`) and a different
 * body is a 409; concurrent first uses are settled by the unique (workspace, key) index.
 * With `approvalBefore`, every item waits for an approval before it runs (`beforeTheAction`).
 *
 * Round trips: every read it needs goes in one (the replay, the project, live dedup keys,
 * schemas, policies, named approvers' roles), with the transaction's BEGIN and set-up when it
 * opens it; its writes go in one more, with COMMIT under `commit`. A template costs one more:
 * its steps decide the item types the schemas and policies are read for.
 */
export async function createWorkOrder(
  tx: Tx,
  actor: Actor,
  raw: z.input<typeof CreateWorkOrderInput>,
  options: CreateWorkOrderOptions = {},
): Promise<CreatedWorkOrder> {
  const input = parseInput(CreateWorkOrderInput, raw);
  const key = options.idempotencyKey === undefined ? undefined : parseInput(IdempotencyKey, options.idempotencyKey);
  const hash = requestHash(input);
  const workspaceId = actor.workspaceId;

  // One round trip of reads; without a template the items are known and judged from it too.
  const read = await together(tx, {
    ...(key ? replayQueries(tx, workspaceId, key) : { replayOrder: undefined, replayItems: undefined }),
    template: input.templateId ? templateQuery(tx, workspaceId, input.templateId) : undefined,
    project: input.projectId ? projectQuery(tx, workspaceId, input.projectId) : undefined,
    live: liveDuplicateQuery(
      tx,
      workspaceId,
      input.items.flatMap((item) => (item.dedupKey === undefined ? [] : [item.dedupKey])),
    ),
    ...(input.templateId
      ? { schemas: undefined, policies: undefined, roles: undefined }
      : itemReads(tx, workspaceId, input.items)),
  });
  if (read.replayOrder && read.replayItems) {
    const earlier = replayed({ replayOrder: read.replayOrder, replayItems: read.replayItems }, hash);
    if (earlier) return earlier;
  }

  let retry = input.retry ?? DEFAULT_RETRY;
  // The items to create: the template's steps, then the order's own items.
  const specs: ItemSpec[] = [];
  if (input.templateId) {
    const [template] = read.template ?? [];
    if (!template) throw new Invalid(`templateId ${input.templateId} refers to no workflow template`);
    if (!input.retry && template.retryBaseMs !== null && template.retryCapMs !== null) {
      retry = { baseMs: template.retryBaseMs, capMs: template.retryCapMs };
    }
    for (const step of template.steps) {
      specs.push({
        type: step.type,
        payload: { ...(step.payloadDefaults ?? {}), ...(input.payload ?? {}) },
        maxAttempts: step.maxAttempts,
        approval: step.approval ?? null,
      });
    }
  } else if (input.payload) {
    throw new Invalid("payload is only used with templateId; give each item its own payload");
  }
  if (input.items.some((item) => item.approval) && !hasScope(actor, "approvals:write")) {
    // A template's steps were set by someone who had it (templates.ts); an item's own needs it now.
    throw new Forbidden("Setting an item's own approval requirement needs the 'approvals:write' scope");
  }
  specs.push(...input.items);
  if (specs.length === 0) throw new Invalid("A work order needs items or a templateId");
  if (specs.length > MAX_ITEMS_PER_ORDER) throw new Invalid(`A work order holds at most ${MAX_ITEMS_PER_ORDER} items`);

  if (input.projectId) checkProject(read.project ?? [], input.projectId);
  const dependencies = resolveDependencies(specs);
  const dedupKeys = dedupKeysOf(specs);
  refuseLiveDuplicate(read.live ?? []);
  // With a template, its steps' types and approvals are known only now: a second round trip.
  const judged = input.templateId ? await together(tx, itemReads(tx, workspaceId, specs)) : read;
  checkItemPayloads(specs, judged.schemas ?? []);
  const resolved = requirementsFor(specs, judged.policies ?? [], judged.roles ?? []);
  const approvals = options.approvalBefore ? resolved.map(beforeTheAction) : resolved;

  // Ids are made here, so every write can name the rows the others create.
  const orderId = randomUUID();
  const itemIds = dependencies?.ids ?? specs.map(() => randomUUID());
  const orderValues = {
    id: orderId,
    workspaceId,
    title: input.title,
    description: input.description ?? null,
    priority: input.priority,
    metadata: input.metadata,
    templateId: input.templateId ?? null,
    projectId: input.projectId ?? null,
    requestedBy: actor.userId,
    idempotencyKey: key ?? null,
    requestHash: key ? hash : null,
    retryBaseMs: retry.baseMs,
    retryCapMs: retry.capMs,
    onDependencyFailure: input.onDependencyFailure,
  };
  const itemValues = specs.map((spec, index) => {
    const approval = approvals[index] ?? null;
    return {
      id: itemIds[index] as string,
      ...(dependencies ? { dependsOn: dependencies.dependsOn[index] } : {}),
      workspaceId,
      workOrderId: orderId,
      sequence: index,
      type: spec.type,
      payload: spec.payload,
      status: approval?.gate === "BEFORE" ? ("AWAITING_APPROVAL" as const) : ("QUEUED" as const),
      priority: input.priority,
      maxAttempts: spec.maxAttempts ?? 3,
      approval,
      requestedApproval: spec.approval ?? null,
      key: spec.key ?? null,
      concurrencyKey: spec.concurrencyKey ?? null,
      dedupKey: spec.dedupKey ?? null,
      ...(spec.runAt !== undefined || spec.delaySeconds !== undefined ? { availableAt: runAt(spec) } : {}),
    };
  });
  const chunks: Array<typeof itemValues> = [];
  for (let start = 0; start < itemValues.length; start += CHUNK) chunks.push(itemValues.slice(start, start + CHUNK));
  const requests = itemValues.flatMap((item) =>
    item.approval?.gate === "BEFORE"
      ? [{ workItemId: item.id, workOrderId: orderId, payload: item.payload, requirement: item.approval }]
      : [],
  );
  const opening = () => approvalRequestWrites(tx, { workspaceId, userId: actor.userId }, requests);
  const logged = () =>
    auditStatement(tx, actorRef(actor), [
      {
        action: "work_order.created",
        entity: { type: "work_order", id: orderId },
        after: {
          title: input.title,
          priority: input.priority,
          templateId: input.templateId ?? null,
          items: specs.length,
        },
      },
      ...itemValues.map((item) => ({
        action: "work_item.created",
        entity: { type: "work_item", id: item.id },
        after: { workOrderId: orderId, type: item.type, status: item.status },
      })),
    ]);

  if (options.commit) {
    // Everything in one round trip with COMMIT. A concurrent winner of a key makes its insert
    // fail (the server skips the rest and the COMMIT; the transaction rolls back).
    const gates = opening();
    try {
      const written = await commitWith(tx, {
        order: tx.insert(workOrders).values(orderValues).returning(orderColumns),
        items: chunks.map((chunk) => tx.insert(workItems).values(chunk).returning(itemColumns)),
        gates: gates.statements,
        audit: logged(),
      });
      return {
        order: presentOrder(one(written.order)),
        items: written.items.flat(),
        created: true,
        approvalRequestIds: gates.requestIds,
      };
    } catch (error) {
      const index = violatedUniqueConstraint(error);
      if (index === IDEMPOTENCY_INDEX) {
        throw new CreationRace("A concurrent request with this Idempotency-Key did not finish; retry");
      }
      if (index === DEDUP_INDEX) {
        throw new CreationRace("A concurrent request created an item with one of these dedup keys; retry");
      }
      throw error;
    }
  }

  // In the caller's open transaction: the order first, so a concurrent first use of the key is
  // answered as its replay here (the insert waits for the other transaction, then skips).
  const [order] = await tx
    .insert(workOrders)
    .values(orderValues)
    .onConflictDoNothing({ target: [workOrders.workspaceId, workOrders.idempotencyKey] })
    .returning(orderColumns);
  if (!order) {
    // Only a key can conflict: a concurrent request with it committed first. Answer as its replay.
    const earlier = key ? await replay(tx, actor, key, hash) : undefined;
    if (earlier) return earlier;
    throw new Conflict("A concurrent request with this Idempotency-Key did not finish; retry");
  }
  const inserted = await together(tx, {
    items: chunks.map((chunk) =>
      dedupKeys.length > 0
        ? tx.insert(workItems).values(chunk).onConflictDoNothing(dedupConflictTarget).returning(itemColumns)
        : tx.insert(workItems).values(chunk).returning(itemColumns),
    ),
  });
  const items = inserted.items.flat();
  if (items.length < specs.length) {
    // A concurrent creation took a dedup key first (committed while this insert waited).
    await refuseLiveDuplicates(tx, workspaceId, dedupKeys);
    throw new Conflict("A concurrent request created an item with one of these dedup keys; retry");
  }
  const gates = opening();
  await together(tx, { gates: gates.statements, audit: logged() });
  return { order: presentOrder(order), items, created: true, approvalRequestIds: gates.requestIds };
}

/** The project an order names, if it is the workspace's (RLS hides the others too). */
function projectQuery(tx: Tx, workspaceId: string, projectId: string) {
  return tx
    .select({ id: projects.id })
    .from(projects)
    .where(and(eq(projects.workspaceId, workspaceId), eq(projects.id, projectId)));
}

function checkProject(found: Array<{ id: string }>, projectId: string) {
  if (found.length === 0) {
    throw new Invalid(`projectId ${projectId} refers to no project of this workspace`, [
      { path: "projectId", message: "no such project in this workspace" },
    ]);
  }
}

export async function listWorkOrders(tx: Tx, actor: Actor, raw: z.input<typeof ListWorkOrdersQuery>) {
  const query = parseInput(ListWorkOrdersQuery, raw);
  const list = await tx
    .select(orderColumns)
    .from(workOrders)
    .where(
      and(
        eq(workOrders.workspaceId, actor.workspaceId),
        query.status ? eq(workOrders.status, query.status) : undefined,
        query.priority ? eq(workOrders.priority, query.priority) : undefined,
        query.templateId ? eq(workOrders.templateId, query.templateId) : undefined,
        query.projectId ? eq(workOrders.projectId, query.projectId) : undefined,
        query.createdAfter ? gte(workOrders.createdAt, query.createdAfter) : undefined,
        query.createdBefore ? lt(workOrders.createdAt, query.createdBefore) : undefined,
        after(workOrders.createdAt, workOrders.id, query.cursor),
      ),
    )
    .orderBy(desc(workOrders.createdAt), desc(workOrders.id))
    .limit(query.limit + 1);
  const result = page(list, query.limit);
  const counts = await itemCountsByOrder(
    tx,
    actor.workspaceId,
    result.items.map((order) => order.id),
  );
  return {
    items: result.items.map((order) => ({ ...presentOrder(order), itemCounts: counts.get(order.id) ?? {} })),
    nextCursor: result.nextCursor,
  };
}

/** An order with its items (in creation order) and a count of items per status. */
export async function getWorkOrder(tx: Tx, actor: Actor, id: string) {
  const [order] = await tx
    .select(orderColumns)
    .from(workOrders)
    .where(and(eq(workOrders.workspaceId, actor.workspaceId), eq(workOrders.id, id)));
  if (!order) throw new NotFound("Work order", id);
  const items = await orderItems(tx, actor.workspaceId, id);
  const counts: Record<string, number> = {};
  for (const item of items) counts[item.status] = (counts[item.status] ?? 0) + 1;
  return { ...presentOrder(order), itemCounts: counts, items };
}

/**
 * Cancels an order that has not finished: its queued, gated and running items become
 * CANCELLED (running attempts too, so their workers' completions get 409), then the order.
 * Items first, then the order: the lock order every other transition uses.
 */
export async function cancelWorkOrder(
  tx: Tx,
  actor: Actor,
  id: string,
  raw: z.input<typeof CancelWorkOrderInput> = {},
) {
  const input = parseInput(CancelWorkOrderInput, raw);
  const [order] = await tx
    .select({ status: workOrders.status })
    .from(workOrders)
    .where(and(eq(workOrders.workspaceId, actor.workspaceId), eq(workOrders.id, id)));
  if (!order) throw new NotFound("Work order", id);
  if (order.status === "COMPLETED" || order.status === "FAILED" || order.status === "CANCELLED") {
    throw new Conflict(`The work order is already ${order.status} and cannot be cancelled`, { status: order.status });
  }
  const who = actorRef(actor);
  const reason = input.reason ?? null;
  const cancelled = await rows<{ id: string }>(
    tx,
    sql`with ${cancelledItemsCte(
      sql`i.work_order_id = ${id}::uuid and i.workspace_id = ${actor.workspaceId}::uuid`,
      who,
      sql`${reason}::text`,
    )}
        select t.id, (select count(*) from attempt) as attempts_closed from target t`,
  );
  const [updated] = await rows<{ id: string; before: string }>(
    tx,
    sql`with previous as (
          select id, status from work_orders where id = ${id}::uuid and workspace_id = ${actor.workspaceId}::uuid
        ),
        changed as (
          update work_orders o set status = 'CANCELLED', completed_at = now(), updated_at = now()
          from previous p
          where o.id = p.id and o.status in ('PENDING', 'PROCESSING')
          returning o.id, o.workspace_id, p.status as before
        ),
        ${auditCte(
          "logged",
          who,
          sql`select c.workspace_id, 'work_order.cancelled', 'work_order', c.id,
                     jsonb_build_object('status', c.before),
                     jsonb_build_object('status', 'CANCELLED', 'reason', ${reason}::text, 'itemsCancelled', ${cancelled.length}::int)
              from changed c`,
        )}
        select id, before::text from changed`,
  );
  if (!updated) throw new Conflict("The work order finished while it was being cancelled");
  return getWorkOrder(tx, actor, id);
}
