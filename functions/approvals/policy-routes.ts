/** `/v1/approval-policies`: versioned workspace policies (addressed by their key). */
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, inTenant } from "../shared/app";
import { requireScope } from "../shared/auth";
import { errorResponses, json, jsonBody } from "../shared/openapi";
import { PageQuery, pageSchema } from "../shared/pagination";
import {
  CreatePolicyInput,
  createPolicy,
  getPolicy,
  listPolicies,
  listPolicyVersions,
  PolicyListQuery,
  UpdatePolicyInput,
  updatePolicy,
} from "./policies";
import { ApprovalPolicy } from "./schemas";

const tags = ["Approval policies"];
const PolicyKeyParam = z.object({
  key: z
    .string()
    .uuid()
    .openapi({ param: { name: "key", in: "path" } }),
});

export const policyRoutes = createRouter()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/approval-policies",
      tags,
      summary: "The current version of every approval policy, in matching order",
      middleware: [requireScope("approvals:read")] as const,
      request: { query: PolicyListQuery },
      responses: { 200: json(pageSchema(ApprovalPolicy), "A page of policies, in matching order"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => listPolicies(tx, c.var.actor, c.req.valid("query"))), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/approval-policies",
      tags,
      summary: "Create an approval policy (version 1)",
      description:
        "Operators: equals, not_equals, greater_than, less_than, contains, regex. A regex that does not compile is a 422.",
      middleware: [requireScope("approvals:write")] as const,
      request: jsonBody(CreatePolicyInput),
      responses: { 201: json(ApprovalPolicy, "Created"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => createPolicy(tx, c.var.actor, c.req.valid("json"))), 201),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/approval-policies/{key}",
      tags,
      summary: "The current version of a policy",
      middleware: [requireScope("approvals:read")] as const,
      request: { params: PolicyKeyParam },
      responses: { 200: json(ApprovalPolicy, "Policy"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => getPolicy(tx, c.var.actor, c.req.valid("param").key)), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/approval-policies/{key}/versions",
      tags,
      summary: "Every version of a policy, newest first",
      middleware: [requireScope("approvals:read")] as const,
      request: { params: PolicyKeyParam, query: PageQuery },
      responses: { 200: json(pageSchema(ApprovalPolicy), "A page of versions, newest first"), ...errorResponses },
    }),
    async (c) =>
      c.json(
        await inTenant(c, (tx) => listPolicyVersions(tx, c.var.actor, c.req.valid("param").key, c.req.valid("query"))),
        200,
      ),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/v1/approval-policies/{key}",
      tags,
      summary: "Edit a policy: creates the next version (requests keep the version they were made under)",
      middleware: [requireScope("approvals:write")] as const,
      request: { params: PolicyKeyParam, ...jsonBody(UpdatePolicyInput) },
      responses: { 200: json(ApprovalPolicy, "New version"), ...errorResponses },
    }),
    async (c) =>
      c.json(
        await inTenant(c, (tx) => updatePolicy(tx, c.var.actor, c.req.valid("param").key, c.req.valid("json"))),
        200,
      ),
  );
