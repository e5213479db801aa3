/**
 * The approvals context's contract with work orders: which items need approval (their own
 * requirement, a template step's, or a workspace policy) and opening the requests in the
 * caller's transaction. Notifications are queued here and delivered after commit.
 */
import { randomUUID } from "node:crypto";
import { and, asc, eq, isNotNull, sql } from "drizzle-orm";
import { afterCommit, pgArray, rows, type Tx } from "../../db/client";
import {
  ApprovalRequirement,
  approvalRequests,
  connectors,
  type memberRole,
  type PolicyCondition,
} from "../../db/schema";
import { enqueueJobs } from "../jobs/runtime/sql/enqueue";
import { actorRef } from "../shared/actor";
import { audit } from "../shared/audit";
import { policyMatches } from "./matching";
import { APPROVAL_WEBHOOK_JOB, deliverNotifications, WEBHOOK_MAX_ATTEMPTS } from "./webhook-delivery";

type MemberRole = (typeof memberRole.enumValues)[number];

/** Who may decide when a requirement names neither roles nor users. */
export const DEFAULT_APPROVER_ROLES = ["OWNER", "ADMIN", "APPROVER"] as const;

/**
 * An approval requirement as an item or a template step carries it (input shape, strict).
 * `policyId`/`policyVersion` are not accepted from callers: only policy resolution sets them.
 */
export const ApprovalRequirementInput = ApprovalRequirement.omit({ policyId: true, policyVersion: true })
  .strict()
  .refine((r) => r.timeoutAction !== "ESCALATE" || (r.escalateToRoles?.length ?? 0) > 0, {
    message: "timeoutAction ESCALATE needs escalateToRoles",
    path: ["escalateToRoles"],
  })
  .openapi("ApprovalRequirementInput");

interface CurrentPolicy {
  id: string;
  version: number;
  item_type: string | null;
  conditions: PolicyCondition[];
  gate: "BEFORE" | "AFTER";
  required_approvals: number;
  approver_roles: MemberRole[] | string;
  approver_user_ids: string[] | string;
  timeout_seconds: number | null;
  timeout_action: "APPROVE" | "REJECT" | "ESCALATE";
  escalate_to_roles: MemberRole[] | string;
  escalation_timeout_seconds: number | null;
  on_reject: "FAIL" | "REWORK";
}

function requirementFromPolicy(policy: CurrentPolicy): ApprovalRequirement {
  return {
    gate: policy.gate,
    requiredApprovals: policy.required_approvals,
    approverRoles: pgArray(policy.approver_roles),
    approverUserIds: pgArray(policy.approver_user_ids),
    ...(policy.timeout_seconds === null ? {} : { timeoutSeconds: policy.timeout_seconds }),
    timeoutAction: policy.timeout_action,
    escalateToRoles: pgArray(policy.escalate_to_roles),
    ...(policy.escalation_timeout_seconds === null
      ? {}
      : { escalationTimeoutSeconds: policy.escalation_timeout_seconds }),
    onReject: policy.on_reject,
    policyId: policy.id,
    policyVersion: policy.version,
  };
}

/**
 * Each item's approval requirement: its own (including one copied from its template
 * step) wins; otherwise the first current, enabled policy that matches, policies taken in
 * the order they were first created (then by key, for ties). One query for the policies.
 */
export async function resolveApprovalRequirements(
  tx: Tx,
  workspaceId: string,
  items: Array<{ type: string; payload: Record<string, unknown>; approval?: ApprovalRequirement | null }>,
): Promise<Array<ApprovalRequirement | null>> {
  if (items.every((item) => item.approval)) return items.map((item) => item.approval ?? null);
  const policies = await rows<CurrentPolicy>(
    tx,
    sql`select p.id, p.version, p.item_type, p.conditions, p.gate, p.required_approvals, p.approver_roles,
               p.approver_user_ids, p.timeout_seconds, p.timeout_action, p.escalate_to_roles,
               p.escalation_timeout_seconds, p.on_reject
        from approval_policies p
        where p.workspace_id = ${workspaceId} and p.is_current and p.enabled
        order by (select min(v.created_at) from approval_policies v
                  where v.workspace_id = p.workspace_id and v.policy_key = p.policy_key),
                 p.policy_key`,
  );
  return items.map((item) => {
    if (item.approval) return item.approval;
    const policy = policies.find((candidate) =>
      policyMatches({ itemType: candidate.item_type, conditions: candidate.conditions ?? [] }, item),
    );
    return policy ? requirementFromPolicy(policy) : null;
  });
}

/** The request row a requirement produces, defaults applied, so the request is explicit. */
function requestValues(requirement: ApprovalRequirement, now: Date) {
  const roles = requirement.approverRoles ?? [];
  const users = requirement.approverUserIds ?? [];
  const escalateTo = requirement.escalateToRoles ?? [];
  const timeoutAction = requirement.timeoutAction ?? "REJECT";
  return {
    gate: requirement.gate,
    policyId: requirement.policyId ?? null,
    policyVersion: requirement.policyVersion ?? null,
    requiredApprovals: requirement.requiredApprovals ?? 1,
    approverRoles: (roles.length === 0 && users.length === 0 ? [...DEFAULT_APPROVER_ROLES] : roles) as Array<
      (typeof memberRole.enumValues)[number]
    >,
    approverUserIds: users,
    deadline: requirement.timeoutSeconds ? new Date(now.getTime() + requirement.timeoutSeconds * 1000) : null,
    // Escalating with nobody to escalate to would leave the request waiting forever.
    timeoutAction: timeoutAction === "ESCALATE" && escalateTo.length === 0 ? ("REJECT" as const) : timeoutAction,
    escalateToRoles: escalateTo as Array<(typeof memberRole.enumValues)[number]>,
    escalationTimeoutSeconds: requirement.escalationTimeoutSeconds ?? null,
    onReject: requirement.onReject ?? "FAIL",
  };
}

/**
 * Opens one approval request per entry in the caller's transaction (one INSERT), with
 * `requested_by` = the actor (four-eyes: they cannot decide it), and queues a webhook
 * notification per active API connector in the same transaction, delivered once it commits.
 * Returns the request ids in the order of `requests`.
 */
export async function openApprovalRequests(
  tx: Tx,
  actor: { workspaceId: string; userId: string | null },
  requests: Array<{ workItemId: string; workOrderId: string; requirement: ApprovalRequirement }>,
  now: Date = new Date(),
): Promise<string[]> {
  if (requests.length === 0) return [];
  const values = requests.map((request) => ({
    id: randomUUID(),
    workspaceId: actor.workspaceId,
    workItemId: request.workItemId,
    workOrderId: request.workOrderId,
    requestedBy: actor.userId,
    ...requestValues(request.requirement, now),
  }));
  await tx.insert(approvalRequests).values(values);

  const hooks = await tx
    .select({ id: connectors.id })
    .from(connectors)
    .where(
      and(
        eq(connectors.workspaceId, actor.workspaceId),
        eq(connectors.type, "API"),
        eq(connectors.status, "ACTIVE"),
        isNotNull(connectors.webhookUrl),
      ),
    )
    .orderBy(asc(connectors.createdAt));
  const jobIds = await enqueueJobs(
    tx,
    values.flatMap(({ id: requestId }) =>
      hooks.map((hook) => ({
        workspaceId: actor.workspaceId,
        type: APPROVAL_WEBHOOK_JOB,
        input: { requestId, connectorId: hook.id },
        maxAttempts: WEBHOOK_MAX_ATTEMPTS,
        availableAt: now,
      })),
    ),
  );
  if (jobIds.length > 0) {
    afterCommit(tx, (database) => deliverNotifications(database, actor.workspaceId, jobIds));
  }

  await audit(
    tx,
    actorRef(actor),
    values.map((value) => ({
      action: "approval.requested",
      entity: { type: "approval_request", id: value.id },
      after: {
        workItemId: value.workItemId,
        gate: value.gate,
        requiredApprovals: value.requiredApprovals,
        deadline: value.deadline,
        policyId: value.policyId,
        policyVersion: value.policyVersion,
      },
    })),
  );
  return values.map((value) => value.id);
}
