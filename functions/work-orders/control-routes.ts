/**
 * Queue controls: `/v1/queue-limits` (concurrency and rate limits), `/v1/paused-types`,
 * pausing an order's claiming, and `/v1/schedules`. Changing them is workspace administration (`platform:write`:
 * owners and admins); reading them needs `work:read`.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, inTenant } from "../shared/app";
import { requireScope } from "../shared/auth";
import { errorResponses, IdParam, json, jsonBody } from "../shared/openapi";
import { deleteQueueLimit, listQueueLimits, putQueueLimit, QueueLimit, QueueLimitInput } from "./controls/limits";
import {
  ItemTypeParam,
  listPausedTypes,
  PausedType,
  pauseItemType,
  resumeItemType,
  setOrderPaused,
} from "./controls/pauses";
import {
  CreateScheduleInput,
  createSchedule,
  deleteSchedule,
  getSchedule,
  listSchedules,
  Schedule,
  setSchedulePaused,
} from "./controls/schedules";

const read = requireScope("work:read");
const administer = requireScope("platform:write");
const tags = ["Queue controls"];
const deleted = { 204: { description: "Deleted" }, ...errorResponses };
const OrderPause = z.object({ id: z.string().uuid(), pausedAt: z.date().nullable() }).openapi("WorkOrderPause");

export const controlRoutes = createRouter()
  .openapi(
    createRoute({
      method: "put",
      path: "/v1/queue-limits",
      tags,
      summary: "Set the limit on a concurrency key, a key prefix (each key on its own) or an item type",
      middleware: [administer] as const,
      request: jsonBody(QueueLimitInput),
      responses: { 200: json(QueueLimit, "The limit in force"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => putQueueLimit(tx, c.var.actor, c.req.valid("json"))), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/queue-limits",
      tags,
      summary: "The workspace's concurrency and rate limits",
      middleware: [read] as const,
      responses: { 200: json(z.object({ items: z.array(QueueLimit) }), "The limits"), ...errorResponses },
    }),
    async (c) => c.json({ items: await inTenant(c, (tx) => listQueueLimits(tx, c.var.actor)) }, 200),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/queue-limits/{id}",
      tags,
      summary: "Remove a limit",
      middleware: [administer] as const,
      request: { params: IdParam },
      responses: deleted,
    }),
    async (c) => {
      await inTenant(c, (tx) => deleteQueueLimit(tx, c.var.actor, c.req.valid("param").id));
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/paused-types",
      tags,
      summary: "Item types whose claiming is paused",
      middleware: [read] as const,
      responses: { 200: json(z.object({ items: z.array(PausedType) }), "Paused item types"), ...errorResponses },
    }),
    async (c) => c.json({ items: await inTenant(c, (tx) => listPausedTypes(tx, c.var.actor)) }, 200),
  )
  .openapi(
    createRoute({
      method: "put",
      path: "/v1/paused-types/{type}",
      tags,
      summary: "Pause claiming items of a type (items already running finish)",
      middleware: [administer] as const,
      request: { params: ItemTypeParam },
      responses: { 200: json(PausedType, "Paused"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => pauseItemType(tx, c.var.actor, c.req.valid("param").type)), 200),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/paused-types/{type}",
      tags,
      summary: "Resume claiming items of a type",
      middleware: [administer] as const,
      request: { params: ItemTypeParam },
      responses: deleted,
    }),
    async (c) => {
      await inTenant(c, (tx) => resumeItemType(tx, c.var.actor, c.req.valid("param").type));
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/work-orders/{id}/pause",
      tags,
      summary: "Pause claiming the order's items (items already running finish)",
      middleware: [administer] as const,
      request: { params: IdParam },
      responses: { 200: json(OrderPause, "Paused"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => setOrderPaused(tx, c.var.actor, c.req.valid("param").id, true)), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/work-orders/{id}/resume",
      tags,
      summary: "Resume claiming the order's items",
      middleware: [administer] as const,
      request: { params: IdParam },
      responses: { 200: json(OrderPause, "Resumed"), ...errorResponses },
    }),
    async (c) =>
      c.json(await inTenant(c, (tx) => setOrderPaused(tx, c.var.actor, c.req.valid("param").id, false)), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/schedules",
      tags,
      summary: "Create a schedule: a cron expression (UTC) that creates an order from a template each period",
      middleware: [administer] as const,
      request: jsonBody(CreateScheduleInput),
      responses: { 201: json(Schedule, "Created"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => createSchedule(tx, c.var.actor, c.req.valid("json"))), 201),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/schedules",
      tags,
      summary: "The workspace's schedules",
      middleware: [read] as const,
      responses: { 200: json(z.object({ items: z.array(Schedule) }), "Schedules"), ...errorResponses },
    }),
    async (c) => c.json({ items: await inTenant(c, (tx) => listSchedules(tx, c.var.actor)) }, 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/schedules/{id}",
      tags,
      summary: "A schedule, with its next and last run",
      middleware: [read] as const,
      request: { params: IdParam },
      responses: { 200: json(Schedule, "The schedule"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => getSchedule(tx, c.var.actor, c.req.valid("param").id)), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/schedules/{id}/pause",
      tags,
      summary: "Pause a schedule (it does not fire while paused)",
      middleware: [administer] as const,
      request: { params: IdParam },
      responses: { 200: json(Schedule, "Paused"), ...errorResponses },
    }),
    async (c) =>
      c.json(await inTenant(c, (tx) => setSchedulePaused(tx, c.var.actor, c.req.valid("param").id, true)), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/schedules/{id}/resume",
      tags,
      summary: "Resume a schedule: its next run is the first after now (runs missed while paused are not made up)",
      middleware: [administer] as const,
      request: { params: IdParam },
      responses: { 200: json(Schedule, "Resumed"), ...errorResponses },
    }),
    async (c) =>
      c.json(await inTenant(c, (tx) => setSchedulePaused(tx, c.var.actor, c.req.valid("param").id, false)), 200),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/schedules/{id}",
      tags,
      summary: "Delete a schedule (the orders it created stay)",
      middleware: [administer] as const,
      request: { params: IdParam },
      responses: deleted,
    }),
    async (c) => {
      await inTenant(c, (tx) => deleteSchedule(tx, c.var.actor, c.req.valid("param").id));
      return c.body(null, 204);
    },
  );
