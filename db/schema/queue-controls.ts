/**
 * Queue controls (functions/work-orders/controls/): limits per concurrency key, key prefix or
 * item type; the sliding windows that rate limits keep; paused item types; schedules that
 * create orders from a template.
 */
import { sql } from "drizzle-orm";
import {
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { createdAt, id, timestamps } from "./columns";
import { priority } from "./enums";
import { users, workspaceId } from "./tenancy";
import { workflowTemplates, workOrders } from "./work";

/**
 * A limit on claiming: at most `maxInFlight` items PROCESSING and/or at most `rateLimit` claims
 * per `rateIntervalMs`. KEY matches one concurrency key; KEY_PREFIX every key that starts with
 * `target`, each key counted on its own (an exact KEY limit wins, then the longest prefix);
 * TYPE all items of a type together.
 */
export const queueLimits = pgTable(
  "queue_limits",
  {
    id: id(),
    workspaceId: workspaceId(),
    kind: text("kind").$type<"KEY" | "KEY_PREFIX" | "TYPE">().notNull(),
    target: text("target").notNull(),
    maxInFlight: integer("max_in_flight"),
    rateLimit: integer("rate_limit"),
    rateIntervalMs: integer("rate_interval_ms"),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex("queue_limits_target_key").on(t.workspaceId, t.kind, t.target),
    check("queue_limits_kind_check", sql`${t.kind} IN ('KEY', 'KEY_PREFIX', 'TYPE')`),
    check(
      "queue_limits_values_check",
      sql`(${t.maxInFlight} IS NULL OR ${t.maxInFlight} >= 1)
          AND ((${t.rateLimit} IS NULL AND ${t.rateIntervalMs} IS NULL) OR (${t.rateLimit} >= 1 AND ${t.rateIntervalMs} >= 1))
          AND (${t.maxInFlight} IS NOT NULL OR ${t.rateLimit} IS NOT NULL)`,
    ),
  ],
);

/**
 * A rate limit's sliding window for one group (a concurrency key, or the limit's type): the
 * times of the claims within the last interval, oldest first (at most `rateLimit` of them).
 */
export const queueRateWindows = pgTable(
  "queue_rate_windows",
  {
    workspaceId: workspaceId(),
    limitId: uuid("limit_id")
      .notNull()
      .references(() => queueLimits.id, { onDelete: "cascade" }),
    groupKey: text("group_key").notNull(),
    recent: timestamp("recent", { withTimezone: true }).array().notNull().default(sql`'{}'`),
  },
  (t) => [
    primaryKey({ columns: [t.limitId, t.groupKey] }),
    index("queue_rate_windows_workspace_idx").on(t.workspaceId),
  ],
);

/** Item types whose claiming is paused in a workspace (orders have their own `paused_at`). */
export const queuePauses = pgTable(
  "queue_pauses",
  {
    workspaceId: workspaceId(),
    itemType: text("item_type").notNull(),
    pausedBy: uuid("paused_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.itemType] })],
);

/** A cron schedule that creates an order from a template each period (fired by the sweeper). */
export const workSchedules = pgTable(
  "work_schedules",
  {
    id: id(),
    workspaceId: workspaceId(),
    name: text("name").notNull(),
    cron: text("cron").notNull(),
    templateId: uuid("template_id")
      .notNull()
      .references(() => workflowTemplates.id, { onDelete: "cascade" }),
    title: text("title").notNull(),
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull().default({}),
    priority: priority("priority").notNull().default("MEDIUM"),
    pausedAt: timestamp("paused_at", { withTimezone: true }),
    nextRunAt: timestamp("next_run_at", { withTimezone: true }).notNull(),
    lastRunAt: timestamp("last_run_at", { withTimezone: true }),
    lastOrderId: uuid("last_order_id").references(() => workOrders.id, { onDelete: "set null" }),
    /** Why the last run created no order (the template no longer fits, say); null after a run that did. */
    lastError: text("last_error"),
    createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex("work_schedules_name_key").on(t.workspaceId, t.name),
    index("work_schedules_due_idx").on(t.nextRunAt).where(sql`${t.pausedAt} IS NULL`),
  ],
);
