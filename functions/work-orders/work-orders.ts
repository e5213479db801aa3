/**
 * Work orders: creation with their items in one transaction (idempotent by key, expanded
 * from a template, payloads validated, approval gates resolved), listing, reading and
 * cancellation.
 */

import { z } from "@hono/zod-openapi";
import { and, asc, desc, eq, gte, lt, sql } from "drizzle-orm";
import { rows, type Tx } from "../../db/client";
import { type ApprovalRequirement, priority, projects, workItems, workOrderStatus, workOrders } from "../../db/schema";
import {
  ApprovalRequirementInput,
  beforeTheAction,
  openApprovalRequests,
  resolveApprovalRequirements,
} from "../approvals/gates";
import { cancelledItemsCte } from "../lifecycle/items";
import { validateItemPayloads } from "../platform/payload-schemas";
import { type Actor, actorRef, hasScope } from "../shared/actor";
import { audit, auditCte } from "../shared/audit";
import { canonicalHash } from "../shared/canonical-json";
import { Conflict, Forbidden, Invalid, NotFound } from "../shared/errors";
import { after, PageQuery, page } from "../shared/pagination";
import { DateTimeInput, parseInput, StorableJsonObject } from "../shared/validation";
import { dedupConflictTarget, dedupKeysOf, refuseLiveDuplicates } from "./controls/dedup";
import { runAt } from "./controls/delays";
import { MAX_DEPENDENCIES, resolveDependencies } from "./controls/dependencies";
import { itemCountsByOrder } from "./item-counts";
import { itemColumns, orderColumns, presentOrder, RetryPolicy } from "./schemas";
import { findTemplate } from "./templates";

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

async function replay(tx: Tx, actor: Actor, key: string, hash: string): Promise<CreatedWorkOrder | undefined> {
  const [existing] = await tx
    .select(orderColumns)
    .from(workOrders)
    .where(and(eq(workOrders.workspaceId, actor.workspaceId), eq(workOrders.idempotencyKey, key)));
  if (!existing) return undefined;
  if (existing.requestHash !== hash) {
    throw new Conflict("This Idempotency-Key was already used with a different request body", {
      workOrderId: existing.id,
    });
  }
  const items = await orderItems(tx, actor.workspaceId, existing.id);
  return { order: presentOrder(existing), items, created: false, approvalRequestIds: [] };
}

function orderItems(tx: Tx, workspaceId: string, workOrderId: string) {
  return tx
    .select(itemColumns)
    .from(workItems)
    .where(and(eq(workItems.workspaceId, workspaceId), eq(workItems.workOrderId, workOrderId)))
    .orderBy(asc(workItems.sequence), asc(workItems.id));
}

/**
 * Creates an order and its items in the caller's transaction. With `idempotencyKey`, a
 * repeat of the same body returns the original order (`created: false`) and a different
 * body is a 409; concurrent first uses are settled by the unique (workspace, key) index.
 * With `approvalBefore`, every item waits for an approval before it runs (`beforeTheAction`).
 */
export async function createWorkOrder(
  tx: Tx,
  actor: Actor,
  raw: z.input<typeof CreateWorkOrderInput>,
  options: { idempotencyKey?: string; approvalBefore?: boolean } = {},
): Promise<CreatedWorkOrder> {
  const input = parseInput(CreateWorkOrderInput, raw);
  const key = options.idempotencyKey === undefined ? undefined : parseInput(IdempotencyKey, options.idempotencyKey);
  const hash = requestHash(input);
  if (key) {
    const replayed = await replay(tx, actor, key, hash);
    if (replayed) return replayed;
  }

  let retry = input.retry ?? DEFAULT_RETRY;
  // The items to create: the template's steps, then the order's own items.
  const specs: ItemSpec[] = [];
  if (input.templateId) {
    const template = await findTemplate(tx, actor.workspaceId, input.templateId);
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

  if (input.projectId) await checkProject(tx, actor.workspaceId, input.projectId);
  const dependencies = resolveDependencies(specs);
  const dedupKeys = dedupKeysOf(specs);
  await refuseLiveDuplicates(tx, actor.workspaceId, dedupKeys);
  await validateItemPayloads(tx, actor.workspaceId, specs);
  const resolved = await resolveApprovalRequirements(tx, actor.workspaceId, specs);
  const approvals = options.approvalBefore ? resolved.map(beforeTheAction) : resolved;

  const [order] = await tx
    .insert(workOrders)
    .values({
      workspaceId: actor.workspaceId,
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
    })
    .onConflictDoNothing({ target: [workOrders.workspaceId, workOrders.idempotencyKey] })
    .returning(orderColumns);
  if (!order) {
    // Only a key can conflict: a concurrent request with it committed first. Answer as its replay.
    const replayed = key ? await replay(tx, actor, key, hash) : undefined;
    if (replayed) return replayed;
    throw new Conflict("A concurrent request with this Idempotency-Key did not finish; retry");
  }

  const items: CreatedWorkOrder["items"] = [];
  const CHUNK = 1000;
  for (let start = 0; start < specs.length; start += CHUNK) {
    const chunk = specs.slice(start, start + CHUNK);
    const insert = tx.insert(workItems).values(
      chunk.map((spec, offset) => {
        const approval = approvals[start + offset] ?? null;
        return {
          ...(dependencies
            ? { id: dependencies.ids[start + offset], dependsOn: dependencies.dependsOn[start + offset] }
            : {}),
          workspaceId: actor.workspaceId,
          workOrderId: order.id,
          sequence: start + offset,
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
      }),
    );
    const inserted =
      dedupKeys.length > 0
        ? await insert.onConflictDoNothing(dedupConflictTarget).returning(itemColumns)
        : await insert.returning(itemColumns);
    if (inserted.length < chunk.length) {
      // A concurrent creation took a dedup key first (committed while this insert waited).
      await refuseLiveDuplicates(tx, actor.workspaceId, dedupKeys);
      throw new Conflict("A concurrent request created an item with one of these dedup keys; retry");
    }
    items.push(...inserted);
  }

  const approvalRequestIds = await openApprovalRequests(
    tx,
    { workspaceId: actor.workspaceId, userId: actor.userId },
    items.flatMap((item) =>
      item.approval?.gate === "BEFORE"
        ? [{ workItemId: item.id, workOrderId: order.id, payload: item.payload, requirement: item.approval }]
        : [],
    ),
  );

  await audit(tx, actorRef(actor), [
    {
      action: "work_order.created",
      entity: { type: "work_order", id: order.id },
      after: { title: order.title, priority: order.priority, templateId: order.templateId, items: items.length },
    },
    ...items.map((item) => ({
      action: "work_item.created",
      entity: { type: "work_item", id: item.id },
      after: { workOrderId: order.id, type: item.type, status: item.status },
    })),
  ]);
  return { order: presentOrder(order), items, created: true, approvalRequestIds };
}

/** The project an order names must be the workspace's (RLS hides the others too). */
async function checkProject(tx: Tx, workspaceId: string, projectId: string) {
  const [project] = await tx
    .select({ id: projects.id })
    .from(projects)
    .where(and(eq(projects.workspaceId, workspaceId), eq(projects.id, projectId)));
  if (!project) {
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
