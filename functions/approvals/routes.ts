import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, inTenant } from "../shared/app";
import { requireScope } from "../shared/auth";
import { errorResponses, IdParam, json, jsonBody, Timestamp } from "../shared/openapi";
import { DecisionInput, recordDecision } from "./decisions";
import {
  CreatePolicyInput,
  createPolicy,
  getPolicy,
  listPolicies,
  listPolicyVersions,
  PolicyConditionInput,
  PolicyListQuery,
  UpdatePolicyInput,
  updatePolicy,
} from "./policies";
import { ApprovalListQuery, getApproval, listApprovals } from "./requests";

const tags = ["Approvals"];
const Uuid = z.string().uuid();
const Roles = z.array(z.string());

const ApprovalPolicy = z
  .object({
    id: Uuid.openapi({ description: "This version's id (what requests record)" }),
    policyKey: Uuid.openapi({ description: "The policy's stable id across versions" }),
    version: z.number().int(),
    isCurrent: z.boolean(),
    name: z.string(),
    description: z.string().nullable(),
    itemType: z.string().nullable(),
    conditions: z.array(PolicyConditionInput),
    gate: z.string(),
    requiredApprovals: z.number().int(),
    approverRoles: Roles,
    approverUserIds: z.array(Uuid),
    timeoutSeconds: z.number().int().nullable(),
    timeoutAction: z.string(),
    escalateToRoles: Roles,
    escalationTimeoutSeconds: z.number().int().nullable(),
    onReject: z.string(),
    enabled: z.boolean(),
    createdBy: Uuid.nullable(),
    createdAt: Timestamp,
  })
  .openapi("ApprovalPolicy");

const ApprovalRequest = z
  .object({
    id: Uuid,
    status: z.string(),
    gate: z.string(),
    workItemId: Uuid,
    workOrderId: Uuid,
    policyId: Uuid.nullable(),
    policyVersion: z.number().int().nullable(),
    requiredApprovals: z.number().int(),
    approvalsCount: z.number().int(),
    approverRoles: Roles,
    approverUserIds: z.array(Uuid),
    requestedBy: Uuid.nullable(),
    deadline: Timestamp.nullable(),
    timeoutAction: z.string(),
    escalateToRoles: Roles,
    escalationTimeoutSeconds: z.number().int().nullable(),
    escalationLevel: z.number().int(),
    onReject: z.string(),
    decidedAt: Timestamp.nullable(),
    createdAt: Timestamp,
    item: z.object({
      type: z.string(),
      status: z.string(),
      orderTitle: z.string(),
      payloadSummary: z.record(z.string(), z.unknown()),
    }),
  })
  .openapi("ApprovalRequest");

const ApprovalDecision = z
  .object({
    id: Uuid,
    actorType: z.string(),
    actorUserId: Uuid.nullable(),
    decision: z.string(),
    reason: z.string().nullable(),
    policyId: Uuid.nullable(),
    policyVersion: z.number().int().nullable(),
    createdAt: Timestamp,
  })
  .openapi("ApprovalDecision");

const ApprovalRequestWithDecisions = ApprovalRequest.extend({ decisions: z.array(ApprovalDecision) }).openapi(
  "ApprovalRequestWithDecisions",
);

const PolicyKeyParam = z.object({ key: Uuid.openapi({ param: { name: "key", in: "path" } }) });

export const approvalRoutes = createRouter()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/approvals",
      tags,
      summary: "Approval requests, oldest deadline first; `mine=true` is the caller's inbox",
      middleware: [requireScope("approvals:read")] as const,
      request: { query: ApprovalListQuery },
      responses: {
        200: json(z.object({ items: z.array(ApprovalRequest), nextCursor: z.string().nullable() }), "Requests"),
        ...errorResponses,
      },
    }),
    async (c) => c.json(await inTenant(c, (tx) => listApprovals(tx, c.var.actor, c.req.valid("query"))), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/approvals/{id}",
      tags,
      summary: "An approval request with every decision, in order",
      middleware: [requireScope("approvals:read")] as const,
      request: { params: IdParam },
      responses: { 200: json(ApprovalRequestWithDecisions, "Request"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => getApproval(tx, c.var.actor, c.req.valid("param").id)), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/approvals/{id}/decisions",
      tags,
      summary: "Decide: APPROVED, REJECTED or ESCALATED, with a reason",
      description:
        "The caller must be an allowed approver and not the requester (four-eyes); one decision per approver. " +
        "The request is APPROVED at its quorum and REJECTED on the first rejection. A decision on a closed request, " +
        "or one past its deadline, is a 409 and is not recorded.",
      middleware: [requireScope("approvals:decide")] as const,
      request: { params: IdParam, ...jsonBody(DecisionInput) },
      responses: { 201: json(ApprovalRequestWithDecisions, "Recorded"), ...errorResponses },
    }),
    async (c) =>
      c.json(
        await inTenant(c, (tx) => recordDecision(tx, c.var.actor, c.req.valid("param").id, c.req.valid("json"))),
        201,
      ),
  )
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
      request: { params: PolicyKeyParam },
      responses: { 200: json(z.object({ items: z.array(ApprovalPolicy) }), "Versions"), ...errorResponses },
    }),
    async (c) =>
      c.json({ items: await inTenant(c, (tx) => listPolicyVersions(tx, c.var.actor, c.req.valid("param").key)) }, 200),
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
