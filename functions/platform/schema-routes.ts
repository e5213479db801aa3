/** `/v1/schemas`: JSON Schemas that validate work-item payloads of a type, versioned. */
import { createRoute } from "@hono/zod-openapi";
import { createRouter, inTenant } from "../shared/app";
import { requireScope } from "../shared/auth";
import { errorResponses, IdParam, json, jsonBody } from "../shared/openapi";
import { pageSchema } from "../shared/pagination";
import {
  CreatePayloadSchemaInput,
  createPayloadSchema,
  deactivatePayloadSchema,
  getPayloadSchema,
  ListPayloadSchemasQuery,
  listPayloadSchemas,
} from "./payload-schemas";
import { PayloadSchema } from "./schemas";

const tags = ["Catalog"];
const read = requireScope("platform:read");
const write = requireScope("platform:write");

export const schemaRoutes = createRouter()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/schemas",
      tags,
      summary: "Create the next version of an item type's payload schema (older versions become inactive)",
      middleware: [write] as const,
      request: jsonBody(CreatePayloadSchemaInput),
      responses: { 201: json(PayloadSchema, "Created"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => createPayloadSchema(tx, c.var.actor, c.req.valid("json"))), 201),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/schemas",
      tags,
      summary: "Payload schemas, newest first (active ones unless includeInactive=true)",
      middleware: [read] as const,
      request: { query: ListPayloadSchemasQuery },
      responses: { 200: json(pageSchema(PayloadSchema), "Payload schemas"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => listPayloadSchemas(tx, c.var.actor, c.req.valid("query"))), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/schemas/{id}",
      tags,
      summary: "A payload schema version",
      middleware: [read] as const,
      request: { params: IdParam },
      responses: { 200: json(PayloadSchema, "Payload schema"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => getPayloadSchema(tx, c.var.actor, c.req.valid("param").id)), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/schemas/{id}/deactivate",
      tags,
      summary: "Stop validating payloads against this version",
      middleware: [write] as const,
      request: { params: IdParam },
      responses: { 200: json(PayloadSchema, "Deactivated"), ...errorResponses },
    }),
    async (c) =>
      c.json(await inTenant(c, (tx) => deactivatePayloadSchema(tx, c.var.actor, c.req.valid("param").id)), 200),
  );
