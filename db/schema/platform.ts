import { sql } from "drizzle-orm";
import {
  boolean,
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
import { id, timestamps } from "./columns";
import { connectorStatus, connectorType } from "./enums";
import { workspaceId } from "./tenancy";

/**
 * External systems. `signing_secret` signs outgoing webhooks and verifies incoming
 * events (HMAC-SHA256); it must be readable to do that, so it is stored as is and
 * never returned by the API after creation.
 */
export const connectors = pgTable(
  "connectors",
  {
    id: id(),
    workspaceId: workspaceId(),
    name: text("name").notNull(),
    type: connectorType("type").notNull(),
    status: connectorStatus("status").notNull().default("ACTIVE"),
    config: jsonb("config").$type<Record<string, unknown>>().notNull().default({}),
    webhookUrl: text("webhook_url"),
    signingSecret: text("signing_secret").notNull(),
    lastHealthCheckAt: timestamp("last_health_check_at", { withTimezone: true }),
    lastError: text("last_error"),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex("connectors_name_key").on(t.workspaceId, t.name),
    index("connectors_type_idx").on(t.workspaceId, t.type, t.status),
  ],
);

export const tools = pgTable(
  "tools",
  {
    id: id(),
    workspaceId: workspaceId(),
    connectorId: uuid("connector_id").references(() => connectors.id, { onDelete: "set null" }),
    name: text("name").notNull(),
    description: text("description"),
    inputSchema: jsonb("input_schema").$type<Record<string, unknown>>().notNull().default({}),
    outputSchema: jsonb("output_schema").$type<Record<string, unknown>>(),
    enabled: boolean("enabled").notNull().default(true),
    ...timestamps(),
  },
  (t) => [uniqueIndex("tools_name_key").on(t.workspaceId, t.name), index("tools_connector_idx").on(t.connectorId)],
);

export const capabilities = pgTable(
  "capabilities",
  {
    id: id(),
    workspaceId: workspaceId(),
    name: text("name").notNull(),
    description: text("description"),
    scope: text("scope"),
    ...timestamps(),
  },
  (t) => [uniqueIndex("capabilities_name_key").on(t.workspaceId, t.name)],
);

export const toolCapabilities = pgTable(
  "tool_capabilities",
  {
    workspaceId: workspaceId(),
    toolId: uuid("tool_id")
      .notNull()
      .references(() => tools.id, { onDelete: "cascade" }),
    capabilityId: uuid("capability_id")
      .notNull()
      .references(() => capabilities.id, { onDelete: "cascade" }),
    ...timestamps(),
  },
  (t) => [
    primaryKey({ columns: [t.toolId, t.capabilityId] }),
    index("tool_capabilities_capability_idx").on(t.capabilityId),
    index("tool_capabilities_workspace_idx").on(t.workspaceId),
  ],
);

/** JSON Schemas that validate work-item payloads of one type; a new version per change. */
export const payloadSchemas = pgTable(
  "schemas",
  {
    id: id(),
    workspaceId: workspaceId(),
    itemType: text("item_type").notNull(),
    version: integer("version").notNull().default(1),
    description: text("description"),
    jsonSchema: jsonb("json_schema").$type<Record<string, unknown>>().notNull(),
    isActive: boolean("is_active").notNull().default(true),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex("schemas_type_version_key").on(t.workspaceId, t.itemType, t.version),
    index("schemas_active_idx").on(t.workspaceId, t.itemType).where(sql`${t.isActive}`),
  ],
);

/** A project of the workspace: memories and work orders may belong to one. */
export const projects = pgTable(
  "projects",
  {
    id: id(),
    workspaceId: workspaceId(),
    name: text("name").notNull(),
    description: text("description"),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex("projects_name_key").on(t.workspaceId, t.name),
    index("projects_listing_idx").on(t.workspaceId, t.createdAt.desc(), t.id.desc()),
  ],
);
