/**
 * Work orders as tools: create and read orders, and the worker protocol (claim, then complete
 * or fail fenced by the claim's attempt id and fencing token), and the dead letters.
 */
import { z } from "@hono/zod-openapi";
import { IdParam } from "../shared/openapi";
import {
  ClaimInput,
  CompleteInput,
  claimWorkItems,
  completeWorkItem,
  FailInput,
  failWorkItem,
} from "../work-orders/claims";
import { ListDeadLettersQuery, listDeadLetters } from "../work-orders/dead-letters";
import { CreateWorkOrderInput, createWorkOrder, getWorkOrder, IdempotencyKey } from "../work-orders/work-orders";
import { defineTool } from "./tool";

const WorkItemId = IdParam.shape.id.describe("The work item's id (from claim_work_item)");
const Idempotency = IdempotencyKey.optional().describe(
  "Makes the call safe to retry: the same key with the same arguments returns the original result instead of creating again",
);

export const createWorkOrderTool = defineTool({
  name: "create_work_order",
  title: "Create a work order",
  description:
    "Create a durable work order: a title and one or more items, each a typed unit of work with a JSON payload " +
    "(or a templateId that expands into items). Workers (people, services or agents) claim the items and complete " +
    "or fail them; failures retry with backoff and end as dead letters. Items may need human approval first, by " +
    "their own `approval` or by the workspace's approval policies (they then wait in AWAITING_APPROVAL). To ask " +
    "permission for one action of your own, use request_approval instead. Returns the order, its items and the ids " +
    "of any approval requests opened.",
  scope: "work:write",
  input: CreateWorkOrderInput.extend({ idempotencyKey: Idempotency }),
  annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
  run: async (ctx, { idempotencyKey, ...input }) => {
    const created = await ctx.tenant((tx) => createWorkOrder(tx, ctx.actor, input, { idempotencyKey }));
    return {
      ...created.order,
      items: created.items,
      approvalRequestIds: created.approvalRequestIds,
      created: created.created,
    };
  },
});

export const getWorkOrderTool = defineTool({
  name: "get_work_order",
  title: "Get a work order",
  description:
    "Read a work order with all its items: status (PENDING, PROCESSING, COMPLETED, FAILED, CANCELLED), each item's " +
    "status, payload, attempts so far, result or last error, and a count of items per status. Use it to follow " +
    "work you created or requested.",
  scope: "work:read",
  input: z.strictObject({ id: IdParam.shape.id.describe("The work order's id") }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  run: (ctx, input) => ctx.tenant((tx) => getWorkOrder(tx, ctx.actor, input.id)),
});

const claim = ClaimInput.shape;
export const claimWorkItemTool = defineTool({
  name: "claim_work_item",
  title: "Claim work items",
  description:
    "For an agent acting as a worker: take the next queued work items (highest priority, then oldest), optionally " +
    "only of some types, with a lease. Each claimed item comes with its payload, an attemptId and a fencingToken: " +
    "keep both and pass them to complete_work_item or fail_work_item. Finish before the lease ends (leaseSeconds, " +
    "default 300), or the item is requeued for someone else and your calls are refused. Returns the claimed items, " +
    "possibly none.",
  scope: "work:write",
  input: z.strictObject({
    workerId: claim.workerId.describe("A stable name for you as a worker, e.g. 'research-agent-1'"),
    types: claim.types.describe("Only items of these types (all types when omitted)"),
    limit: claim.limit.describe("How many items at most, 1..100 (default 1)"),
    leaseSeconds: claim.leaseSeconds.describe("How long the items are yours, 1..3600 s (default 300)"),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
  run: async (ctx, input) => ({ items: await ctx.tenant((tx) => claimWorkItems(tx, ctx.actor, input)) }),
});

const fence = CompleteInput.shape;
const Fence = {
  workItemId: WorkItemId,
  attemptId: fence.attemptId.describe("The attemptId your claim returned"),
  fencingToken: fence.fencingToken.describe("The fencingToken your claim returned (a string of digits)"),
};

export const completeWorkItemTool = defineTool({
  name: "complete_work_item",
  title: "Complete a claimed work item",
  description:
    "Finish a work item you claimed, with its result (any JSON). Fenced: it succeeds only while your claim still " +
    "holds (same attemptId and fencingToken); if the lease ran out and the item was requeued, reclaimed or " +
    "cancelled, it is a conflict error and changes nothing. Returns the item's new status: COMPLETED, or " +
    "AWAITING_APPROVAL when the result must be reviewed by a person first.",
  scope: "work:write",
  input: z.strictObject({
    ...Fence,
    result: fence.result.describe("The outcome, any JSON value"),
    usedMemoryIds: fence.usedMemoryIds.describe(
      "Ids of the memories you used to do it (from search_memories), recorded in the work-to-memory ledger",
    ),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
  run: (ctx, { workItemId, ...input }) => ctx.tenant((tx) => completeWorkItem(tx, ctx.actor, workItemId, input)),
});

const fail = FailInput.shape;
export const failWorkItemTool = defineTool({
  name: "fail_work_item",
  title: "Fail a claimed work item",
  description:
    "Report that a work item you claimed could not be done, with the error. Fenced like complete_work_item. A " +
    "retryable failure (default) with attempts left is requeued after a backoff; otherwise the item FAILS and a " +
    "dead letter keeps it for a person to inspect, redrive or discard. Set retryable false when trying again " +
    "cannot help (bad input, forbidden). Returns the status (QUEUED or FAILED), willRetry and any deadLetterId.",
  scope: "work:write",
  input: z.strictObject({
    ...Fence,
    error: fail.error.describe("What went wrong, for the person who reads the dead letter"),
    retryable: fail.retryable.describe("Whether another attempt could succeed (default true)"),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
  run: (ctx, { workItemId, ...input }) => ctx.tenant((tx) => failWorkItem(tx, ctx.actor, workItemId, input)),
});

// The API's listing query without its query-string-only filters (dates, autoRetry).
const deadLetters = ListDeadLettersQuery.shape;
export const listDeadLettersTool = defineTool({
  name: "list_dead_letters",
  title: "List dead letters",
  description:
    "List dead letters, newest first: work items that failed for good (and events or deliveries that could not be " +
    "processed), each with the reason, the payload and every attempt's error. Use it to see what needs a person, or " +
    "why work you requested did not finish. Returns a page of items and a nextCursor for the next page.",
  scope: "work:read",
  input: z.strictObject({
    status: deadLetters.status.describe("OPEN, REDRIVEN or DISCARDED (all when omitted)"),
    source: deadLetters.source.describe("Only dead letters of this source"),
    workItemId: deadLetters.workItemId.describe("Only the dead letters of this work item"),
    limit: deadLetters.limit.describe("Page size, 1..200 (default 50)"),
    cursor: deadLetters.cursor.describe("The nextCursor of the previous page"),
  }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  run: (ctx, input) => ctx.tenant((tx) => listDeadLetters(tx, ctx.actor, input)),
});

export const workTools = [
  createWorkOrderTool,
  getWorkOrderTool,
  claimWorkItemTool,
  completeWorkItemTool,
  failWorkItemTool,
  listDeadLettersTool,
];
