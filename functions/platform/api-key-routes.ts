/** `/v1/api-keys`: keys of the workspace (their secrets only at creation). */
import { createRoute } from "@hono/zod-openapi";
import { createRouter, inTenant } from "../shared/app";
import { requireScope } from "../shared/auth";
import { errorResponses, IdParam, json, jsonBody } from "../shared/openapi";
import { PageQuery, pageSchema } from "../shared/pagination";
import { CreateApiKeyInput, createApiKey, listApiKeys, revokeApiKey } from "./api-keys";
import { ApiKey, CreatedApiKey } from "./schemas";

const tags = ["Platform"];
const admin = requireScope("admin");

export const apiKeyRoutes = createRouter()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/api-keys",
      tags,
      summary: "API keys of the workspace (never their secrets)",
      middleware: [admin] as const,
      request: { query: PageQuery },
      responses: { 200: json(pageSchema(ApiKey), "A page of API keys, newest first"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => listApiKeys(tx, c.var.actor, c.req.valid("query"))), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/api-keys",
      tags,
      summary: "Create a key for yourself or a service key; the secret is in this response only",
      middleware: [admin] as const,
      description:
        "A person's key acts as the person who creates it; nobody creates a key that acts as someone else. " +
        "Its scopes cannot exceed the creator's, and its person's current role caps them on every request.",
      request: jsonBody(CreateApiKeyInput),
      responses: { 201: json(CreatedApiKey, "Created"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => createApiKey(tx, c.var.actor, c.req.valid("json"))), 201),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/api-keys/{id}/revoke",
      tags,
      summary: "Revoke an API key (it stops working at once)",
      middleware: [admin] as const,
      description: "Revoking the workspace's last active key that can administer it is a 409.",
      request: { params: IdParam },
      responses: { 200: json(ApiKey, "Revoked"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => revokeApiKey(tx, c.var.actor, c.req.valid("param").id)), 200),
  );
