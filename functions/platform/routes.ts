import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, inTenant } from "../shared/app";
import { requireScope } from "../shared/auth";
import { errorResponses, IdParam, json, jsonBody, Timestamp } from "../shared/openapi";
import { CreateApiKeyInput, createApiKey, listApiKeys, revokeApiKey } from "./api-keys";
import { catalogRoutes } from "./catalog-routes";
import {
  AddMemberInput,
  addMember,
  listMembers,
  MemberRole,
  removeMember,
  UpdateMemberInput,
  updateMember,
} from "./members";
import { CreateWorkspaceInput, createWorkspace, listWorkspaces } from "./workspaces";

const tags = ["Platform"];
const admin = requireScope("admin");

const Workspace = z
  .object({ id: z.string().uuid(), name: z.string(), role: MemberRole.nullable().optional(), createdAt: Timestamp })
  .openapi("Workspace");
const Member = z
  .object({
    userId: z.string().uuid(),
    email: z.string(),
    name: z.string().nullable(),
    role: MemberRole,
    createdAt: Timestamp,
  })
  .openapi("Member");
const ApiKey = z
  .object({
    id: z.string().uuid(),
    name: z.string(),
    prefix: z.string(),
    scopes: z.array(z.string()),
    userId: z.string().uuid(),
    createdBy: z.string().uuid().nullable(),
    lastUsedAt: Timestamp.nullable(),
    expiresAt: Timestamp.nullable(),
    revokedAt: Timestamp.nullable(),
    createdAt: Timestamp,
  })
  .openapi("ApiKey");
const CreatedApiKey = ApiKey.extend({
  key: z.string().openapi({ description: "The secret, shown only in this response" }),
}).openapi("CreatedApiKey");
const UserParam = z.object({
  userId: z
    .string()
    .uuid()
    .openapi({ param: { name: "userId", in: "path" } }),
});

export const platformRoutes = createRouter()
  .route("/", catalogRoutes)
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/workspaces",
      tags,
      summary: "Workspaces the caller's user belongs to",
      responses: { 200: json(z.object({ items: z.array(Workspace) }), "Workspaces"), ...errorResponses },
    }),
    async (c) => c.json({ items: await inTenant(c, (tx) => listWorkspaces(tx)) }, 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/workspaces",
      tags,
      summary: "Create a workspace owned by the caller, with its own admin key (shown once)",
      middleware: [admin] as const,
      request: jsonBody(CreateWorkspaceInput),
      responses: {
        201: json(
          z.object({ workspace: Workspace, apiKey: z.object({ id: z.string(), key: z.string(), prefix: z.string() }) }),
          "Created",
        ),
        ...errorResponses,
      },
    }),
    async (c) => {
      const created = await inTenant(c, (tx) => createWorkspace(tx, c.var.actor, c.req.valid("json")));
      return c.json({ workspace: { ...created.workspace, role: "OWNER" as const }, apiKey: created.apiKey }, 201);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/members",
      tags,
      summary: "Members of the workspace and their roles",
      middleware: [requireScope("platform:read")] as const,
      responses: { 200: json(z.object({ items: z.array(Member) }), "Members"), ...errorResponses },
    }),
    async (c) => c.json({ items: await inTenant(c, (tx) => listMembers(tx, c.var.actor)) }, 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/members",
      tags,
      summary: "Add a member by email (the user is created if new)",
      middleware: [admin] as const,
      request: jsonBody(AddMemberInput),
      responses: { 201: json(Member, "Added"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => addMember(tx, c.var.actor, c.req.valid("json"))), 201),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/v1/members/{userId}",
      tags,
      summary: "Change a member's role",
      middleware: [admin] as const,
      request: { params: UserParam, ...jsonBody(UpdateMemberInput) },
      responses: { 200: json(Member, "Updated"), ...errorResponses },
    }),
    async (c) =>
      c.json(
        await inTenant(c, (tx) => updateMember(tx, c.var.actor, c.req.valid("param").userId, c.req.valid("json"))),
        200,
      ),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/members/{userId}",
      tags,
      summary: "Remove a member",
      middleware: [admin] as const,
      request: { params: UserParam },
      responses: { 204: { description: "Removed" }, ...errorResponses },
    }),
    async (c) => {
      await inTenant(c, (tx) => removeMember(tx, c.var.actor, c.req.valid("param").userId));
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/api-keys",
      tags,
      summary: "API keys of the workspace (never their secrets)",
      middleware: [admin] as const,
      responses: { 200: json(z.object({ items: z.array(ApiKey) }), "API keys"), ...errorResponses },
    }),
    async (c) => c.json({ items: await inTenant(c, (tx) => listApiKeys(tx, c.var.actor)) }, 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/api-keys",
      tags,
      summary: "Create an API key; the secret is in this response only",
      middleware: [admin] as const,
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
      request: { params: IdParam },
      responses: { 200: json(ApiKey, "Revoked"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => revokeApiKey(tx, c.var.actor, c.req.valid("param").id)), 200),
  );
