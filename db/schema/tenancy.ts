import { sql } from "drizzle-orm";
import { boolean, index, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { id, timestamps } from "./columns";
import { actorType, memberRole } from "./enums";

/**
 * People across workspaces. A request sees a user row only if the user shares its workspace
 * (row-level security, migration 0006): what one workspace knows of a person (their display
 * name) lives on its membership, never here.
 */
export const users = pgTable("users", {
  id: id(),
  email: text("email").notNull().unique(),
  ...timestamps(),
});

export const workspaces = pgTable("workspaces", {
  id: id(),
  name: text("name").notNull(),
  settings: jsonb("settings").$type<Record<string, unknown>>().notNull().default({}),
  ...timestamps(),
});

/**
 * Every tenant table's key to its workspace; deleting a workspace deletes its data. It lives
 * here, not in columns.ts, so that columns.ts imports no table: a cycle between the two broke
 * whenever another schema file was evaluated first.
 */
export const workspaceId = () =>
  uuid("workspace_id")
    .notNull()
    .references(() => workspaces.id, { onDelete: "cascade" });

export const workspaceMembers = pgTable(
  "workspace_members",
  {
    workspaceId: workspaceId(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: memberRole("role").notNull().default("MEMBER"),
    /** The person's name as this workspace knows them (given when they were invited). */
    displayName: text("display_name"),
    /**
     * Whether this membership belongs to the person's own identity: true for the first owner, a
     * workspace its member created, and an invitation redeemed by someone new to Cairn or by
     * someone who proved they are that person (with one of their keys). A key lists the person's
     * other workspaces only from a verified membership, and only the verified ones.
     */
    identityVerified: boolean("identity_verified").notNull().default(false),
    ...timestamps(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.userId] }), index("workspace_members_user_idx").on(t.userId)],
);

/**
 * A member's single-use invitation: its secret (only the SHA-256 is stored) is shown once to the
 * admin who invited, who gives it to the person; redeeming it creates the person's own first key.
 */
export const invitations = pgTable(
  "invitations",
  {
    id: id(),
    workspaceId: workspaceId(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    secretHash: text("secret_hash").notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    redeemedAt: timestamp("redeemed_at", { withTimezone: true }),
    redeemedKeyId: uuid("redeemed_key_id"),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
    createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex("invitations_secret_hash_key").on(t.secretHash),
    index("invitations_member_idx").on(t.workspaceId, t.userId),
  ],
);

/**
 * API keys: only a SHA-256 of the secret is stored; `prefix` is the visible part used to
 * recognise a key in listings. A person's key acts as `user_id`, the person who created it (or
 * redeemed the invitation that made it); a service key (`user_id` null) acts as no one and can
 * never decide an approval.
 */
export const apiKeys = pgTable(
  "api_keys",
  {
    id: id(),
    workspaceId: workspaceId(),
    name: text("name").notNull(),
    prefix: text("prefix").notNull(),
    keyHash: text("key_hash").notNull(),
    scopes: text("scopes").array().notNull(),
    userId: uuid("user_id").references(() => users.id, { onDelete: "cascade" }),
    createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true }),
    expiresAt: timestamp("expires_at", { withTimezone: true }),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex("api_keys_key_hash_key").on(t.keyHash),
    uniqueIndex("api_keys_prefix_key").on(t.prefix),
    index("api_keys_workspace_idx").on(t.workspaceId, t.createdAt),
  ],
);

/** Every state change, written in the same transaction as the change. */
export const activityLog = pgTable(
  "activity_log",
  {
    id: id(),
    workspaceId: workspaceId(),
    actorType: actorType("actor_type").notNull(),
    actorId: text("actor_id"),
    action: text("action").notNull(),
    entityType: text("entity_type").notNull(),
    entityId: uuid("entity_id").notNull(),
    before: jsonb("before"),
    after: jsonb("after"),
    at: timestamp("at", { withTimezone: true }).notNull().default(sql`now()`),
    ...timestamps(),
  },
  (t) => [
    index("activity_log_workspace_at_idx").on(t.workspaceId, t.at.desc()),
    index("activity_log_entity_idx").on(t.workspaceId, t.entityType, t.entityId),
  ],
);
