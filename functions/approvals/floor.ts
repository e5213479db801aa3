/**
 * A policy is a floor. When a workspace policy matches an item, the item's own requirement (from
 * the item or its template step) can only tighten it; it never loosens it:
 *
 * - gate: the policy's (an item cannot move the gate);
 * - requiredApprovals: the larger of the two;
 * - approvers: the policy's, or a narrower set the item names — roles among the policy's
 *   approver roles, people whose current role (or name) the policy admits; naming anyone else is
 *   refused, so the item cannot hand its approval to someone the policy does not trust;
 * - the deadline action: the stricter of the two (REJECT over ESCALATE over APPROVE), so an item
 *   never gets an auto-APPROVE its policy does not have; escalation roles, like approver roles,
 *   only among the policy's approvers;
 * - the deadline: with APPROVE as the action, the later of the two (an item may only delay an
 *   auto-approval); otherwise the earlier (an item may ask for a decision sooner);
 * - onReject: FAIL if either says FAIL;
 * - the request records the policy and its version.
 *
 * With no matching policy the item's own requirement applies as it is.
 */
import type { ApprovalRequirement, memberRole } from "../../db/schema";

type Role = (typeof memberRole.enumValues)[number];
type Action = NonNullable<ApprovalRequirement["timeoutAction"]>;

/** Who may decide when a requirement names neither roles nor users. */
export const DEFAULT_APPROVER_ROLES: readonly Role[] = ["OWNER", "ADMIN", "APPROVER"];

const STRICTNESS: Record<Action, number> = { APPROVE: 0, ESCALATE: 1, REJECT: 2 };

export interface FloorProblem {
  path: string;
  message: string;
}

/** The roles a requirement lets decide (its own, or the default when it names no one). */
export function approverRolesOf(requirement: ApprovalRequirement): Role[] {
  const roles = requirement.approverRoles ?? [];
  const users = requirement.approverUserIds ?? [];
  return roles.length === 0 && users.length === 0 ? [...DEFAULT_APPROVER_ROLES] : roles;
}

const minDefined = (a: number | undefined, b: number | undefined) =>
  a === undefined ? b : b === undefined ? a : Math.min(a, b);
const maxDefined = (a: number | undefined, b: number | undefined) =>
  a === undefined ? b : b === undefined ? a : Math.max(a, b);

/**
 * The requirement an item runs under: `policy` (a matching policy's, or none) tightened by
 * `own`. `roleOf` gives the current role of each person `own` names. Problems, if any, say
 * which part of `own` reaches outside the policy.
 */
export function applyFloor(
  policy: ApprovalRequirement | null,
  own: ApprovalRequirement | null,
  roleOf: (userId: string) => Role | undefined,
): { requirement: ApprovalRequirement | null; problems: FloorProblem[] } {
  if (!policy || !own) return { requirement: policy ?? own, problems: [] };
  const problems: FloorProblem[] = [];
  const policyRoles = approverRolesOf(policy);
  const policyUsers = policy.approverUserIds ?? [];
  const admits = (userId: string) => {
    const role = roleOf(userId);
    return policyUsers.includes(userId) || (role !== undefined && policyRoles.includes(role));
  };
  for (const [field, roles] of [
    ["approverRoles", own.approverRoles ?? []],
    ["escalateToRoles", own.escalateToRoles ?? []],
  ] as const) {
    const outside = roles.filter((role) => !policyRoles.includes(role));
    if (outside.length > 0) {
      problems.push({
        path: `approval.${field}`,
        message: `The matching approval policy lets ${policyRoles.join(", ") || "only the people it names"} decide; ${outside.join(", ")} may not`,
      });
    }
  }
  const strangers = (own.approverUserIds ?? []).filter((userId) => !admits(userId));
  if (strangers.length > 0) {
    problems.push({
      path: "approval.approverUserIds",
      message: `The matching policy does not admit ${strangers.join(", ")} as approvers`,
    });
  }

  const narrowed = (own.approverRoles?.length ?? 0) > 0 || (own.approverUserIds?.length ?? 0) > 0;
  const policyAction = policy.timeoutAction ?? "REJECT";
  const ownAction = own.timeoutAction ?? policyAction;
  const action = STRICTNESS[ownAction] > STRICTNESS[policyAction] ? ownAction : policyAction;
  const timeoutSeconds =
    action === "APPROVE"
      ? maxDefined(policy.timeoutSeconds, own.timeoutSeconds)
      : minDefined(policy.timeoutSeconds, own.timeoutSeconds);
  const escalateToRoles =
    action !== "ESCALATE"
      ? (policy.escalateToRoles ?? [])
      : ownAction === "ESCALATE" && (own.escalateToRoles?.length ?? 0) > 0
        ? (own.escalateToRoles ?? [])
        : (policy.escalateToRoles ?? []);
  const requirement: ApprovalRequirement = {
    gate: policy.gate,
    requiredApprovals: Math.max(policy.requiredApprovals ?? 1, own.requiredApprovals ?? 1),
    approverRoles: narrowed ? (own.approverRoles ?? []) : (policy.approverRoles ?? []),
    approverUserIds: narrowed ? (own.approverUserIds ?? []) : policyUsers,
    ...(timeoutSeconds === undefined ? {} : { timeoutSeconds }),
    timeoutAction: action,
    escalateToRoles,
    ...(minDefined(policy.escalationTimeoutSeconds, own.escalationTimeoutSeconds) === undefined
      ? {}
      : { escalationTimeoutSeconds: minDefined(policy.escalationTimeoutSeconds, own.escalationTimeoutSeconds) }),
    onReject: policy.onReject === "FAIL" || own.onReject === "FAIL" ? "FAIL" : (policy.onReject ?? own.onReject),
    ...(policy.policyId ? { policyId: policy.policyId } : {}),
    ...(policy.policyVersion ? { policyVersion: policy.policyVersion } : {}),
  };
  return { requirement, problems };
}
