/**
 * The approvals context's contract with work orders: which approval an item runs under (a
 * matching workspace policy, tightened by the item's or its template step's own requirement:
 * floor.ts) and opening the requests in the caller's transaction. Notifications are queued here
 * and delivered after commit.
 */
import { randomUUID } from "node:crypto";
import { and, eq, inArray, sql } from "drizzle-orm";
import { afterCommit, deferred, jsonParam, pgArray, rows, type Statement, type Tx, together } from "../../db/client";
import {
  ApprovalRequirement,
  approvalRequests,
  type memberRole,
  type PolicyCondition,
  workspaceMembers,
} from "../../db/schema";
import { enqueueCte } from "../jobs/runtime/sql/enqueue";
import { actorRef } from "../shared/actor";
import { auditStatement } from "../shared/audit";
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

export interface CurrentPolicy {
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
 * The current, enabled policies of the workspace, in the order they are matched: the order they
 * were first created, then by key.
 */
export function currentPoliciesQuery(tx: Tx, workspaceId: string): Statement<CurrentPolicy[]> {
  return deferred(() =>
    rows<CurrentPolicy>(
      tx,
      sql`select p.id, p.version, p.item_type, p.conditions, p.gate, p.required_approvals, p.approver_roles,
                 p.approver_user_ids, p.timeout_seconds, p.timeout_action, p.escalate_to_roles,
                 p.escalation_timeout_seconds, p.on_reject
          from approval_policies p
          where p.workspace_id = ${workspaceId} and p.is_current and p.enabled
          order by (select min(v.created_at) from approval_policies v
                    where v.workspace_id = p.workspace_id and v.policy_key = p.policy_key),
                   p.policy_key`,
    ),
  );
}

/** The roles of the people the items' own requirements name (undefined when they name nobody). */
export function namedApproverRolesQuery(tx: Tx, workspaceId: string, items: GateCandidate[]) {
  const named = [...new Set(items.flatMap((item) => item.approval?.approverUserIds ?? []))];
  if (named.length === 0) return undefined;
  return tx
    .select({ userId: workspaceMembers.userId, role: workspaceMembers.role })
    .from(workspaceMembers)
    .where(and(eq(workspaceMembers.workspaceId, workspaceId), inArray(workspaceMembers.userId, named)));
}

/**
 * Each item's approval requirement: the first current, enabled policy that matches it
 * (`policies`, from `currentPoliciesQuery`), tightened by the item's own requirement (floor.ts:
 * a policy is a floor; `roles` from `namedApproverRolesQuery`). An own requirement that reaches
 * outside its policy is a 422 naming the item.
 */
export function requirementsFor(
  items: GateCandidate[],
  policies: CurrentPolicy[],
  roles: Array<{ userId: string; role: MemberRole }>,
): Array<ApprovalRequirement | null> {
  const roleOf = new Map(roles.map((member) => [member.userId, member.role] as const));
  const problems: Array<{ path: string; message: string }> = [];
  const resolved = items.map((item, index) => {
    const policy = policies.find((candidate) =>
      policyMatches({ itemType: candidate.item_type, conditions: candidate.conditions ?? [] }, item),
    );
    const floored = applyFloor(policy ? requirementFromPolicy(policy) : null, item.approval ?? null, (userId) =>
      roleOf.get(userId),
    );
    problems.push(...floored.problems.map((problem) => ({ ...problem, path: `items.${index}.${problem.path}` })));
    return floored.requirement;
  });
  if (problems.length > 0) {
    throw new Invalid("An item's own approval requirement may only tighten the policy that matches it", problems);
  }
  return resolved;
}

/** `requirementsFor` over the policies and named approvers' roles, read in one round trip. */
export async function resolveApprovalRequirements(
  tx: Tx,
  workspaceId: string,
  items: GateCandidate[],
): Promise<Array<ApprovalRequirement | null>> {
  if (items.length === 0) return [];
  const read = await together(tx, {
    policies: currentPoliciesQuery(tx, workspaceId),
    roles: namedApproverRolesQuery(tx, workspaceId, items),
  });
  return requirementsFor(items, read.policies, read.roles ?? []);
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

/** An approval request to open: for an item, over the payload it is asked for. */
export interface RequestToOpen {
  workItemId: string;
  workOrderId: string;
  /** The payload the approval is asked for: an approval covers that payload only. */
  payload: Record<string, unknown>;
  requirement: ApprovalRequirement;
}

/**
 * The statements that open one approval request per entry (one INSERT, with `requested_by` =
 * the actor: four-eyes, they cannot decide it), queue a webhook notification per active API
 * connector (one set-based INSERT) and audit them, unsent, for a caller to send with its own
 * writes (`together`, `commitWith`). The notifications are delivered after commit. Returns the
 * request ids in the order of `requests`.
 */
export function approvalRequestWrites(
  tx: Tx,
  actor: { workspaceId: string; userId: string | null },
  requests: RequestToOpen[],
): { requestIds: string[]; statements: Statement[] } {
  if (requests.length === 0) return { requestIds: [], statements: [] };
  const values = requests.map((request) => ({
    id: randomUUID(),
    workspaceId: actor.workspaceId,
    workItemId: request.workItemId,
    workOrderId: request.workOrderId,
    requestedBy: actor.userId,
    payloadHash: canonicalHash(request.payload),
    ...requestValues(request.requirement),
  }));
  const notifications = deferred(async () => {
    const jobs = await rows<{ id: string }>(
      tx,
      sql`with ${enqueueCte(
        "jobs",
        sql`select ${actor.workspaceId}::uuid, ${APPROVAL_WEBHOOK_JOB}::text, null::uuid,
                   jsonb_build_object('requestId', r.id, 'connectorId', c.id), ${WEBHOOK_MAX_ATTEMPTS}::int
            from jsonb_array_elements_text(${jsonParam(values.map((value) => value.id))}) with ordinality as r(id, n)
            cross join connectors c
            where c.workspace_id = ${actor.workspaceId}::uuid and c.type = 'API' and c.status = 'ACTIVE'
              and c.webhook_url is not null
            order by r.n, c.created_at`,
      )}
          select id from jobs`,
    );
    // Queued once the jobs exist (a committing batch has committed by now; hooks run after).
    const jobIds = jobs.map((job) => job.id);
    if (jobIds.length > 0) afterCommit(tx, (database) => deliverNotifications(database, actor.workspaceId, jobIds));
    return jobs;
  });
  const audited = auditStatement(
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
  return {
    requestIds: values.map((value) => value.id),
    statements: [tx.insert(approvalRequests).values(values), notifications, ...(audited ? [audited] : [])],
  };
}

/** `approvalRequestWrites`, sent in one round trip in the caller's transaction. */
export async function openApprovalRequests(
  tx: Tx,
  actor: { workspaceId: string; userId: string | null },
  requests: RequestToOpen[],
): Promise<string[]> {
  const writes = approvalRequestWrites(tx, actor, requests);
  await together(tx, { writes: writes.statements });
  return writes.requestIds;
}
