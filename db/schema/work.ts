import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgSequence,
  pgTable,
  primaryKey,
  real,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { id, timestamps } from "./columns";
import { attemptStatus, deadLetterSource, deadLetterStatus, priority, workItemStatus, workOrderStatus } from "./enums";
import type { ApprovalRequirement, TemplateStep } from "./json-shapes";
import { memories, rawEvents } from "./memory";
import { projects } from "./platform";
import { users, workspaceId } from "./tenancy";

/** Fencing tokens increase across all claims, so a newer claim always has a larger token. */
export const fencingTokens = pgSequence("fencing_tokens", { startWith: 1 });

export const workflowTemplates = pgTable(
  "workflow_templates",
  {
    id: id(),
    workspaceId: workspaceId(),
    name: text("name").notNull(),
    description: text("description"),
    version: integer("version").notNull().default(1),
    steps: jsonb("steps").$type<TemplateStep[]>().notNull(),
    retryBaseMs: integer("retry_base_ms"),
    retryCapMs: integer("retry_cap_ms"),
    isActive: boolean("is_active").notNull().default(true),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex("workflow_templates_name_version_key").on(t.workspaceId, t.name, t.version),
    check("workflow_templates_version_check", sql`${t.version} >= 1`),
  ],
);

export const workOrders = pgTable(
  "work_orders",
  {
    id: id(),
    workspaceId: workspaceId(),
    title: text("title").notNull(),
    description: text("description"),
    status: workOrderStatus("status").notNull().default("PENDING"),
    priority: priority("priority").notNull().default("MEDIUM"),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
    templateId: uuid("template_id").references(() => workflowTemplates.id, { onDelete: "set null" }),
    projectId: uuid("project_id").references(() => projects.id, { onDelete: "set null" }),
    requestedBy: uuid("requested_by").references(() => users.id, { onDelete: "set null" }),
    idempotencyKey: text("idempotency_key"),
    requestHash: text("request_hash"),
    retryBaseMs: integer("retry_base_ms").notNull().default(1000),
    retryCapMs: integer("retry_cap_ms").notNull().default(300000),
    /** Set while claiming the order's items is paused (queue controls); in-flight items finish. */
    pausedAt: timestamp("paused_at", { withTimezone: true }),
    /** What a dependency that failed for good does to its dependants: CANCEL them, or HOLD them queued. */
    onDependencyFailure: text("on_dependency_failure").notNull().default("CANCEL"),
    completedAt: timestamp("completed_at", { withTimezone: true }),
    ...timestamps(),
  },
  (t) => [
    index("work_orders_paused_idx").on(t.workspaceId).where(sql`${t.pausedAt} IS NOT NULL`),
    check("work_orders_dependency_failure_check", sql`${t.onDependencyFailure} IN ('CANCEL', 'HOLD')`),
    uniqueIndex("work_orders_idempotency_key").on(t.workspaceId, t.idempotencyKey),
    index("work_orders_listing_idx").on(t.workspaceId, t.createdAt.desc(), t.id.desc()),
    index("work_orders_status_idx").on(t.workspaceId, t.status, t.createdAt.desc()),
    index("work_orders_template_idx").on(t.templateId),
    index("work_orders_project_idx").on(t.workspaceId, t.projectId).where(sql`${t.projectId} IS NOT NULL`),
    check("work_orders_retry_check", sql`${t.retryBaseMs} > 0 AND ${t.retryCapMs} >= ${t.retryBaseMs}`),
  ],
);

export const workItems = pgTable(
  "work_items",
  {
    id: id(),
    workspaceId: workspaceId(),
    workOrderId: uuid("work_order_id")
      .notNull()
      .references(() => workOrders.id, { onDelete: "cascade" }),
    sequence: integer("sequence").notNull().default(0),
    /**
     * The order of creation across the workspace (an identity, so items made by one statement
     * count up in the order they were given): the claim's last tie-breaker, after priority and
     * creation time, which items created together share.
     */
    createdSeq: bigint("created_seq", { mode: "number" }).generatedAlwaysAsIdentity().notNull(),
    type: text("type").notNull(),
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull().default({}),
    status: workItemStatus("status").notNull().default("QUEUED"),
    /** Copied from the order so the claim index can order by it without a join. */
    priority: priority("priority").notNull().default("MEDIUM"),
    maxAttempts: integer("max_attempts").notNull().default(3),
    /** Attempts made, across redrives: attempt numbers never restart. */
    attemptCount: integer("attempt_count").notNull().default(0),
    /**
     * `attempt_count` at the item's last redrive (0 if never redriven): the retry budget counts
     * only the attempts after it, so a redrive gives `max_attempts` fresh attempts.
     */
    retryBase: integer("retry_base").notNull().default(0),
    /** When the item was last redriven from its dead letter (null if never). */
    redrivenAt: timestamp("redriven_at", { withTimezone: true }),
    availableAt: timestamp("available_at", { withTimezone: true }).notNull().defaultNow(),
    leaseExpiresAt: timestamp("lease_expires_at", { withTimezone: true }),
    lockedBy: text("locked_by"),
    currentAttemptId: uuid("current_attempt_id"),
    fencingToken: bigint("fencing_token", { mode: "bigint" }),
    /** The approval requirement the item runs under: a matching policy, tightened by `requestedApproval`. */
    approval: jsonb("approval").$type<ApprovalRequirement | null>(),
    /** What the item (or its template step) asked for itself; merged again when a redrive re-runs the gates. */
    requestedApproval: jsonb("requested_approval").$type<ApprovalRequirement | null>(),
    result: jsonb("result"),
    lastError: text("last_error"),
    completedAt: timestamp("completed_at", { withTimezone: true }),
    /** The client's name for the item within its order, which `dependsOn` refers to. */
    key: text("key"),
    /** Items of the same order that must be COMPLETED before this one is claimable. */
    dependsOn: uuid("depends_on").array(),
    /** Limits (queue_limits) apply per concurrency key: a customer, a model, a repository. */
    concurrencyKey: text("concurrency_key"),
    /** At most one live (queued, gated or running) item per dedup key in a workspace. */
    dedupKey: text("dedup_key"),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex("work_items_order_key").on(t.workOrderId, t.key).where(sql`${t.key} IS NOT NULL`),
    uniqueIndex("work_items_live_dedup_key")
      .on(t.workspaceId, t.dedupKey)
      .where(sql`${t.dedupKey} IS NOT NULL AND ${t.status} IN ('QUEUED', 'AWAITING_APPROVAL', 'PROCESSING')`),
    // Concurrency limits count a key's running items.
    index("work_items_in_flight_key_idx")
      .on(t.workspaceId, t.concurrencyKey)
      .where(sql`${t.status} = 'PROCESSING' AND ${t.concurrencyKey} IS NOT NULL`),
    // The claim path: queued items of a workspace, highest priority first, then oldest.
    index("work_items_claim_idx")
      .on(t.workspaceId, t.priority.desc(), t.createdAt, t.createdSeq)
      .where(sql`${t.status} = 'QUEUED'`),
    // The lease reaper: in-flight items by lease expiry.
    index("work_items_lease_idx").on(t.leaseExpiresAt).where(sql`${t.status} = 'PROCESSING'`),
    index("work_items_order_idx").on(t.workOrderId, t.sequence),
    index("work_items_status_idx").on(t.workspaceId, t.status, t.createdAt.desc()),
    // "Does this order still have unfinished items?": a completion asks it, so it must not
    // walk the order's finished items.
    index("work_items_open_idx")
      .on(t.workOrderId)
      .where(sql`${t.status} IN ('QUEUED', 'AWAITING_APPROVAL', 'PROCESSING')`),
    check("work_items_attempts_check", sql`${t.maxAttempts} BETWEEN 1 AND 100 AND ${t.attemptCount} >= 0`),
  ],
);

export const attempts = pgTable(
  "attempts",
  {
    id: id(),
    workspaceId: workspaceId(),
    workItemId: uuid("work_item_id")
      .notNull()
      .references(() => workItems.id, { onDelete: "cascade" }),
    attemptNumber: integer("attempt_number").notNull(),
    workerId: text("worker_id").notNull(),
    status: attemptStatus("status").notNull().default("STARTED"),
    fencingToken: bigint("fencing_token", { mode: "bigint" }).notNull(),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull().defaultNow(),
    heartbeatAt: timestamp("heartbeat_at", { withTimezone: true }),
    leaseExpiresAt: timestamp("lease_expires_at", { withTimezone: true }).notNull(),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
    error: text("error"),
    result: jsonb("result"),
    ...timestamps(),
  },
  (t) => [
    index("attempts_item_idx").on(t.workItemId, t.attemptNumber),
    index("attempts_workspace_idx").on(t.workspaceId, t.createdAt.desc()),
  ],
);

/**
 * Failures kept for inspection and redrive; never deleted by the API. Written in the
 * same transaction as the failure that causes them.
 */
export const deadLetters = pgTable(
  "dead_letters",
  {
    id: id(),
    workspaceId: workspaceId(),
    source: deadLetterSource("source").notNull(),
    status: deadLetterStatus("status").notNull().default("OPEN"),
    workItemId: uuid("work_item_id").references(() => workItems.id, { onDelete: "set null" }),
    rawEventId: uuid("raw_event_id").references(() => rawEvents.id, { onDelete: "set null" }),
    reason: text("reason").notNull(),
    payload: jsonb("payload").notNull().default({}),
    /** Every attempt's error, oldest first: `[{ attempt, error, at }]`. */
    errors: jsonb("errors").$type<Array<Record<string, unknown>>>().notNull().default([]),
    autoRetry: boolean("auto_retry").notNull().default(false),
    nextRetryAt: timestamp("next_retry_at", { withTimezone: true }),
    redriveCount: integer("redrive_count").notNull().default(0),
    maxRedrives: integer("max_redrives").notNull().default(3),
    redrivenAt: timestamp("redriven_at", { withTimezone: true }),
    redrivenBy: text("redriven_by"),
    discardedAt: timestamp("discarded_at", { withTimezone: true }),
    discardedBy: text("discarded_by"),
    discardReason: text("discard_reason"),
    ...timestamps(),
  },
  (t) => [
    index("dead_letters_listing_idx").on(t.workspaceId, t.status, t.createdAt.desc()),
    index("dead_letters_item_idx").on(t.workItemId),
    index("dead_letters_event_idx").on(t.rawEventId),
    index("dead_letters_retry_idx").on(t.nextRetryAt).where(sql`${t.autoRetry} AND ${t.status} = 'OPEN'`),
    check("dead_letters_redrive_check", sql`${t.redriveCount} >= 0 AND ${t.maxRedrives} >= 0`),
  ],
);

export const evalResults = pgTable(
  "eval_results",
  {
    id: id(),
    workspaceId: workspaceId(),
    workItemId: uuid("work_item_id")
      .notNull()
      .references(() => workItems.id, { onDelete: "cascade" }),
    evaluator: text("evaluator").notNull(),
    score: real("score").notNull(),
    passed: boolean("passed").notNull(),
    details: jsonb("details").notNull().default({}),
    ...timestamps(),
  },
  (t) => [
    index("eval_results_item_idx").on(t.workItemId, t.createdAt),
    index("eval_results_workspace_idx").on(t.workspaceId, t.createdAt.desc()),
    check("eval_results_score_check", sql`${t.score} >= 0 AND ${t.score} <= 1`),
  ],
);

/**
 * The ledger from work to memory: the memories a work item used (recorded when it completes).
 * The memories an item wrote carry it as their `source_item_id`.
 */
export const workItemMemories = pgTable(
  "work_item_memories",
  {
    workspaceId: workspaceId(),
    workItemId: uuid("work_item_id")
      .notNull()
      .references(() => workItems.id, { onDelete: "cascade" }),
    memoryId: uuid("memory_id")
      .notNull()
      .references(() => memories.id, { onDelete: "cascade" }),
    ...timestamps(),
  },
  (t) => [
    primaryKey({ columns: [t.workItemId, t.memoryId] }),
    index("work_item_memories_memory_idx").on(t.memoryId),
    index("work_item_memories_workspace_idx").on(t.workspaceId),
  ],
);
