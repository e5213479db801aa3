/**
 * The work-orders context's response shapes, derived from its tables (functions/shared/schemas.ts)
 * so each column is written once, in db/schema; and the columns each read selects, derived from
 * the same schemas.
 */
import { z } from "@hono/zod-openapi";
import {
  ApprovalRequirement,
  attempts,
  deadLetters,
  evalResults,
  TemplateStep,
  workflowTemplates,
  workItems,
  workOrders,
} from "../../db/schema";
import { createSelectSchema, Json, JsonObject, selection } from "../shared/schemas";
import { ItemMemories } from "./ledger";

/** Exponential backoff with full jitter: delay = random(0, min(capMs, baseMs * 2^(attempt-1))). */
export const MAX_RETRY_MS = 24 * 3600 * 1000;
export const RetryPolicy = z
  .strictObject({
    baseMs: z.number().int().min(1).max(MAX_RETRY_MS),
    capMs: z.number().int().min(1).max(MAX_RETRY_MS),
  })
  .refine((policy) => policy.capMs >= policy.baseMs, { message: "capMs must be at least baseMs", path: ["capMs"] })
  .openapi("RetryPolicy");

/** A work order's row as reads select it (never another workspace's id). */
const WorkOrderRow = createSelectSchema(workOrders, { metadata: JsonObject }).omit({ workspaceId: true });
export const orderColumns = selection(workOrders, WorkOrderRow);
export type WorkOrderRow = z.output<typeof WorkOrderRow>;

/** A work order as the API shows it: the retry policy as one object, never the idempotency hash. */
export const WorkOrder = WorkOrderRow.omit({ requestHash: true, retryBaseMs: true, retryCapMs: true })
  .extend({ retry: z.object({ baseMs: z.number().int(), capMs: z.number().int() }) })
  .openapi("WorkOrder");

export function presentOrder(row: WorkOrderRow): z.output<typeof WorkOrder> {
  const { retryBaseMs, retryCapMs, requestHash: _hash, ...rest } = row;
  return { ...rest, retry: { baseMs: retryBaseMs, capMs: retryCapMs } };
}

/** A work item as reads show it: never the fencing token (only the claimer gets it). */
export const WorkItem = createSelectSchema(workItems, {
  payload: JsonObject,
  approval: ApprovalRequirement.nullable(),
  result: Json,
})
  .omit({ workspaceId: true, fencingToken: true, createdSeq: true })
  .openapi("WorkItem");
export const itemColumns = selection(workItems, WorkItem);
export type WorkItem = z.output<typeof WorkItem>;

const ItemCounts = z.record(z.string(), z.number().int()).openapi({ description: "Items per status" });

/** An order in a listing: with how many of its items are in each status. */
export const WorkOrderSummary = WorkOrder.extend({ itemCounts: ItemCounts }).openapi("WorkOrderSummary");

export const WorkOrderWithItems = WorkOrder.extend({
  itemCounts: ItemCounts,
  items: z.array(WorkItem),
}).openapi("WorkOrderWithItems");

export const CreatedWorkOrder = WorkOrder.extend({
  items: z.array(WorkItem),
  approvalRequestIds: z.array(z.string().uuid()),
}).openapi("CreatedWorkOrder");

export const Attempt = createSelectSchema(attempts, { result: Json })
  .omit({ workspaceId: true, workItemId: true, fencingToken: true, createdAt: true, updatedAt: true })
  .openapi("Attempt");
export const attemptColumns = selection(attempts, Attempt);

export const EvalResult = createSelectSchema(evalResults, { details: Json })
  .omit({ workspaceId: true, updatedAt: true })
  .openapi("EvalResult");
export const evalColumns = selection(evalResults, EvalResult);

export const WorkItemDetail = WorkItem.extend({
  attempts: z.array(Attempt),
  evals: z.array(EvalResult),
  memories: ItemMemories,
}).openapi("WorkItemDetail");

/**
 * A claimed item: the whole item, plus the attempt it runs as and the fencing token to send
 * back with heartbeat, complete and fail.
 */
export const ClaimedItem = WorkItem.extend({
  attemptId: z.string().uuid(),
  attemptNumber: z.number().int(),
  fencingToken: z.string().openapi({ description: "Send back with heartbeat, complete and fail" }),
  leaseExpiresAt: z.date(),
  dependencies: z.record(z.string(), Json).optional().openapi({
    description: "With `dependsOn`: the results of the items it depends on, by their keys",
  }),
}).openapi("ClaimedWorkItem");
export type ClaimedItem = z.output<typeof ClaimedItem>;

export const CompletedItem = z
  .object({
    id: z.string().uuid(),
    workOrderId: z.string().uuid(),
    status: z.enum(["COMPLETED", "AWAITING_APPROVAL"]),
    attemptId: z.string().uuid(),
    completedAt: z.date().nullable(),
    approvalRequestIds: z.array(z.string().uuid()),
  })
  .openapi("CompletedWorkItem");

export const BatchCompletionResult = z
  .object({
    results: z.array(
      z.object({
        id: z.string().uuid(),
        outcome: z.enum(["completed", "conflict", "not_found"]),
        item: CompletedItem.optional().openapi({ description: "The completion, when `outcome` is `completed`" }),
        error: z
          .object({ code: z.string(), message: z.string(), details: z.unknown().optional() })
          .optional()
          .openapi({ description: "Why the fence refused it (409's or 404's error), otherwise absent" }),
      }),
    ),
  })
  .openapi("CompleteWorkItemsResult");

export const FailedItem = z
  .object({
    id: z.string().uuid(),
    workOrderId: z.string().uuid(),
    status: z.enum(["QUEUED", "FAILED"]),
    attemptId: z.string().uuid(),
    attemptCount: z.number().int(),
    maxAttempts: z.number().int(),
    willRetry: z.boolean(),
    availableAt: z.date().nullable(),
    deadLetterId: z.string().uuid().nullable(),
  })
  .openapi("FailedWorkItem");

export const Heartbeat = z
  .object({ id: z.string().uuid(), attemptId: z.string().uuid(), leaseExpiresAt: z.date() })
  .openapi("Heartbeat");

export const DeadLetter = createSelectSchema(deadLetters, { payload: Json, errors: z.array(JsonObject) })
  .omit({ workspaceId: true })
  .openapi("DeadLetter");
export const deadLetterColumns = selection(deadLetters, DeadLetter);

export const RedrivenDeadLetter = z
  .object({
    deadLetter: DeadLetter,
    workItemId: z.string().uuid(),
    workOrderId: z.string().uuid(),
    itemStatus: z.enum(["QUEUED", "AWAITING_APPROVAL"]).openapi({
      description: "AWAITING_APPROVAL when the gates, run again, ask for an approval this payload does not have",
    }),
    approvalRequestId: z.string().uuid().nullable().openapi({ description: "The approval request opened, if any" }),
  })
  .openapi("RedrivenDeadLetter");

const TemplateRow = createSelectSchema(workflowTemplates, { steps: z.array(TemplateStep) }).omit({ workspaceId: true });
export const templateColumns = selection(workflowTemplates, TemplateRow);
type TemplateRow = z.output<typeof TemplateRow>;

export const WorkflowTemplate = TemplateRow.omit({ retryBaseMs: true, retryCapMs: true })
  .extend({ retry: RetryPolicy.nullable() })
  .openapi("WorkflowTemplate");

export function presentTemplate(row: TemplateRow): z.output<typeof WorkflowTemplate> {
  const { retryBaseMs, retryCapMs, ...rest } = row;
  return {
    ...rest,
    retry: retryBaseMs !== null && retryCapMs !== null ? { baseMs: retryBaseMs, capMs: retryCapMs } : null,
  };
}
