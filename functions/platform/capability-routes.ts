/** `/v1/capabilities`: named abilities tools provide. */
import { createRoute } from "@hono/zod-openapi";
import { createRouter, inTenant } from "../shared/app";
import { requireScope } from "../shared/auth";
import { errorResponses, IdParam, json, jsonBody } from "../shared/openapi";
import { PageQuery, pageSchema } from "../shared/pagination";
import {
  CreateCapabilityInput,
  createCapability,
  deleteCapability,
  getCapability,
  listCapabilities,
  UpdateCapabilityInput,
  updateCapability,
} from "./capabilities";
import { Capability } from "./schemas";

const tags = ["Catalog"];
const read = requireScope("platform:read");
const write = requireScope("platform:write");
const deleted = { 204: { description: "Deleted" }, ...errorResponses };

export const capabilityRoutes = createRouter()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/capabilities",
      tags,
      summary: "Define a capability",
      middleware: [write] as const,
      request: jsonBody(CreateCapabilityInput),
      responses: { 201: json(Capability, "Created"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => createCapability(tx, c.var.actor, c.req.valid("json"))), 201),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/capabilities",
      tags,
      summary: "Capabilities, newest first",
      middleware: [read] as const,
      request: { query: PageQuery },
      responses: { 200: json(pageSchema(Capability), "Capabilities"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => listCapabilities(tx, c.var.actor, c.req.valid("query"))), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/capabilities/{id}",
      tags,
      summary: "A capability",
      middleware: [read] as const,
      request: { params: IdParam },
      responses: { 200: json(Capability, "Capability"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => getCapability(tx, c.var.actor, c.req.valid("param").id)), 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/v1/capabilities/{id}",
      tags,
      summary: "Change a capability",
      middleware: [write] as const,
      request: { params: IdParam, ...jsonBody(UpdateCapabilityInput) },
      responses: { 200: json(Capability, "Updated"), ...errorResponses },
    }),
    async (c) =>
      c.json(
        await inTenant(c, (tx) => updateCapability(tx, c.var.actor, c.req.valid("param").id, c.req.valid("json"))),
        200,
      ),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/capabilities/{id}",
      tags,
      summary: "Delete a capability (and unlink it from every tool)",
      middleware: [write] as const,
      request: { params: IdParam },
      responses: deleted,
    }),
    async (c) => {
      await inTenant(c, (tx) => deleteCapability(tx, c.var.actor, c.req.valid("param").id));
      return c.body(null, 204);
    },
  );
