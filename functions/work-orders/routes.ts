import { createRoute, z } from "@hono/zod-openapi";
import { attemptStatus, deadLetterSource, deadLetterStatus, workItemStatus, workOrderStatus } from "../../db/schema";
import { createRouter, inTenant } from "../shared/app";
import { requireScope } from "../shared/auth";
import { errorResponses, IdParam, json, jsonBody, Timestamp } from "../shared/openapi";
import { pageSchema } from "../shared/pagination";
import {
  ClaimInput,
  CompleteInput,
  claimWorkItems,
  completeWorkItem,
  FailInput,
  failWorkItem,
  HeartbeatInput,
  heartbeatWorkItem,
} from "./claims";
import {
  DiscardInput,
  discardDeadLetter,
  getDeadLetter,
  ListDeadLettersQuery,
  listDeadLetters,
  RedriveInput,
  RetryPolicyInput,
  redriveDeadLetterAs,
  setDeadLetterRetry,
} from "./dead-letters";
import { getWorkItem, RecordEvalInput, recordEval } from "./items";
import {
  CreateTemplateInput,
  createTemplate,
  getTemplate,
  ListTemplatesQuery,
  listTemplates,
  RetryPolicy,
  UpdateTemplateInput,
  updateTemplate,
} from "./templates";
import {
  CancelWorkOrderInput,
  CreateWorkOrderInput,
  cancelWorkOrder,
  createWorkOrder,
  getWorkOrder,
  IdempotencyKey,
  ListWorkOrdersQuery,
  listWorkOrders,
  Priority,
} from "./work-orders";

const read = requireScope("work:read");
const write = requireScope("work:write");
const orderTags = ["Work orders"];
const itemTags = ["Work items"];
const deadLetterTags = ["Dead letters"];
const templateTags = ["Workflow templates"];

const Json = z.unknown().openapi({ description: "Any JSON value" });
const JsonObject = z.record(z.string(), z.unknown());

const WorkOrder = z
  .object({
    id: z.string().uuid(),
    title: z.string(),
    description: z.string().nullable(),
    status: z.enum(workOrderStatus.enumValues),
    priority: Priority,
    metadata: JsonObject,
    templateId: z.string().uuid().nullable(),
    requestedBy: z.string().uuid().nullable(),
    idempotencyKey: z.string().nullable(),
    retry: z.object({ baseMs: z.number().int(), capMs: z.number().int() }),
    completedAt: Timestamp.nullable(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi("WorkOrder");

const WorkItem = z
  .object({
    id: z.string().uuid(),
    workOrderId: z.string().uuid(),
    sequence: z.number().int(),
    type: z.string(),
    payload: JsonObject,
    status: z.enum(workItemStatus.enumValues),
    priority: Priority,
    maxAttempts: z.number().int(),
    attemptCount: z.number().int(),
    availableAt: Timestamp,
    leaseExpiresAt: Timestamp.nullable(),
    lockedBy: z.string().nullable(),
    currentAttemptId: z.string().uuid().nullable(),
    approval: JsonObject.nullable(),
    result: Json,
    lastError: z.string().nullable(),
    completedAt: Timestamp.nullable(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi("WorkItem");

const WorkOrderWithItems = WorkOrder.extend({
  itemCounts: z.record(z.string(), z.number().int()),
  items: z.array(WorkItem),
}).openapi("WorkOrderWithItems");

const CreatedWorkOrder = WorkOrder.extend({
  items: z.array(WorkItem),
  approvalRequestIds: z.array(z.string().uuid()),
}).openapi("CreatedWorkOrder");

const Attempt = z
  .object({
    id: z.string().uuid(),
    attemptNumber: z.number().int(),
    workerId: z.string(),
    status: z.enum(attemptStatus.enumValues),
    startedAt: Timestamp,
    heartbeatAt: Timestamp.nullable(),
    leaseExpiresAt: Timestamp,
    finishedAt: Timestamp.nullable(),
    error: z.string().nullable(),
    result: Json,
  })
  .openapi("Attempt");

const EvalResult = z
  .object({
    id: z.string().uuid(),
    workItemId: z.string().uuid(),
    evaluator: z.string(),
    score: z.number(),
    passed: z.boolean(),
    details: Json,
    createdAt: Timestamp,
  })
  .openapi("EvalResult");

const WorkItemDetail = WorkItem.extend({ attempts: z.array(Attempt), evals: z.array(EvalResult) }).openapi(
  "WorkItemDetail",
);

const ClaimedItem = z
  .object({
    id: z.string().uuid(),
    workOrderId: z.string().uuid(),
    type: z.string(),
    payload: JsonObject,
    priority: z.string(),
    attemptId: z.string().uuid(),
    attemptNumber: z.number().int(),
    maxAttempts: z.number().int(),
    fencingToken: z.string().openapi({ description: "Send back with heartbeat, complete and fail" }),
    leaseExpiresAt: Timestamp,
  })
  .openapi("ClaimedWorkItem");

const Completed = z
  .object({
    id: z.string().uuid(),
    workOrderId: z.string().uuid(),
    status: z.enum(["COMPLETED", "AWAITING_APPROVAL"]),
    attemptId: z.string().uuid(),
    completedAt: Timestamp.nullable(),
    approvalRequestIds: z.array(z.string().uuid()),
  })
  .openapi("CompletedWorkItem");

const Failed = z
  .object({
    id: z.string().uuid(),
    workOrderId: z.string().uuid(),
    status: z.enum(["QUEUED", "FAILED"]),
    attemptId: z.string().uuid(),
    attemptCount: z.number().int(),
    maxAttempts: z.number().int(),
    willRetry: z.boolean(),
    availableAt: Timestamp.nullable(),
    deadLetterId: z.string().uuid().nullable(),
  })
  .openapi("FailedWorkItem");

const Heartbeat = z
  .object({ id: z.string().uuid(), attemptId: z.string().uuid(), leaseExpiresAt: Timestamp })
  .openapi("Heartbeat");

const DeadLetter = z
  .object({
    id: z.string().uuid(),
    source: z.enum(deadLetterSource.enumValues),
    status: z.enum(deadLetterStatus.enumValues),
    workItemId: z.string().uuid().nullable(),
    rawEventId: z.string().uuid().nullable(),
    reason: z.string(),
    payload: Json,
    errors: z.array(JsonObject),
    autoRetry: z.boolean(),
    nextRetryAt: Timestamp.nullable(),
    redriveCount: z.number().int(),
    maxRedrives: z.number().int(),
    redrivenAt: Timestamp.nullable(),
    redrivenBy: z.string().nullable(),
    discardedAt: Timestamp.nullable(),
    discardedBy: z.string().nullable(),
    discardReason: z.string().nullable(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi("DeadLetter");

const Redriven = z
  .object({ deadLetter: DeadLetter, workItemId: z.string().uuid(), workOrderId: z.string().uuid() })
  .openapi("RedrivenDeadLetter");

const Template = z
  .object({
    id: z.string().uuid(),
    name: z.string(),
    description: z.string().nullable(),
    version: z.number().int(),
    steps: z.array(
      z.object({
        type: z.string(),
        payloadDefaults: JsonObject.optional(),
        maxAttempts: z.number().int().optional(),
        approval: z.unknown().optional().openapi({ description: "An ApprovalRequirement" }),
      }),
    ),
    retry: RetryPolicy.nullable(),
    isActive: z.boolean(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi("WorkflowTemplate");

const IdempotencyHeader = z.object({
  "idempotency-key": IdempotencyKey.optional().openapi({
    description: "Makes creation safe to retry: the same key and body return the original order",
  }),
});

export const workOrderRoutes = createRouter()
  // ---- work orders ----
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/work-orders",
      tags: orderTags,
      summary: "Create a work order with its items (or from a template) in one transaction",
      middleware: [write] as const,
      request: { headers: IdempotencyHeader, ...jsonBody(CreateWorkOrderInput) },
      responses: {
        201: json(CreatedWorkOrder, "Created"),
        200: json(CreatedWorkOrder, "The order an earlier request with the same Idempotency-Key created"),
        ...errorResponses,
      },
    }),
    async (c) => {
      const key = c.req.valid("header")["idempotency-key"];
      const created = await inTenant(c, (tx) =>
        createWorkOrder(tx, c.var.actor, c.req.valid("json"), { idempotencyKey: key }),
      );
      const body = { ...created.order, items: created.items, approvalRequestIds: created.approvalRequestIds };
      return created.created ? c.json(body, 201) : c.json(body, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/work-orders",
      tags: orderTags,
      summary: "List work orders, newest first (filters: status, priority, template, created range)",
      middleware: [read] as const,
      request: { query: ListWorkOrdersQuery },
      responses: { 200: json(pageSchema(WorkOrder), "A page of work orders"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => listWorkOrders(tx, c.var.actor, c.req.valid("query"))), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/work-orders/{id}",
      tags: orderTags,
      summary: "A work order with its items",
      middleware: [read] as const,
      request: { params: IdParam },
      responses: { 200: json(WorkOrderWithItems, "The work order"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => getWorkOrder(tx, c.var.actor, c.req.valid("param").id)), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/work-orders/{id}/cancel",
      tags: orderTags,
      summary: "Cancel an unfinished order: queued, gated and running items are cancelled",
      middleware: [write] as const,
      request: {
        params: IdParam,
        body: { content: { "application/json": { schema: CancelWorkOrderInput } }, required: false },
      },
      responses: { 200: json(WorkOrderWithItems, "Cancelled"), ...errorResponses },
    }),
    async (c) => {
      const body = c.req.valid("json") ?? {};
      return c.json(await inTenant(c, (tx) => cancelWorkOrder(tx, c.var.actor, c.req.valid("param").id, body)), 200);
    },
  )
  // ---- work items ----
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/work-items/claim",
      tags: itemTags,
      summary: "Claim up to `limit` items (priority, then age) with a lease, an attempt and a fencing token",
      middleware: [write] as const,
      request: jsonBody(ClaimInput),
      responses: {
        200: json(z.object({ items: z.array(ClaimedItem) }), "Claimed items (possibly none)"),
        ...errorResponses,
      },
    }),
    async (c) =>
      c.json({ items: await inTenant(c, (tx) => claimWorkItems(tx, c.var.actor, c.req.valid("json"))) }, 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/work-items/{id}",
      tags: itemTags,
      summary: "A work item with its attempt history and evals",
      middleware: [read] as const,
      request: { params: IdParam },
      responses: { 200: json(WorkItemDetail, "The work item"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => getWorkItem(tx, c.var.actor, c.req.valid("param").id)), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/work-items/{id}/heartbeat",
      tags: itemTags,
      summary: "Extend the lease of the running attempt (409 if the attempt is stale)",
      middleware: [write] as const,
      request: { params: IdParam, ...jsonBody(HeartbeatInput) },
      responses: { 200: json(Heartbeat, "Lease extended"), ...errorResponses },
    }),
    async (c) =>
      c.json(
        await inTenant(c, (tx) => heartbeatWorkItem(tx, c.var.actor, c.req.valid("param").id, c.req.valid("json"))),
        200,
      ),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/work-items/{id}/complete",
      tags: itemTags,
      summary: "Complete the running attempt with a result (409 if the attempt is stale)",
      middleware: [write] as const,
      request: { params: IdParam, ...jsonBody(CompleteInput) },
      responses: { 200: json(Completed, "Completed (or awaiting review)"), ...errorResponses },
    }),
    async (c) => {
      const done = await inTenant(c, (tx) =>
        completeWorkItem(tx, c.var.actor, c.req.valid("param").id, c.req.valid("json")),
      );
      return c.json(done, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/work-items/{id}/fail",
      tags: itemTags,
      summary: "Fail the running attempt: retried with backoff, or dead-lettered (409 if the attempt is stale)",
      middleware: [write] as const,
      request: { params: IdParam, ...jsonBody(FailInput) },
      responses: { 200: json(Failed, "Failed"), ...errorResponses },
    }),
    async (c) =>
      c.json(
        await inTenant(c, (tx) => failWorkItem(tx, c.var.actor, c.req.valid("param").id, c.req.valid("json"))),
        200,
      ),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/work-items/{id}/evals",
      tags: itemTags,
      summary: "Record an eval result for the item",
      middleware: [write] as const,
      request: { params: IdParam, ...jsonBody(RecordEvalInput) },
      responses: { 201: json(EvalResult, "Recorded"), ...errorResponses },
    }),
    async (c) =>
      c.json(await inTenant(c, (tx) => recordEval(tx, c.var.actor, c.req.valid("param").id, c.req.valid("json"))), 201),
  )
  // ---- dead letters ----
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/dead-letters",
      tags: deadLetterTags,
      summary: "List dead letters of every source, newest first",
      middleware: [read] as const,
      request: { query: ListDeadLettersQuery },
      responses: { 200: json(pageSchema(DeadLetter), "A page of dead letters"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => listDeadLetters(tx, c.var.actor, c.req.valid("query"))), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/dead-letters/{id}",
      tags: deadLetterTags,
      summary: "A dead letter with every attempt's error",
      middleware: [read] as const,
      request: { params: IdParam },
      responses: { 200: json(DeadLetter, "The dead letter"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => getDeadLetter(tx, c.var.actor, c.req.valid("param").id)), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/dead-letters/{id}/redrive",
      tags: deadLetterTags,
      summary: "Requeue the dead-lettered item with a fresh attempt budget (optionally an edited payload)",
      middleware: [write] as const,
      request: {
        params: IdParam,
        body: { content: { "application/json": { schema: RedriveInput } }, required: false },
      },
      responses: { 200: json(Redriven, "Redriven"), ...errorResponses },
    }),
    async (c) => {
      const body = c.req.valid("json") ?? {};
      return c.json(
        await inTenant(c, (tx) => redriveDeadLetterAs(tx, c.var.actor, c.req.valid("param").id, body)),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/v1/dead-letters/{id}",
      tags: deadLetterTags,
      summary: "Mark an open dead letter for automatic retry by the reprocessing job (or stop it)",
      middleware: [write] as const,
      request: { params: IdParam, ...jsonBody(RetryPolicyInput) },
      responses: { 200: json(DeadLetter, "Updated"), ...errorResponses },
    }),
    async (c) =>
      c.json(
        await inTenant(c, (tx) => setDeadLetterRetry(tx, c.var.actor, c.req.valid("param").id, c.req.valid("json"))),
        200,
      ),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/dead-letters/{id}/discard",
      tags: deadLetterTags,
      summary: "Mark the dead letter discarded, with who and why (it is kept)",
      middleware: [write] as const,
      request: { params: IdParam, ...jsonBody(DiscardInput) },
      responses: { 200: json(DeadLetter, "Discarded"), ...errorResponses },
    }),
    async (c) =>
      c.json(
        await inTenant(c, (tx) => discardDeadLetter(tx, c.var.actor, c.req.valid("param").id, c.req.valid("json"))),
        200,
      ),
  )
  // ---- workflow templates ----
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/workflow-templates",
      tags: templateTags,
      summary: "Create a workflow template (version 1)",
      middleware: [write] as const,
      request: jsonBody(CreateTemplateInput),
      responses: { 201: json(Template, "Created"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => createTemplate(tx, c.var.actor, c.req.valid("json"))), 201),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/workflow-templates",
      tags: templateTags,
      summary: "List workflow templates (active versions unless includeInactive)",
      middleware: [read] as const,
      request: { query: ListTemplatesQuery },
      responses: { 200: json(pageSchema(Template), "A page of templates"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => listTemplates(tx, c.var.actor, c.req.valid("query"))), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/workflow-templates/{id}",
      tags: templateTags,
      summary: "A workflow template version",
      middleware: [read] as const,
      request: { params: IdParam },
      responses: { 200: json(Template, "The template"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => getTemplate(tx, c.var.actor, c.req.valid("param").id)), 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/v1/workflow-templates/{id}",
      tags: templateTags,
      summary: "Edit a template: creates the next version and deactivates this one",
      middleware: [write] as const,
      request: { params: IdParam, ...jsonBody(UpdateTemplateInput) },
      responses: { 201: json(Template, "The new version"), ...errorResponses },
    }),
    async (c) =>
      c.json(
        await inTenant(c, (tx) => updateTemplate(tx, c.var.actor, c.req.valid("param").id, c.req.valid("json"))),
        201,
      ),
  );
