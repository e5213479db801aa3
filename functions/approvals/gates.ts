/**
 * The approvals context's contract with work orders: which approval an item runs under (a
 * matching workspace policy, tightened by the item's or its template step's own requirement:
 * floor.ts) and opening the requests in the caller's transaction. Notifications are queued here
 * and delivered after commit.
 */
import { randomUUID } from "node:crypto";
import { and, asc, eq, inArray, isNotNull, sql } from "drizzle-orm";
import { afterCommit, pgArray, rows, type Tx } from "../../db/client";
import {
  ApprovalRequirement,
  approvalRequests,
  connectors,
  type memberRole,
  type PolicyCondition,
  workspaceMembers,
} from "../../db/schema";
import { enqueueJobs } from "../jobs/runtime/sql/enqueue";
import { actorRef } from "../shared/actor";
import { audit } from "../shared/audit";
import { canonicalHash } from "../shared/canonical-json";
import { Invalid } from "../shared/errors";
import { applyFloor, approverRolesOf } from "./floor";
import { policyMatches } from "./matching";
import { APPROVAL_WEBHOOK_JOB, deliverNotifications, WEBHOOK_MAX_ATTEMPTS } from "./webhook-delivery";

type MemberRole = (typeof memberRole.enumValues)[number];

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

export interface GateCandidate {
  type: string;
  payload: Record<string, unknown>;
  /** What the item (or its template step) asks for itself. */
  approval?: ApprovalRequirement | null;
}

/**
 * Each item's approval requirement: the first current, enabled policy that matches it
 * (policies taken in the order they were first created, then by key), tightened by the item's
 * own requirement (floor.ts: a policy is a floor). An own requirement that reaches outside its
 * policy is a 422 naming the item. Two queries at most: the policies, the roles of the people
 * the items name.
 */
export async function resolveApprovalRequirements(
  tx: Tx,
  workspaceId: string,
  items: GateCandidate[],
): Promise<Array<ApprovalRequirement | null>> {
  if (items.length === 0) return [];
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
  const named = [...new Set(items.flatMap((item) => item.approval?.approverUserIds ?? []))];
  const roles = new Map(
    named.length === 0
      ? []
      : (
          await tx
            .select({ userId: workspaceMembers.userId, role: workspaceMembers.role })
            .from(workspaceMembers)
            .where(and(eq(workspaceMembers.workspaceId, workspaceId), inArray(workspaceMembers.userId, named)))
        ).map((member) => [member.userId, member.role] as const),
  );
  const problems: Array<{ path: string; message: string }> = [];
  const resolved = items.map((item, index) => {
    const policy = policies.find((candidate) =>
      policyMatches({ itemType: candidate.item_type, conditions: candidate.conditions ?? [] }, item),
    );
    const floored = applyFloor(policy ? requirementFromPolicy(policy) : null, item.approval ?? null, (userId) =>
      roles.get(userId),
    );
    problems.push(...floored.problems.map((problem) => ({ ...problem, path: `items.${index}.${problem.path}` })));
    return floored.requirement;
  });
  if (problems.length > 0) {
    throw new Invalid("An item's own approval requirement may only tighten the policy that matches it", problems);
  }
  return resolved;
}

/**
 * The requirement for an action an agent asks permission for (MCP `request_approval`): decided
 * before the action, always. A matching policy keeps its approvers, quorum and deadline — one
 * that reviews afterwards is moved before the action, where the approvers see its exact
 * parameters — and with no policy the default applies (one approval from an owner, admin or
 * approver). The server sets this, not the caller, so it needs no `approvals:write`.
 */
export function beforeTheAction(requirement: ApprovalRequirement | null): ApprovalRequirement {
  return requirement ? { ...requirement, gate: "BEFORE" } : { gate: "BEFORE" };
}

/** The request row a requirement produces, defaults applied, so the request is explicit. */
function requestValues(requirement: ApprovalRequirement) {
  const users = requirement.approverUserIds ?? [];
  const escalateTo = requirement.escalateToRoles ?? [];
  const timeoutAction = requirement.timeoutAction ?? "REJECT";
  return {
    gate: requirement.gate,
    policyId: requirement.policyId ?? null,
    policyVersion: requirement.policyVersion ?? null,
    requiredApprovals: requirement.requiredApprovals ?? 1,
    approverRoles: approverRolesOf(requirement),
    approverUserIds: users,
    // From the database's clock, like the request's createdAt and every decision's time; to the
    // millisecond like createdAt, since the inbox pages by deadline with cursors in milliseconds.
    deadline: requirement.timeoutSeconds
      ? sql`(now() + make_interval(secs => ${requirement.timeoutSeconds}::int))::timestamptz(3)`
      : null,
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
  requests: Array<{
    workItemId: string;
    workOrderId: string;
    /** The payload the approval is asked for: an approval covers that payload only. */
    payload: Record<string, unknown>;
    requirement: ApprovalRequirement;
  }>,
): Promise<string[]> {
  if (requests.length === 0) return [];
  const values = requests.map((request) => ({
    id: randomUUID(),
    workspaceId: actor.workspaceId,
    workItemId: request.workItemId,
    workOrderId: request.workOrderId,
    requestedBy: actor.userId,
    payloadHash: canonicalHash(request.payload),
    ...requestValues(request.requirement),
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
