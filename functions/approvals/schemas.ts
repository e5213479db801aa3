/**
 * The approvals context's response shapes, derived from its tables (functions/shared/schemas.ts).
 */
import { z } from "@hono/zod-openapi";
import { approvalEvents, approvalPolicies, approvalRequests, PolicyCondition } from "../../db/schema";
import { createSelectSchema, JsonObject, selection } from "../shared/schemas";

export const ApprovalPolicy = createSelectSchema(approvalPolicies, {
  id: (schema) => schema.openapi({ description: "This version's id (what requests record)" }),
  policyKey: (schema) => schema.openapi({ description: "The policy's stable id across versions" }),
  conditions: z.array(PolicyCondition),
})
  .omit({ workspaceId: true, updatedAt: true })
  .openapi("ApprovalPolicy");
export const policyColumns = selection(approvalPolicies, ApprovalPolicy);
export type ApprovalPolicy = z.output<typeof ApprovalPolicy>;

const RequestFields = createSelectSchema(approvalRequests).omit({ workspaceId: true, updatedAt: true });

/** A request with what an approver needs to see of its item. */
export const ApprovalRequest = RequestFields.extend({
  item: z.object({
    type: z.string(),
    status: z.string(),
    orderTitle: z.string(),
    payloadSummary: JsonObject,
  }),
}).openapi("ApprovalRequest");
export type ApprovalRequest = z.output<typeof ApprovalRequest>;

export const ApprovalDecision = createSelectSchema(approvalEvents)
  .omit({ workspaceId: true, requestId: true, workItemId: true, updatedAt: true })
  .openapi("ApprovalDecision");
export const decisionColumns = selection(approvalEvents, ApprovalDecision);

export const ApprovalRequestWithDecisions = ApprovalRequest.extend({ decisions: z.array(ApprovalDecision) }).openapi(
  "ApprovalRequestWithDecisions",
);
