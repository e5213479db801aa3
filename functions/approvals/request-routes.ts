/** `/v1/approvals`: the inbox, one request with its decision log, and deciding. */
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, inTenant } from "../shared/app";
import { requireScope } from "../shared/auth";
import { errorResponses, IdParam, json, jsonBody } from "../shared/openapi";
import { DecisionInput, recordDecision } from "./decisions";
import { ApprovalListQuery, getApproval, listApprovals } from "./requests";
import { ApprovalRequest, ApprovalRequestWithDecisions } from "./schemas";

const tags = ["Approvals"];

export const requestRoutes = createRouter()
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
  );
