import { sql } from "drizzle-orm";
import {
  type AnyPgColumn,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  real,
  smallint,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { anyVector, id, timestamps, tsvector } from "./columns";
import { memoryTier, memoryType, processingStatus } from "./enums";
import { connectors, projects } from "./platform";
import { workspaceId } from "./tenancy";

/** Raw events as received (event sourcing); processed into memories by `processEvents`. */
export const rawEvents = pgTable(
  "raw_events",
  {
    id: id(),
    workspaceId: workspaceId(),
    source: text("source").notNull(),
    eventType: text("event_type").notNull(),
    externalId: text("external_id").notNull(),
    connectorId: uuid("connector_id").references(() => connectors.id, { onDelete: "set null" }),
    payload: jsonb("payload").notNull(),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
    ingestedAt: timestamp("ingested_at", { withTimezone: true }).notNull().defaultNow(),
    processedAt: timestamp("processed_at", { withTimezone: true }),
    processingStatus: processingStatus("processing_status").notNull().default("PENDING"),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex("raw_events_source_external_key").on(t.workspaceId, t.source, t.externalId),
    index("raw_events_status_idx").on(t.workspaceId, t.processingStatus, t.ingestedAt.desc()),
    index("raw_events_type_idx").on(t.workspaceId, t.source, t.eventType),
  ],
);

/**
 * The agents' memory: the reference designs' mem_docs and knowledge_chunks as one table.
 * `embedding` has no fixed size; `embedding_dims` names its size and selects the partial
 * HNSW index built for it (custom migration). `search_vector` is generated for full-text search.
 *
 * Reads never rewrite a memory row: access statistics live in `memory_access`, and `tier` is in
 * no index, so a tier move is a HOT update (the table keeps 20% of each page free for them,
 * migration 0009). A column added to an index here makes every update of it a full rewrite.
 */
export const memories = pgTable(
  "memories",
  {
    id: id(),
    workspaceId: workspaceId(),
    content: text("content").notNull(),
    contentHash: text("content_hash").notNull(),
    type: memoryType("type").notNull().default("KNOWLEDGE"),
    sourceType: text("source_type"),
    sourceEventId: uuid("source_event_id").references(() => rawEvents.id, { onDelete: "set null" }),
    chunkIndex: integer("chunk_index"),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
    importance: real("importance").notNull().default(0.5),
    tier: memoryTier("tier").notNull().default("hot"),
    /** When set, the tier is fixed by a person and tiering never moves it. */
    pinnedTier: memoryTier("pinned_tier"),
    embedding: anyVector("embedding"),
    embeddingDims: smallint("embedding_dims"),
    embeddingModel: text("embedding_model"),
    /** When the fact became true (defaults to when it was recorded, `created_at`). */
    validFrom: timestamp("valid_from", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    /** When it stopped being true: set by a supersession, or by the client; null while it holds. */
    validTo: timestamp("valid_to", { withTimezone: true, precision: 3 }),
    /** The memory this one replaced (its validity was closed in the same transaction). */
    supersedesId: uuid("supersedes_id").references((): AnyPgColumn => memories.id, { onDelete: "set null" }),
    /** The subject, strings the client owns: whose memory it is. */
    userId: text("user_id"),
    agentId: text("agent_id"),
    sessionId: text("session_id"),
    projectId: uuid("project_id").references(() => projects.id, { onDelete: "set null" }),
    /** After this the memory is never returned; the tiering job purges it. */
    expiresAt: timestamp("expires_at", { withTimezone: true, precision: 3 }),
    /**
     * The work item whose result this memory was written from. Its foreign key (on delete set
     * null) is in the custom migration: work.ts imports this file, so a reference here would cycle.
     */
    sourceItemId: uuid("source_item_id"),
    searchVector: tsvector("search_vector").generatedAlwaysAs(sql`to_tsvector('english', content)`),
    ...timestamps(),
  },
  (t) => [
    // The dedup key (workspace, subject, project, content hash among open facts) is a partial
    // NULLS NOT DISTINCT unique index, written in the custom migration.
    index("memories_listing_idx").on(t.workspaceId, t.createdAt.desc(), t.id.desc()),
    index("memories_source_event_idx").on(t.sourceEventId),
    index("memories_search_vector_idx").using("gin", t.searchVector),
    index("memories_metadata_idx").using("gin", t.metadata.op("jsonb_path_ops")),
    index("memories_user_idx").on(t.workspaceId, t.userId).where(sql`${t.userId} IS NOT NULL`),
    index("memories_agent_idx").on(t.workspaceId, t.agentId).where(sql`${t.agentId} IS NOT NULL`),
    index("memories_session_idx").on(t.workspaceId, t.sessionId).where(sql`${t.sessionId} IS NOT NULL`),
    index("memories_project_idx").on(t.workspaceId, t.projectId).where(sql`${t.projectId} IS NOT NULL`),
    index("memories_expiry_idx").on(t.expiresAt).where(sql`${t.expiresAt} IS NOT NULL`),
    index("memories_source_item_idx").on(t.sourceItemId).where(sql`${t.sourceItemId} IS NOT NULL`),
    // One successor per memory: a version chain is a line, and two concurrent supersessions of
    // the same memory cannot both win.
    uniqueIndex("memories_supersedes_key").on(t.supersedesId),
    check("memories_validity_check", sql`${t.validTo} IS NULL OR ${t.validTo} > ${t.validFrom}`),
    check("memories_importance_check", sql`${t.importance} >= 0 AND ${t.importance} <= 1`),
    check(
      "memories_embedding_dims_check",
      sql`(${t.embedding} IS NULL AND ${t.embeddingDims} IS NULL) OR (${t.embeddingDims} IN (768, 1536) AND vector_dims(${t.embedding}) = ${t.embeddingDims})`,
    ),
  ],
);

/**
 * How often and when each memory was last returned by a search: a narrow table of its own, so
 * that a read updates a ~60-byte row here (a HOT update: only the primary key is indexed)
 * instead of rewriting the memory row and inserting into every index of `memories`, the HNSW
 * graph included. A memory never returned has no row (0 accesses, never accessed).
 */
export const memoryAccess = pgTable(
  "memory_access",
  {
    memoryId: uuid("memory_id")
      .primaryKey()
      .references(() => memories.id, { onDelete: "cascade" }),
    workspaceId: workspaceId(),
    accessCount: integer("access_count").notNull().default(0),
    lastAccessedAt: timestamp("last_accessed_at", { withTimezone: true }),
  },
  (t) => [check("memory_access_count_check", sql`${t.accessCount} >= 0`)],
);

export const conversations = pgTable(
  "conversations",
  {
    id: id(),
    workspaceId: workspaceId(),
    userRef: text("user_ref"),
    channel: text("channel").notNull().default("api"),
    query: text("query").notNull(),
    response: text("response"),
    actionsTaken: jsonb("actions_taken").notNull().default([]),
    modelUsed: text("model_used"),
    tokensUsed: integer("tokens_used"),
    latencyMs: integer("latency_ms"),
    ...timestamps(),
  },
  (t) => [
    index("conversations_listing_idx").on(t.workspaceId, t.createdAt.desc(), t.id.desc()),
    index("conversations_user_idx").on(t.workspaceId, t.userRef, t.createdAt.desc()),
    check("conversations_usage_check", sql`coalesce(${t.tokensUsed}, 0) >= 0 AND coalesce(${t.latencyMs}, 0) >= 0`),
  ],
);

export const conversationMemories = pgTable(
  "conversation_memories",
  {
    workspaceId: workspaceId(),
    conversationId: uuid("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    memoryId: uuid("memory_id")
      .notNull()
      .references(() => memories.id, { onDelete: "cascade" }),
    relevanceScore: real("relevance_score"),
    ...timestamps(),
  },
  (t) => [
    primaryKey({ columns: [t.conversationId, t.memoryId] }),
    index("conversation_memories_memory_idx").on(t.memoryId),
    index("conversation_memories_workspace_idx").on(t.workspaceId),
    check(
      "conversation_memories_relevance_check",
      sql`${t.relevanceScore} IS NULL OR (${t.relevanceScore} >= 0 AND ${t.relevanceScore} <= 1)`,
    ),
  ],
);

export const feedback = pgTable(
  "feedback",
  {
    id: id(),
    workspaceId: workspaceId(),
    conversationId: uuid("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    rating: smallint("rating").notNull(),
    feedbackText: text("feedback_text"),
    createdBy: uuid("created_by"),
    ...timestamps(),
  },
  (t) => [
    index("feedback_conversation_idx").on(t.conversationId, t.createdAt),
    index("feedback_workspace_idx").on(t.workspaceId, t.rating, t.createdAt.desc()),
    check("feedback_rating_check", sql`${t.rating} BETWEEN 1 AND 5`),
  ],
);
