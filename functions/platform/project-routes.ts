/** `/v1/projects`: the workspace's projects (memories and work orders may belong to one). */
import { createRoute } from "@hono/zod-openapi";
import { createRouter, inTenant } from "../shared/app";
import { requireScope } from "../shared/auth";
import { errorResponses, IdParam, json, jsonBody } from "../shared/openapi";
import { pageSchema } from "../shared/pagination";
import { CreateProjectInput, createProject, getProject, ListProjectsQuery, listProjects } from "./projects";
import { Project } from "./schemas";

const tags = ["Projects"];
const read = requireScope("platform:read");
const write = requireScope("platform:write");

export const projectRoutes = createRouter()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/projects",
      tags,
      summary: "Create a project (its name is unique in the workspace)",
      middleware: [write] as const,
      request: jsonBody(CreateProjectInput),
      responses: { 201: json(Project, "Created"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => createProject(tx, c.var.actor, c.req.valid("json"))), 201),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/projects",
      tags,
      summary: "Projects, newest first",
      middleware: [read] as const,
      request: { query: ListProjectsQuery },
      responses: { 200: json(pageSchema(Project), "Projects"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => listProjects(tx, c.var.actor, c.req.valid("query"))), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/projects/{id}",
      tags,
      summary: "A project",
      middleware: [read] as const,
      request: { params: IdParam },
      responses: { 200: json(Project, "The project"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => getProject(tx, c.var.actor, c.req.valid("param").id)), 200),
  );
