/**
 * The shapes of JSON columns, written once as zod schemas: the column's TypeScript type, the
 * API's input validation and its OpenAPI schema all derive from them.
 */
import { z } from "@hono/zod-openapi";
import { approvalGate, approvalRejectAction, approvalTimeoutAction, memberRole } from "./enums";

/** Longest a request may wait for its deadline: one year. */
export const MAX_TIMEOUT_SECONDS = 365 * 24 * 3600;

const Role = z.enum(memberRole.enumValues);
const Seconds = z.number().int().min(1).max(MAX_TIMEOUT_SECONDS);

/** One approval gate's settings as a template step or an item carries them. */
export const ApprovalRequirement = z
  .object({
    gate: z.enum(approvalGate.enumValues),
    requiredApprovals: z.number().int().min(1).max(50).optional(),
    approverRoles: z.array(Role).max(5).optional(),
    approverUserIds: z.array(z.string().uuid()).max(50).optional(),
    timeoutSeconds: Seconds.optional(),
    timeoutAction: z.enum(approvalTimeoutAction.enumValues).optional(),
    escalateToRoles: z.array(Role).max(5).optional(),
    escalationTimeoutSeconds: Seconds.optional(),
    onReject: z.enum(approvalRejectAction.enumValues).optional(),
    /** Set when the requirement came from an approval policy: the exact version applied. */
    policyId: z.string().uuid().optional(),
    policyVersion: z.number().int().optional(),
  })
  .openapi("ApprovalRequirement");
export type ApprovalRequirement = z.infer<typeof ApprovalRequirement>;

export const TemplateStep = z
  .object({
    type: z.string().trim().min(1).max(200),
    payloadDefaults: z.record(z.string(), z.unknown()).optional(),
    maxAttempts: z.number().int().min(1).max(100).optional(),
    approval: ApprovalRequirement.optional(),
  })
  .openapi("TemplateStep");
export type TemplateStep = z.infer<typeof TemplateStep>;

export const POLICY_OPERATORS = ["equals", "not_equals", "greater_than", "less_than", "contains", "regex"] as const;
export type PolicyOperator = (typeof POLICY_OPERATORS)[number];

export const PolicyCondition = z
  .object({
    /** Dotted path into the item: `type`, or `payload.amount`, `payload.customer.tier`. */
    field: z
      .string()
      .max(200)
      .regex(/^(type|payload(\.[^.\s]+)+)$/, "field is `type` or a dotted payload path such as `payload.amount`")
      .openapi({ example: "payload.amount" }),
    operator: z.enum(POLICY_OPERATORS),
    value: z.unknown().openapi({ example: 1000 }),
  })
  .openapi("PolicyCondition");
export type PolicyCondition = z.infer<typeof PolicyCondition>;
