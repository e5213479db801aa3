/**
 * Conversations: what an agent was asked, what it answered, which memories it used (with their
 * relevance) and what it did — and the feedback people give on it. The record that lets a
 * team see which memories help.
 */

import { z } from "@hono/zod-openapi";
import { and, asc, desc, eq, inArray, type SQL, sql } from "drizzle-orm";
import { one, type Tx } from "../../db/client";
import { conversationMemories, conversations, feedback, memories } from "../../db/schema";
import { actorRef } from "../shared/actor";
import { audit } from "../shared/audit";
import { Invalid, NotFound } from "../shared/errors";
import { after, PageQuery, page } from "../shared/pagination";
import { parseInput, StorableJson, StorableString } from "../shared/validation";
import { notExpired } from "./memory-model";
import { conversationColumns, feedbackColumns } from "./schemas";

type ConversationActor = { workspaceId: string; userId?: string | null };

const MAX_TEXT = 100_000;

export const UsedMemory = z
  .strictObject({
    memoryId: z.string().uuid(),
    relevance: z.number().min(0).max(1).optional().openapi({ description: "How relevant the memory was, 0..1" }),
  })
  .openapi("UsedMemory");

export const RecordConversationInput = z
  .strictObject({
    userRef: StorableString()
      .trim()
      .min(1)
      .max(200)
      .optional()
      .openapi({ description: "The end user's id in your system" }),
    channel: StorableString().trim().min(1).max(100).default("api").openapi({ example: "slack" }),
    query: StorableString().min(1).max(MAX_TEXT),
    response: StorableString().max(MAX_TEXT).optional(),
    memories: z
      .array(UsedMemory)
      .max(200)
      .default([])
      .openapi({ description: "Memories the agent used; each must exist in the workspace, at most once" }),
    actionsTaken: StorableJson(z.array(z.unknown()).max(200)).default([]),
    modelUsed: StorableString().trim().min(1).max(200).optional(),
    tokensUsed: z.number().int().min(0).max(2_147_483_647).optional(),
    latencyMs: z.number().int().min(0).max(2_147_483_647).optional(),
  })
  .openapi("RecordConversationInput");
export type RecordConversationInput = z.infer<typeof RecordConversationInput>;

export const ListConversationsQuery = PageQuery.extend({
  userRef: StorableString().max(200).optional(),
  channel: StorableString().max(100).optional(),
}).openapi("ListConversationsQuery");

export const RecordFeedbackInput = z
  .strictObject({
    rating: z.number().int().min(1).max(5),
    text: StorableString().trim().min(1).max(10_000).optional(),
  })
  .openapi("RecordFeedbackInput");

/** Records a conversation and the memories it used, in one transaction. */
export async function recordConversation(
  tx: Tx,
  actor: ConversationActor,
  raw: z.input<typeof RecordConversationInput>,
) {
  const input = parseInput(RecordConversationInput, raw);
  const memoryIds = input.memories.map((used) => used.memoryId);
  const repeated = memoryIds.filter((id, index) => memoryIds.indexOf(id) !== index);
  if (repeated.length > 0) throw new Invalid("Each memory may be listed once", { repeated: [...new Set(repeated)] });
  if (memoryIds.length > 0) {
    const found = await tx
      .select({ id: memories.id })
      .from(memories)
      .where(and(eq(memories.workspaceId, actor.workspaceId), inArray(memories.id, memoryIds), notExpired));
    const known = new Set(found.map((row) => row.id));
    const missing = memoryIds.filter((id) => !known.has(id));
    if (missing.length > 0) throw new Invalid("Some memories do not exist in this workspace", { missing });
  }

  const conversation = one(
    await tx
      .insert(conversations)
      .values({
        workspaceId: actor.workspaceId,
        userRef: input.userRef ?? null,
        channel: input.channel,
        query: input.query,
        response: input.response ?? null,
        actionsTaken: input.actionsTaken,
        modelUsed: input.modelUsed ?? null,
        tokensUsed: input.tokensUsed ?? null,
        latencyMs: input.latencyMs ?? null,
      })
      .returning(conversationColumns),
  );
  if (input.memories.length > 0) {
    await tx.insert(conversationMemories).values(
      input.memories.map((used) => ({
        workspaceId: actor.workspaceId,
        conversationId: conversation.id,
        memoryId: used.memoryId,
        relevanceScore: used.relevance ?? null,
      })),
    );
  }
  await audit(tx, actorRef(actor), {
    action: "conversation.recorded",
    entity: { type: "conversation", id: conversation.id },
    after: { channel: input.channel, userRef: input.userRef ?? null, memories: memoryIds.length },
  });
  return {
    ...conversation,
    memories: input.memories.map((used) => ({ memoryId: used.memoryId, relevance: used.relevance ?? null })),
  };
}

/** Newest first, optionally one end user's or one channel's; keyset-paginated. */
export async function listConversations(tx: Tx, actor: ConversationActor, raw: z.input<typeof ListConversationsQuery>) {
  const query = parseInput(ListConversationsQuery, raw);
  const conditions: Array<SQL | undefined> = [
    eq(conversations.workspaceId, actor.workspaceId),
    query.userRef ? eq(conversations.userRef, query.userRef) : undefined,
    query.channel ? eq(conversations.channel, query.channel) : undefined,
    after(conversations.createdAt, conversations.id, query.cursor),
  ];
  const found = await tx
    .select(conversationColumns)
    .from(conversations)
    .where(and(...conditions))
    .orderBy(desc(conversations.createdAt), desc(conversations.id))
    .limit(query.limit + 1);
  return page(found, query.limit);
}

async function findConversation(tx: Tx, actor: ConversationActor, id: string) {
  const [conversation] = await tx
    .select(conversationColumns)
    .from(conversations)
    .where(and(eq(conversations.workspaceId, actor.workspaceId), eq(conversations.id, id)));
  if (!conversation) throw new NotFound("Conversation", id);
  return conversation;
}

/** A conversation with the memories it used (most relevant first) and its feedback (oldest first). */
export async function getConversation(tx: Tx, actor: ConversationActor, id: string) {
  const conversation = await findConversation(tx, actor, id);
  const used = await tx
    .select({
      memoryId: conversationMemories.memoryId,
      relevance: conversationMemories.relevanceScore,
      content: memories.content,
      type: memories.type,
    })
    .from(conversationMemories)
    .innerJoin(memories, eq(memories.id, conversationMemories.memoryId))
    .where(
      and(
        eq(conversationMemories.workspaceId, actor.workspaceId),
        eq(conversationMemories.conversationId, id),
        notExpired,
      ),
    )
    .orderBy(sql`${conversationMemories.relevanceScore} desc nulls last`, asc(conversationMemories.memoryId));
  const ratings = await tx
    .select(feedbackColumns)
    .from(feedback)
    .where(and(eq(feedback.workspaceId, actor.workspaceId), eq(feedback.conversationId, id)))
    .orderBy(asc(feedback.createdAt), asc(feedback.id));
  return { ...conversation, memories: used, feedback: ratings };
}

/** Records a rating (1..5) and optional text on a conversation of the workspace. */
export async function recordFeedback(
  tx: Tx,
  actor: ConversationActor,
  conversationId: string,
  raw: z.input<typeof RecordFeedbackInput>,
) {
  const input = parseInput(RecordFeedbackInput, raw);
  await findConversation(tx, actor, conversationId);
  const created = one(
    await tx
      .insert(feedback)
      .values({
        workspaceId: actor.workspaceId,
        conversationId,
        rating: input.rating,
        feedbackText: input.text ?? null,
        createdBy: actor.userId ?? null,
      })
      .returning(feedbackColumns),
  );
  await audit(tx, actorRef(actor), {
    action: "feedback.recorded",
    entity: { type: "feedback", id: created.id },
    after: { conversationId, rating: input.rating },
  });
  return created;
}

/** A conversation's feedback, newest first; keyset-paginated. */
export async function listFeedback(
  tx: Tx,
  actor: ConversationActor,
  conversationId: string,
  raw: z.input<typeof PageQuery>,
) {
  const query = parseInput(PageQuery, raw);
  await findConversation(tx, actor, conversationId);
  const found = await tx
    .select(feedbackColumns)
    .from(feedback)
    .where(
      and(
        eq(feedback.workspaceId, actor.workspaceId),
        eq(feedback.conversationId, conversationId),
        after(feedback.createdAt, feedback.id, query.cursor),
      ),
    )
    .orderBy(desc(feedback.createdAt), desc(feedback.id))
    .limit(query.limit + 1);
  return page(found, query.limit);
}
