import { pgEnum } from "drizzle-orm/pg-core";

// Enum values come from the reference designs, plus what the lifecycle needs
// (CANCELLED, AWAITING_APPROVAL, ...). Postgres orders enum values as declared,
// so `ORDER BY priority DESC` puts URGENT first.
export const memberRole = pgEnum("member_role", ["OWNER", "ADMIN", "MEMBER", "APPROVER", "VIEWER"]);
export const priority = pgEnum("priority", ["LOW", "MEDIUM", "HIGH", "URGENT"]);
export const workOrderStatus = pgEnum("work_order_status", [
  "PENDING",
  "PROCESSING",
  "COMPLETED",
  "FAILED",
  "CANCELLED",
]);
export const workItemStatus = pgEnum("work_item_status", [
  "QUEUED",
  "AWAITING_APPROVAL",
  "PROCESSING",
  "COMPLETED",
  "FAILED",
  "CANCELLED",
]);
export const attemptStatus = pgEnum("attempt_status", ["STARTED", "COMPLETED", "FAILED", "TIMEOUT", "CANCELLED"]);
export const deadLetterSource = pgEnum("dead_letter_source", ["work_item", "event", "queue", "webhook"]);
export const deadLetterStatus = pgEnum("dead_letter_status", ["OPEN", "REDRIVEN", "DISCARDED"]);
export const approvalGate = pgEnum("approval_gate", ["BEFORE", "AFTER"]);
export const approvalDecision = pgEnum("approval_decision", ["APPROVED", "REJECTED", "ESCALATED"]);
export const approvalStatus = pgEnum("approval_status", ["PENDING", "APPROVED", "REJECTED", "CANCELLED"]);
export const approvalTimeoutAction = pgEnum("approval_timeout_action", ["APPROVE", "REJECT", "ESCALATE"]);
export const approvalRejectAction = pgEnum("approval_reject_action", ["FAIL", "REWORK"]);
export const actorType = pgEnum("actor_type", ["USER", "API_KEY", "SYSTEM"]);
export const memoryType = pgEnum("memory_type", ["CONTEXT", "KNOWLEDGE", "TEMPLATE"]);
export const memoryTier = pgEnum("memory_tier", ["hot", "warm", "cold"]);
export const processingStatus = pgEnum("processing_status", ["PENDING", "PROCESSING", "COMPLETED", "FAILED"]);
export const connectorType = pgEnum("connector_type", ["SLACK", "EMAIL", "API", "DATABASE"]);
export const connectorStatus = pgEnum("connector_status", ["ACTIVE", "INACTIVE", "ERROR"]);
