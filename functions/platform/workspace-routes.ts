/** `/v1/workspaces`: the caller's workspaces, and creating one. */
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, inTenant } from "../shared/app";
import { requireScope } from "../shared/auth";
import { errorResponses, json, jsonBody } from "../shared/openapi";
import { PageQuery, pageSchema } from "../shared/pagination";
import { Workspace } from "./schemas";
import { CreateWorkspaceInput, createWorkspace, listWorkspaces } from "./workspaces";

const tags = ["Platform"];
const admin = requireScope("admin");

export const workspaceRoutes = createRouter()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/workspaces",
      tags,
      summary: "The caller's workspace, and the person's other workspaces when the key's membership is verified",
      request: { query: PageQuery },
      responses: { 200: json(pageSchema(Workspace), "A page of workspaces, newest first"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => listWorkspaces(tx, c.var.actor, c.req.valid("query"))), 200),
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
  );
