/**
 * Workspace approval policies. A policy is versioned by `policy_key`: an edit inserts the
 * next version and clears `is_current` on the previous one, so requests made under an old
 * version keep pointing at exactly what applied to them. Each version has its own `id` (what
 * requests record); the API reads a version by its `id` and a policy's current version by its
 * `policyKey`, and edits the current version by either.
 */

import { randomUUID } from "node:crypto";
import { z } from "@hono/zod-openapi";
import { and, asc, desc, eq, inArray, or, sql } from "drizzle-orm";
import { one, type Tx } from "../../db/client";
import {
  approvalGate,
  approvalPolicies,
  approvalRejectAction,
  approvalTimeoutAction,
  MAX_TIMEOUT_SECONDS,
  memberRole,
  PolicyCondition,
  workspaceMembers,
} from "../../db/schema";
import type { Actor } from "../shared/actor";
import { actorRef } from "../shared/actor";
import { audit } from "../shared/audit";
import { Conflict, Invalid, NotFound } from "../shared/errors";
import { parseInput, StorableJson } from "../shared/validation";
import { conditionProblem } from "./matching";
import { type ApprovalPolicy, policyColumns } from "./schemas";

const Role = z.enum(memberRole.enumValues);
const Seconds = z.number().int().min(1).max(MAX_TIMEOUT_SECONDS);

export const PolicyConditionInput = PolicyCondition.extend({
  value: StorableJson(z.unknown()).openapi({ example: 1000 }),
})
  .strict()
  .openapi("PolicyConditionInput", {
    description:
      "`regex` takes a pattern (at most 500 characters) in JavaScript syntax, matched in linear time by an RE2 engine: no backreferences, lookahead or lookbehind (refused when the policy is saved); `\\s` is ASCII whitespace, `.` excludes only a newline, `\\p{…}` takes short names (`\\p{L}`, `\\p{Greek}`).",
  });

const policyFields = {
  name: z.string().trim().min(1).max(200),
  description: z.string().max(2000).nullable().optional(),
  itemType: z
    .string()
    .min(1)
    .max(200)
    .nullable()
    .optional()
    .openapi({ description: "Only items of this type (any type if null)" }),
  conditions: z.array(PolicyConditionInput).max(20).default([]),
  gate: z.enum(approvalGate.enumValues).default("BEFORE"),
  requiredApprovals: z.number().int().min(1).max(50).default(1),
  approverRoles: z.array(Role).max(5).default([]),
  approverUserIds: z.array(z.string().uuid()).max(50).default([]),
  timeoutSeconds: Seconds.nullable().optional(),
  timeoutAction: z.enum(approvalTimeoutAction.enumValues).default("REJECT"),
  escalateToRoles: z.array(Role).max(5).default([]),
  escalationTimeoutSeconds: Seconds.nullable().optional(),
  onReject: z.enum(approvalRejectAction.enumValues).default("FAIL"),
  enabled: z.boolean().default(true),
};

export const CreatePolicyInput = z.strictObject(policyFields).openapi("CreateApprovalPolicyInput");
export type CreatePolicyInput = z.infer<typeof CreatePolicyInput>;

/** Any subset of the fields; the new version is the current one with these replaced. */
export const UpdatePolicyInput = z
  .strictObject({
    name: policyFields.name.optional(),
    description: policyFields.description,
    itemType: policyFields.itemType,
    conditions: z.array(PolicyConditionInput).max(20).optional(),
    gate: z.enum(approvalGate.enumValues).optional(),
    requiredApprovals: z.number().int().min(1).max(50).optional(),
    approverRoles: z.array(Role).max(5).optional(),
    approverUserIds: z.array(z.string().uuid()).max(50).optional(),
    timeoutSeconds: policyFields.timeoutSeconds,
    timeoutAction: z.enum(approvalTimeoutAction.enumValues).optional(),
    escalateToRoles: z.array(Role).max(5).optional(),
    escalationTimeoutSeconds: policyFields.escalationTimeoutSeconds,
    onReject: z.enum(approvalRejectAction.enumValues).optional(),
    enabled: z.boolean().optional(),
  })
  .refine((input) => Object.keys(input).length > 0, { message: "Send at least one field to change" })
  .openapi("UpdateApprovalPolicyInput");
export type UpdatePolicyInput = z.infer<typeof UpdatePolicyInput>;

export const PolicyListQuery = z.object({
  includeDisabled: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true")
    .openapi({ description: "Include disabled policies (default true)" }),
});

type PolicySettings = Omit<CreatePolicyInput, "conditions"> & { conditions: PolicyCondition[] };

/** Rules a schema cannot say: regexes compile, comparisons have numbers, escalation has a target, approvers are members. */
async function assertValidPolicy(tx: Tx, actor: Actor, policy: PolicySettings): Promise<void> {
  const problems = policy.conditions
    .map((condition, index) => ({ path: `conditions.${index}`, message: conditionProblem(condition) }))
    .filter((p): p is { path: string; message: string } => p.message !== null);
  if (policy.timeoutAction === "ESCALATE" && policy.escalateToRoles.length === 0) {
    problems.push({
      path: "escalateToRoles",
      message: "timeoutAction ESCALATE needs at least one role to escalate to",
    });
  }
  if (policy.timeoutAction !== "REJECT" && !policy.timeoutSeconds) {
    problems.push({ path: "timeoutSeconds", message: `timeoutAction ${policy.timeoutAction} needs timeoutSeconds` });
  }
  if (policy.approverUserIds.length > 0) {
    const members = await tx
      .select({ userId: workspaceMembers.userId })
      .from(workspaceMembers)
      .where(
        and(
          eq(workspaceMembers.workspaceId, actor.workspaceId),
          inArray(workspaceMembers.userId, policy.approverUserIds),
        ),
      );
    const known = new Set(members.map((m) => m.userId));
    policy.approverUserIds.forEach((userId, index) => {
      if (!known.has(userId))
        problems.push({ path: `approverUserIds.${index}`, message: `${userId} is not a member of this workspace` });
    });
  }
  if (problems.length > 0) throw new Invalid("The approval policy is not valid", problems);
}

function settingsOf(input: CreatePolicyInput): PolicySettings {
  return { ...input, conditions: input.conditions as PolicyCondition[] };
}

/** Inserts `version` of the policy `policyKey` as its current version. */
async function insertVersion(
  tx: Tx,
  actor: Actor,
  policyKey: string,
  version: number,
  policy: PolicySettings,
): Promise<ApprovalPolicy> {
  return one(
    await tx
      .insert(approvalPolicies)
      .values({
        ...policy,
        description: policy.description ?? null,
        itemType: policy.itemType ?? null,
        timeoutSeconds: policy.timeoutSeconds ?? null,
        escalationTimeoutSeconds: policy.escalationTimeoutSeconds ?? null,
        workspaceId: actor.workspaceId,
        policyKey,
        version,
        isCurrent: true,
        createdBy: actor.userId,
      })
      .returning(policyColumns),
  );
}

export async function createPolicy(
  tx: Tx,
  actor: Actor,
  raw: z.input<typeof CreatePolicyInput>,
): Promise<ApprovalPolicy> {
  const policy = settingsOf(parseInput(CreatePolicyInput, raw));
  await assertValidPolicy(tx, actor, policy);
  const row = await insertVersion(tx, actor, randomUUID(), 1, policy);
  await audit(tx, actorRef(actor), {
    action: "approval_policy.created",
    entity: { type: "approval_policy", id: row.id },
    after: { policyKey: row.policyKey, version: 1 },
  });
  return row;
}

/**
 * A policy as the API addresses it: a version's `id` gives that version (the create response's
 * `id` is version 1's), the policy's `policyKey` its current version.
 */
async function findPolicy(tx: Tx, actor: Actor, ref: string, lock: boolean): Promise<ApprovalPolicy> {
  const query = tx
    .select(policyColumns)
    .from(approvalPolicies)
    .where(
      and(
        eq(approvalPolicies.workspaceId, actor.workspaceId),
        or(
          eq(approvalPolicies.id, ref),
          and(eq(approvalPolicies.policyKey, ref), eq(approvalPolicies.isCurrent, true)),
        ),
      ),
    )
    .limit(1);
  const [row] = lock ? await query.for("update") : await query;
  if (!row) throw new NotFound("Approval policy", ref);
  return row;
}

export function getPolicy(tx: Tx, actor: Actor, ref: string): Promise<ApprovalPolicy> {
  return findPolicy(tx, actor, ref, false);
}

export async function listPolicies(
  tx: Tx,
  actor: Actor,
  query: { includeDisabled: boolean },
): Promise<ApprovalPolicy[]> {
  const filters = [eq(approvalPolicies.workspaceId, actor.workspaceId), eq(approvalPolicies.isCurrent, true)];
  if (!query.includeDisabled) filters.push(eq(approvalPolicies.enabled, true));
  const found = await tx
    .select(policyColumns)
    .from(approvalPolicies)
    .where(and(...filters))
    // The order policies are matched in: by when each policy (its first version) was created.
    .orderBy(
      sql`(select min(v.created_at) from approval_policies v
           where v.workspace_id = ${approvalPolicies.workspaceId} and v.policy_key = ${approvalPolicies.policyKey})`,
      asc(approvalPolicies.policyKey),
    )
    .limit(500);
  return found;
}

/** Every version of the policy `ref` addresses (by its policyKey or one version's id), newest first. */
export async function listPolicyVersions(tx: Tx, actor: Actor, ref: string): Promise<ApprovalPolicy[]> {
  const found = await tx
    .select(policyColumns)
    .from(approvalPolicies)
    .where(
      and(
        eq(approvalPolicies.workspaceId, actor.workspaceId),
        or(
          eq(approvalPolicies.policyKey, ref),
          eq(
            approvalPolicies.policyKey,
            sql`(select v.policy_key from approval_policies v
                 where v.workspace_id = ${actor.workspaceId}::uuid and v.id = ${ref}::uuid)`,
          ),
        ),
      ),
    )
    .orderBy(desc(approvalPolicies.version));
  if (found.length === 0) throw new NotFound("Approval policy", ref);
  return found;
}

/**
 * A new version with the changes applied, from the current version (addressed by the policyKey or
 * its id; an older version's id is a 409, as for workflow templates). The current row is locked
 * first, so two concurrent edits are serialised (the second builds on the first's version).
 */
export async function updatePolicy(
  tx: Tx,
  actor: Actor,
  ref: string,
  raw: z.input<typeof UpdatePolicyInput>,
): Promise<ApprovalPolicy> {
  const changes = parseInput(UpdatePolicyInput, raw);
  const current = await findPolicy(tx, actor, ref, true);
  if (!current.isCurrent) {
    throw new Conflict("Only the current version of a policy can be edited", {
      policyKey: current.policyKey,
      version: current.version,
    });
  }
  const next: PolicySettings = {
    name: changes.name ?? current.name,
    description: changes.description === undefined ? current.description : changes.description,
    itemType: changes.itemType === undefined ? current.itemType : changes.itemType,
    conditions: (changes.conditions as PolicyCondition[] | undefined) ?? current.conditions,
    gate: changes.gate ?? current.gate,
    requiredApprovals: changes.requiredApprovals ?? current.requiredApprovals,
    approverRoles: changes.approverRoles ?? current.approverRoles,
    approverUserIds: changes.approverUserIds ?? current.approverUserIds,
    timeoutSeconds: changes.timeoutSeconds === undefined ? current.timeoutSeconds : changes.timeoutSeconds,
    timeoutAction: changes.timeoutAction ?? current.timeoutAction,
    escalateToRoles: changes.escalateToRoles ?? current.escalateToRoles,
    escalationTimeoutSeconds:
      changes.escalationTimeoutSeconds === undefined
        ? current.escalationTimeoutSeconds
        : changes.escalationTimeoutSeconds,
    onReject: changes.onReject ?? current.onReject,
    enabled: changes.enabled ?? current.enabled,
  };
  await assertValidPolicy(tx, actor, next);
  await tx.update(approvalPolicies).set({ isCurrent: false }).where(eq(approvalPolicies.id, current.id));
  const row = await insertVersion(tx, actor, current.policyKey, current.version + 1, next);
  await audit(tx, actorRef(actor), {
    action: "approval_policy.updated",
    entity: { type: "approval_policy", id: row.id },
    before: { id: current.id, version: current.version },
    after: { id: row.id, version: row.version, changes: Object.keys(changes) },
  });
  return row;
}
