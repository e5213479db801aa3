import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, inTenant } from "../shared/app";
import { requireScope } from "../shared/auth";
import { errorResponses, IdParam, json, jsonBody, Timestamp } from "../shared/openapi";
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
import {
  ConnectorStatus,
  ConnectorType,
  CreateConnectorInput,
  createConnector,
  deleteConnector,
  getConnector,
  ListConnectorsQuery,
  listConnectors,
  rotateConnectorSecret,
  UpdateConnectorInput,
  updateConnector,
} from "./connectors";
import {
  CreatePayloadSchemaInput,
  createPayloadSchema,
  deactivatePayloadSchema,
  getPayloadSchema,
  JsonSchemaObject,
  ListPayloadSchemasQuery,
  listPayloadSchemas,
} from "./payload-schemas";
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

/** Connectors, tools, capabilities and payload schemas: the workspace's catalog. */
const tags = ["Catalog"];
const read = requireScope("platform:read");
const write = requireScope("platform:write");

const Connector = z
  .object({
    id: z.string().uuid(),
    name: z.string(),
    type: ConnectorType,
    status: ConnectorStatus,
    config: z.record(z.string(), z.unknown()),
    webhookUrl: z.string().nullable(),
    lastHealthCheckAt: Timestamp.nullable(),
    lastError: z.string().nullable(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi("Connector");
const ConnectorWithSecret = Connector.extend({
  signingSecret: z.string().openapi({ description: "HMAC-SHA256 signing secret, shown only in this response" }),
}).openapi("ConnectorWithSecret");
const Capability = z
  .object({
    id: z.string().uuid(),
    name: z.string(),
    description: z.string().nullable(),
    scope: z.string().nullable(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi("Capability");
const Tool = z
  .object({
    id: z.string().uuid(),
    name: z.string(),
    description: z.string().nullable(),
    connectorId: z.string().uuid().nullable(),
    inputSchema: JsonSchemaObject,
    outputSchema: JsonSchemaObject.nullable(),
    enabled: z.boolean(),
    capabilities: z.array(Capability),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi("Tool");
const PayloadSchema = z
  .object({
    id: z.string().uuid(),
    itemType: z.string(),
    version: z.number().int(),
    description: z.string().nullable(),
    jsonSchema: JsonSchemaObject,
    isActive: z.boolean(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi("PayloadSchema");
const ToolCapabilityParams = IdParam.extend({
  capabilityId: z
    .string()
    .uuid()
    .openapi({ param: { name: "capabilityId", in: "path" } }),
});
const deleted = { 204: { description: "Deleted" }, ...errorResponses };

export const catalogRoutes = createRouter()
  // ---- connectors ----
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/connectors",
      tags,
      summary: "Register a connector; its signing secret is in this response only",
      middleware: [write] as const,
      request: jsonBody(CreateConnectorInput),
      responses: { 201: json(ConnectorWithSecret, "Created"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => createConnector(tx, c.var.actor, c.req.valid("json"))), 201),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/connectors",
      tags,
      summary: "Connectors, newest first (never their secrets)",
      middleware: [read] as const,
      request: { query: ListConnectorsQuery },
      responses: { 200: json(pageSchema(Connector), "Connectors"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => listConnectors(tx, c.var.actor, c.req.valid("query"))), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/connectors/{id}",
      tags,
      summary: "A connector (never its secret)",
      middleware: [read] as const,
      request: { params: IdParam },
      responses: { 200: json(Connector, "Connector"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => getConnector(tx, c.var.actor, c.req.valid("param").id)), 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/v1/connectors/{id}",
      tags,
      summary: "Change a connector's name, config, webhook URL or status",
      middleware: [write] as const,
      request: { params: IdParam, ...jsonBody(UpdateConnectorInput) },
      responses: { 200: json(Connector, "Updated"), ...errorResponses },
    }),
    async (c) =>
      c.json(
        await inTenant(c, (tx) => updateConnector(tx, c.var.actor, c.req.valid("param").id, c.req.valid("json"))),
        200,
      ),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/connectors/{id}",
      tags,
      summary: "Delete a connector (its tools stay, without a connector)",
      middleware: [write] as const,
      request: { params: IdParam },
      responses: deleted,
    }),
    async (c) => {
      await inTenant(c, (tx) => deleteConnector(tx, c.var.actor, c.req.valid("param").id));
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/connectors/{id}/rotate-secret",
      tags,
      summary: "Replace the signing secret; the new one is in this response only",
      middleware: [write] as const,
      request: { params: IdParam },
      responses: { 200: json(ConnectorWithSecret, "Rotated"), ...errorResponses },
    }),
    async (c) =>
      c.json(await inTenant(c, (tx) => rotateConnectorSecret(tx, c.var.actor, c.req.valid("param").id)), 200),
  )
  // ---- tools ----
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
  )
  // ---- capabilities ----
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
  )
  // ---- payload schemas ----
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
