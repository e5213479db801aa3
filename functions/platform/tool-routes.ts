/** `/v1/tools`: tools agents may call, with the capabilities they provide. */
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, inTenant } from "../shared/app";
import { requireScope } from "../shared/auth";
import { errorResponses, IdParam, json, jsonBody } from "../shared/openapi";
import { pageSchema } from "../shared/pagination";
import { Tool } from "./schemas";
import {
  CreateToolInput,
  createTool,
  deleteTool,
  getTool,
  ListToolsQuery,
  linkCapability,
  listTools,
  UpdateToolInput,
  unlinkCapability,
  updateTool,
} from "./tools";

const ToolCapabilityParams = IdParam.extend({
  capabilityId: z
    .string()
    .uuid()
    .openapi({ param: { name: "capabilityId", in: "path" } }),
});

const tags = ["Catalog"];
const read = requireScope("platform:read");
const write = requireScope("platform:write");
const deleted = { 204: { description: "Deleted" }, ...errorResponses };

export const toolRoutes = createRouter()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/tools",
      tags,
      summary: "Register a tool (its input schema must be a valid JSON Schema)",
      middleware: [write] as const,
      request: jsonBody(CreateToolInput),
      responses: { 201: json(Tool, "Created"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => createTool(tx, c.var.actor, c.req.valid("json"))), 201),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/tools",
      tags,
      summary: "Tools with their capabilities, newest first",
      middleware: [read] as const,
      request: { query: ListToolsQuery },
      responses: { 200: json(pageSchema(Tool), "Tools"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => listTools(tx, c.var.actor, c.req.valid("query"))), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/tools/{id}",
      tags,
      summary: "A tool with its capabilities",
      middleware: [read] as const,
      request: { params: IdParam },
      responses: { 200: json(Tool, "Tool"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => getTool(tx, c.var.actor, c.req.valid("param").id)), 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/v1/tools/{id}",
      tags,
      summary: "Change a tool",
      middleware: [write] as const,
      request: { params: IdParam, ...jsonBody(UpdateToolInput) },
      responses: { 200: json(Tool, "Updated"), ...errorResponses },
    }),
    async (c) =>
      c.json(await inTenant(c, (tx) => updateTool(tx, c.var.actor, c.req.valid("param").id, c.req.valid("json"))), 200),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/tools/{id}",
      tags,
      summary: "Delete a tool and its capability links",
      middleware: [write] as const,
      request: { params: IdParam },
      responses: deleted,
    }),
    async (c) => {
      await inTenant(c, (tx) => deleteTool(tx, c.var.actor, c.req.valid("param").id));
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "put",
      path: "/v1/tools/{id}/capabilities/{capabilityId}",
      tags,
      summary: "Link a capability to a tool (idempotent)",
      middleware: [write] as const,
      request: { params: ToolCapabilityParams },
      responses: { 200: json(Tool, "Linked"), ...errorResponses },
    }),
    async (c) => {
      const { id, capabilityId } = c.req.valid("param");
      return c.json(await inTenant(c, (tx) => linkCapability(tx, c.var.actor, id, capabilityId)), 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/tools/{id}/capabilities/{capabilityId}",
      tags,
      summary: "Unlink a capability from a tool",
      middleware: [write] as const,
      request: { params: ToolCapabilityParams },
      responses: deleted,
    }),
    async (c) => {
      const { id, capabilityId } = c.req.valid("param");
      await inTenant(c, (tx) => unlinkCapability(tx, c.var.actor, id, capabilityId));
      return c.body(null, 204);
    },
  );
