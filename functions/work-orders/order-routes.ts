/** `/v1/work-orders`: create (idempotent, from items or a template), list, read, cancel. */
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, inTenant } from "../shared/app";
import { requireScope } from "../shared/auth";
import { errorResponses, IdParam, json, jsonBody } from "../shared/openapi";
import { pageSchema } from "../shared/pagination";
import { CreatedWorkOrder, WorkOrderSummary, WorkOrderWithItems } from "./schemas";
import {
  CancelWorkOrderInput,
  CreateWorkOrderInput,
  cancelWorkOrder,
  createWorkOrder,
  getWorkOrder,
  IdempotencyKey,
  ListWorkOrdersQuery,
  listWorkOrders,
  retryCreationRace,
} from "./work-orders";

const read = requireScope("work:read");
const write = requireScope("work:write");
const tags = ["Work orders"];

const IdempotencyHeader = z.object({
  "Idempotency-Key": IdempotencyKey.optional().openapi({
    description: "Makes creation safe to retry: the same key and body return the original order",
  }),
});

export const orderRoutes = createRouter()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/work-orders",
      tags: tags,
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
      const key = c.req.valid("header")["Idempotency-Key"];
      // The route owns the transaction: the writes go with its COMMIT (two round trips in all).
      const created = await retryCreationRace(() =>
        inTenant(c, (tx) =>
          createWorkOrder(tx, c.var.actor, c.req.valid("json"), { idempotencyKey: key, commit: true }),
        ),
      );
      const body = { ...created.order, items: created.items, approvalRequestIds: created.approvalRequestIds };
      return created.created ? c.json(body, 201) : c.json(body, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/work-orders",
      tags: tags,
      summary: "List work orders, newest first (filters: status, priority, template, created range)",
      middleware: [read] as const,
      request: { query: ListWorkOrdersQuery },
      responses: { 200: json(pageSchema(WorkOrderSummary), "A page of work orders"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => listWorkOrders(tx, c.var.actor, c.req.valid("query"))), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/work-orders/{id}",
      tags: tags,
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
      tags: tags,
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
  );
