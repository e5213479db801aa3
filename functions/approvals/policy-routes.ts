/**
 * `/v1/approval-policies`: versioned workspace policies, addressed by a version's `id` (that
 * version) or by the policy's `policyKey` (its current version). Creating one and editing one
 * (a new version) answer 201 with the new version's path in `Location`, as workflow templates do.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, inTenant } from "../shared/app";
import { requireScope } from "../shared/auth";
import { created, errorResponses, json, jsonBody } from "../shared/openapi";
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
const PolicyParam = z.object({
  id: z
    .string()
    .uuid()
    .openapi({
      param: { name: "id", in: "path" },
      description: "A version's `id` (that version), or the policy's `policyKey` (its current version)",
    }),
});
const policyPath = (id: string) => `/v1/approval-policies/${id}`;

export const policyRoutes = createRouter()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/approval-policies",
      tags,
      summary: "The current version of every approval policy, in matching order",
      middleware: [requireScope("approvals:read")] as const,
      request: { query: PolicyListQuery },
      responses: { 200: json(z.object({ items: z.array(ApprovalPolicy) }), "Policies"), ...errorResponses },
    }),
    async (c) => c.json({ items: await inTenant(c, (tx) => listPolicies(tx, c.var.actor, c.req.valid("query"))) }, 200),
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
      responses: { 201: created(ApprovalPolicy, "Created (version 1)"), ...errorResponses },
    }),
    async (c) => {
      const policy = await inTenant(c, (tx) => createPolicy(tx, c.var.actor, c.req.valid("json")));
      return c.json(policy, 201, { Location: policyPath(policy.id) });
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/approval-policies/{id}",
      tags,
      summary: "A policy: the version with this id, or the current version when given the policyKey",
      middleware: [requireScope("approvals:read")] as const,
      request: { params: PolicyParam },
      responses: { 200: json(ApprovalPolicy, "Policy"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => getPolicy(tx, c.var.actor, c.req.valid("param").id)), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/approval-policies/{id}/versions",
      tags,
      summary: "Every version of a policy, newest first",
      middleware: [requireScope("approvals:read")] as const,
      request: { params: PolicyParam },
      responses: { 200: json(z.object({ items: z.array(ApprovalPolicy) }), "Versions"), ...errorResponses },
    }),
    async (c) =>
      c.json({ items: await inTenant(c, (tx) => listPolicyVersions(tx, c.var.actor, c.req.valid("param").id)) }, 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/v1/approval-policies/{id}",
      tags,
      summary:
        "Edit a policy: creates the next version (requests keep the version they were made under); only the current version can be edited",
      middleware: [requireScope("approvals:write")] as const,
      request: { params: PolicyParam, ...jsonBody(UpdatePolicyInput) },
      responses: { 201: created(ApprovalPolicy, "The new version"), ...errorResponses },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const version = await inTenant(c, (tx) => updatePolicy(tx, c.var.actor, id, c.req.valid("json")));
      return c.json(version, 201, { Location: policyPath(version.id) });
    },
  );
