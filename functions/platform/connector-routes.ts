/** `/v1/connectors`: external systems (webhooks out, signed events in) and their secrets. */
import { createRoute } from "@hono/zod-openapi";
import { createRouter, inTenant } from "../shared/app";
import { requireScope } from "../shared/auth";
import { errorResponses, IdParam, json, jsonBody } from "../shared/openapi";
import { pageSchema } from "../shared/pagination";
import {
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
import { Connector, ConnectorWithSecret } from "./schemas";

const tags = ["Catalog"];
const read = requireScope("platform:read");
const write = requireScope("platform:write");
const deleted = { 204: { description: "Deleted" }, ...errorResponses };

export const connectorRoutes = createRouter()
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
  );
