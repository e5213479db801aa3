/**
 * The memory context's response shapes, derived from its tables (functions/shared/schemas.ts),
 * and the columns each read selects.
 */
import { z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import { conversations, feedback, memories, memoryAccess, processingJobs, rawEvents } from "../../db/schema";
import { createSelectSchema, Json, JsonObject, selection } from "../shared/schemas";
import { StorableJsonObject } from "../shared/validation";

/** Also the input of memories (create, batch, update, search filters): the storable-JSON rule applies. */
export const Metadata = StorableJsonObject().openapi({ description: "Free-form JSON object" });

/** A memory's access statistics (table memory_access; a memory never returned by a search has no row). */
const MemoryAccess = createSelectSchema(memoryAccess, {
  accessCount: (schema) => schema.openapi({ description: "How many searches have returned the memory" }),
  lastAccessedAt: (schema) => schema.openapi({ description: "When a search last returned it (null: never)" }),
}).pick({ accessCount: true, lastAccessedAt: true });

export const Memory = createSelectSchema(memories, {
  contentHash: (schema) =>
    schema.openapi({
      description:
        "SHA-256 (hex) of the normalised content; unique per workspace, subject and project among open facts",
    }),
  metadata: Metadata,
  importance: z.number(),
})
  .omit({ workspaceId: true, embedding: true, searchVector: true })
  .extend({
    ...MemoryAccess.shape,
    embedding: z.array(z.number()).optional().openapi({ description: "Only with `?include=embedding`" }),
  })
  .openapi("Memory");
export type Memory = z.output<typeof Memory>;
/** Columns of `memories` every response carries; the embedding (kilobytes) only on request. */
export const memoryColumns = selection(memories, Memory.omit({ embedding: true }));
/**
 * The access statistics of a response, from `memory_access` left-joined on the memory's id
 * (`memoryReads` in memories.ts does the join).
 */
export const memoryAccessColumns = {
  accessCount: sql<number>`coalesce(${memoryAccess.accessCount}, 0)`.mapWith(Number),
  lastAccessedAt: memoryAccess.lastAccessedAt,
};

/** `importance` is a float4 column: 0.7 comes back as 0.699999988; answer what was stored, to 6 places. */
export const roundImportance = (value: number) => Math.round(value * 1e6) / 1e6;

type MemoryRow = Omit<Memory, "embedding"> & { embedding?: number[] | null };

export function toMemory(row: MemoryRow): Memory {
  const { embedding, ...rest } = row;
  return {
    ...(rest as Omit<Memory, "embedding">),
    importance: roundImportance(Number(row.importance)),
    ...(embedding ? { embedding } : {}),
  };
}

type MergedField = (typeof MERGED_FIELDS)[number];
/** What a deduplicated store merges into the stored memory (merge.ts). */
export const MERGED_FIELDS = ["metadata", "importance", "sourceType", "expiresAt", "pinnedTier"] as const;

const Change = z.object({ before: z.unknown(), after: z.unknown() });
export const MergedChanges = z
  .object(
    Object.fromEntries(MERGED_FIELDS.map((field) => [field, Change.optional()])) as Record<
      MergedField,
      z.ZodOptional<typeof Change>
    >,
  )
  .openapi("MemoryMergedChanges", {
    description:
      "Only on a deduplicated store: each field the request changed on the stored memory, before and after ({} when none)",
  });

/** The stored memory with whether this request created it or found it already there. */
export const StoredMemory = Memory.extend({
  deduplicated: z.boolean().openapi({
    description: "true when the content was already stored: nothing was created, the new values were merged",
  }),
  merged: MergedChanges.optional(),
}).openapi("StoredMemory");
export type StoredMemory = z.output<typeof StoredMemory>;

export const Event = createSelectSchema(rawEvents, { payload: Json, metadata: JsonObject })
  .omit({ workspaceId: true, updatedAt: true })
  .openapi("Event");
export const eventColumns = selection(rawEvents, Event);

const EventJob = createSelectSchema(processingJobs).pick({
  id: true,
  status: true,
  attempts: true,
  maxAttempts: true,
  error: true,
  availableAt: true,
  completedAt: true,
  durationMs: true,
});
export const eventJobColumns = selection(processingJobs, EventJob);

export const EventDetail = Event.extend({
  job: EventJob.nullable(),
  memoryIds: z.array(z.string().uuid()).openapi({ description: "Memories made from the event, in chunk order" }),
}).openapi("EventDetail");

export const Conversation = createSelectSchema(conversations, { actionsTaken: Json })
  .omit({ workspaceId: true, updatedAt: true })
  .openapi("Conversation");
export const conversationColumns = selection(conversations, Conversation);

/** Feedback as the API names it (`text` is the `feedback_text` column). */
const FeedbackRow = createSelectSchema(feedback).omit({ workspaceId: true, updatedAt: true });
export const Feedback = FeedbackRow.omit({ feedbackText: true })
  .extend({ text: FeedbackRow.shape.feedbackText })
  .openapi("Feedback");
export const feedbackColumns = { ...selection(feedback, Feedback), text: feedback.feedbackText };

export const RecordedConversation = Conversation.extend({
  memories: z.array(z.object({ memoryId: z.string().uuid(), relevance: z.number().nullable() })),
}).openapi("RecordedConversation");

export const ConversationDetail = Conversation.extend({
  memories: z.array(
    z.object({ memoryId: z.string().uuid(), relevance: z.number().nullable(), content: z.string(), type: z.string() }),
  ),
  feedback: z.array(Feedback),
}).openapi("ConversationDetail");
