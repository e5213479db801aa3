/** `/v1/workflow-templates`: create, list, read, and edit (a new version). */
import { createRoute } from "@hono/zod-openapi";
import { createRouter, inTenant } from "../shared/app";
import { requireScope } from "../shared/auth";
import { created, errorResponses, IdParam, json, jsonBody } from "../shared/openapi";
import { pageSchema } from "../shared/pagination";
import { WorkflowTemplate } from "./schemas";
import {
  CreateTemplateInput,
  createTemplate,
  getTemplate,
  ListTemplatesQuery,
  listTemplates,
  UpdateTemplateInput,
  updateTemplate,
} from "./templates";

const read = requireScope("work:read");
const write = requireScope("work:write");
const tags = ["Workflow templates"];
const templatePath = (id: string) => `/v1/workflow-templates/${id}`;

export const templateRoutes = createRouter()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/workflow-templates",
      tags: tags,
      summary: "Create a workflow template (version 1)",
      middleware: [write] as const,
      request: jsonBody(CreateTemplateInput),
      responses: { 201: created(WorkflowTemplate, "Created"), ...errorResponses },
    }),
    async (c) => {
      const template = await inTenant(c, (tx) => createTemplate(tx, c.var.actor, c.req.valid("json")));
      return c.json(template, 201, { Location: templatePath(template.id) });
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/workflow-templates",
      tags: tags,
      summary: "List workflow templates (active versions unless includeInactive)",
      middleware: [read] as const,
      request: { query: ListTemplatesQuery },
      responses: { 200: json(pageSchema(WorkflowTemplate), "A page of templates"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => listTemplates(tx, c.var.actor, c.req.valid("query"))), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/workflow-templates/{id}",
      tags: tags,
      summary: "A workflow template version",
      middleware: [read] as const,
      request: { params: IdParam },
      responses: { 200: json(WorkflowTemplate, "The template"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => getTemplate(tx, c.var.actor, c.req.valid("param").id)), 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/v1/workflow-templates/{id}",
      tags: tags,
      summary: "Edit a template: creates the next version and deactivates this one",
      middleware: [write] as const,
      request: { params: IdParam, ...jsonBody(UpdateTemplateInput) },
      responses: { 201: created(WorkflowTemplate, "The new version"), ...errorResponses },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const version = await inTenant(c, (tx) => updateTemplate(tx, c.var.actor, id, c.req.valid("json")));
      return c.json(version, 201, { Location: templatePath(version.id) });
    },
  );
