import { sql } from "drizzle-orm";
import {
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { id, timestamps } from "./columns";
import {
  actorType,
  approvalDecision,
  approvalGate,
  approvalRejectAction,
  approvalStatus,
  approvalTimeoutAction,
  memberRole,
} from "./enums";
import type { PolicyCondition } from "./json-shapes";
import { users, workspaceId } from "./tenancy";
import { workItems, workOrders } from "./work";

/**
 * Approval policies are versioned: an edit inserts a new version (same `policy_key`) and
 * clears `is_current` on the old one, so requests keep the exact version they were made under.
 */
export const approvalPolicies = pgTable(
  "approval_policies",
  {
    id: id(),
    workspaceId: workspaceId(),
    policyKey: uuid("policy_key").notNull(),
    version: integer("version").notNull().default(1),
    isCurrent: boolean("is_current").notNull().default(true),
    name: text("name").notNull(),
    description: text("description"),
    itemType: text("item_type"),
    conditions: jsonb("conditions").$type<PolicyCondition[]>().notNull().default([]),
    gate: approvalGate("gate").notNull().default("BEFORE"),
    requiredApprovals: integer("required_approvals").notNull().default(1),
    approverRoles: memberRole("approver_roles").array().notNull().default(sql`'{}'`),
    approverUserIds: uuid("approver_user_ids").array().notNull().default(sql`'{}'`),
    timeoutSeconds: integer("timeout_seconds"),
    timeoutAction: approvalTimeoutAction("timeout_action").notNull().default("REJECT"),
    escalateToRoles: memberRole("escalate_to_roles").array().notNull().default(sql`'{}'`),
    escalationTimeoutSeconds: integer("escalation_timeout_seconds"),
    onReject: approvalRejectAction("on_reject").notNull().default("FAIL"),
    enabled: boolean("enabled").notNull().default(true),
    createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex("approval_policies_key_version_key").on(t.workspaceId, t.policyKey, t.version),
    index("approval_policies_current_idx").on(t.workspaceId, t.itemType).where(sql`${t.isCurrent}`),
    check("approval_policies_quorum_check", sql`${t.requiredApprovals} BETWEEN 1 AND 50`),
    check("approval_policies_timeout_check", sql`${t.timeoutSeconds} IS NULL OR ${t.timeoutSeconds} > 0`),
  ],
);

export const approvalRequests = pgTable(
  "approval_requests",
  {
    id: id(),
    workspaceId: workspaceId(),
    workItemId: uuid("work_item_id")
      .notNull()
      .references(() => workItems.id, { onDelete: "cascade" }),
    workOrderId: uuid("work_order_id")
      .notNull()
      .references(() => workOrders.id, { onDelete: "cascade" }),
    policyId: uuid("policy_id").references(() => approvalPolicies.id, { onDelete: "restrict" }),
    policyVersion: integer("policy_version"),
    gate: approvalGate("gate").notNull(),
    status: approvalStatus("status").notNull().default("PENDING"),
    requiredApprovals: integer("required_approvals").notNull().default(1),
    approvalsCount: integer("approvals_count").notNull().default(0),
    approverRoles: memberRole("approver_roles").array().notNull().default(sql`'{}'`),
    approverUserIds: uuid("approver_user_ids").array().notNull().default(sql`'{}'`),
    requestedBy: uuid("requested_by").references(() => users.id, { onDelete: "set null" }),
    /** SHA-256 of the item's payload when the request was opened: an approval covers that payload only. */
    payloadHash: text("payload_hash"),
    deadline: timestamp("deadline", { withTimezone: true }),
    timeoutAction: approvalTimeoutAction("timeout_action").notNull().default("REJECT"),
    escalateToRoles: memberRole("escalate_to_roles").array().notNull().default(sql`'{}'`),
    escalationTimeoutSeconds: integer("escalation_timeout_seconds"),
    escalationLevel: integer("escalation_level").notNull().default(0),
    onReject: approvalRejectAction("on_reject").notNull().default("FAIL"),
    decidedAt: timestamp("decided_at", { withTimezone: true }),
    ...timestamps(),
  },
  (t) => [
    index("approval_requests_inbox_idx").on(t.workspaceId, t.status, t.deadline),
    index("approval_requests_item_idx").on(t.workItemId),
    index("approval_requests_deadline_idx").on(t.deadline).where(sql`${t.status} = 'PENDING'`),
    check("approval_requests_quorum_check", sql`${t.requiredApprovals} >= 1 AND ${t.approvalsCount} >= 0`),
  ],
);

/**
 * The decision log. Rows are immutable: a trigger (custom migration) rejects UPDATE and
 * DELETE for every role, and the application roles are not granted those privileges.
 */
export const approvalEvents = pgTable(
  "approval_events",
  {
    id: id(),
    workspaceId: workspaceId(),
    requestId: uuid("request_id")
      .notNull()
      .references(() => approvalRequests.id, { onDelete: "restrict" }),
    workItemId: uuid("work_item_id").notNull(),
    actorType: actorType("actor_type").notNull(),
    actorUserId: uuid("actor_user_id").references(() => users.id, { onDelete: "restrict" }),
    /** The key the person decided with (null for the system's timeout decisions). */
    apiKeyId: uuid("api_key_id"),
    decision: approvalDecision("decision").notNull(),
    reason: text("reason"),
    policyId: uuid("policy_id"),
    policyVersion: integer("policy_version"),
    ...timestamps(),
  },
  (t) => [
    index("approval_events_request_idx").on(t.requestId, t.createdAt),
    index("approval_events_workspace_idx").on(t.workspaceId, t.createdAt.desc()),
    // One decision per approver per request (system decisions have no user).
    uniqueIndex("approval_events_one_per_approver")
      .on(t.requestId, t.actorUserId)
      .where(sql`${t.actorUserId} IS NOT NULL`),
  ],
);
