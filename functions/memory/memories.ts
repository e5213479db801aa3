/**
 * Memories: storing them (one or a batch, deduplicated per workspace by content hash, embedded
 * by the configured provider when the client sends no vector) and managing them (get, list,
 * update, delete). Search lives in search.ts.
 */

import { createHash } from "node:crypto";
import { z } from "@hono/zod-openapi";
import { and, desc, eq, inArray, type SQL } from "drizzle-orm";
import { one, type Tx } from "../../db/client";
import { memories, memoryAccess } from "../../db/schema";
import { vectorText } from "../../db/schema/columns";
import { memoryTier, memoryType } from "../../db/schema/enums";
import { actorRef } from "../shared/actor";
import { audit } from "../shared/audit";
import { BadRequest, Invalid, NotFound, UpstreamFailed } from "../shared/errors";
import { after, PageQuery, page } from "../shared/pagination";
import { parseInput } from "../shared/validation";
import { type EmbeddingProvider, EmbeddingProviderError, SUPPORTED_DIMENSIONS } from "./embeddings";
import { embeddingProvider } from "./provider";
import { type Memory, Metadata, memoryAccessColumns, memoryColumns, type StoredMemory } from "./schemas";

export const MemoryType = z.enum(memoryType.enumValues).openapi("MemoryType");
export const MemoryTier = z.enum(memoryTier.enumValues).openapi("MemoryTier");

/** The most memories one batch request may hold (it is one INSERT statement). */
export const MAX_BATCH = 1000;
/** Longest vector the schema accepts at all; sizes other than SUPPORTED_DIMENSIONS are a 422. */
const MAX_VECTOR_LENGTH = 4096;

/**
 * A vector component. Any JSON number is accepted here — `1e400` parses to Infinity — so that
 * non-finite values reach `assertUsableVector` and are answered with 422, not a schema 400.
 */
const VectorComponent = z
  .custom<number>((value) => typeof value === "number", { message: "Expected a number" })
  .openapi({
    type: "number",
  });
export const Vector = z
  .array(VectorComponent)
  .min(1)
  .max(MAX_VECTOR_LENGTH)
  .openapi({ description: `An embedding of ${SUPPORTED_DIMENSIONS.join(" or ")} finite numbers` });

export const MemoryInput = z
  .strictObject({
    content: z
      .string()
      .max(100_000)
      .refine((value) => value.trim().length > 0, { message: "content must not be blank" }),
    type: MemoryType.optional().openapi({ description: "Defaults to KNOWLEDGE" }),
    sourceType: z.string().trim().min(1).max(100).nullish(),
    metadata: Metadata.optional(),
    importance: z.number().min(0).max(1).optional().openapi({ description: "0..1, defaults to 0.5" }),
    embedding: Vector.optional().openapi({
      description: "A vector from your own model; without it the configured embedding provider embeds `content`",
    }),
    embeddingModel: z.string().trim().min(1).max(200).optional().openapi({
      description: "Names the model of a client-supplied embedding (stored as embedding_model)",
    }),
    pinnedTier: MemoryTier.nullish().openapi({ description: "Fixes the tier; tiering never moves a pinned memory" }),
  })
  .openapi("MemoryInput");
export type MemoryInput = z.input<typeof MemoryInput>;
type ParsedMemoryInput = z.output<typeof MemoryInput>;

export const MemoryBatchInput = z
  .strictObject({ items: z.array(MemoryInput).min(1).max(MAX_BATCH) })
  .openapi("MemoryBatchInput");

/** Who stores memories: a request's actor, or a job acting for a workspace (no user). */
export interface MemoryActor {
  workspaceId: string;
  userId?: string | null;
}

export interface InsertMemoriesOptions {
  provider?: EmbeddingProvider;
  /** The raw event the memories were extracted from (event processing). */
  sourceEventId?: string;
  /** Chunk index of each input, same order as the inputs. */
  chunkIndexes?: number[];
}

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

/** What a memory that no search has returned yet answers (it has no memory_access row). */
export const NEVER_ACCESSED = { accessCount: 0, lastAccessedAt: null } as const;

/** Memories as responses carry them: their columns and their access statistics (memory_access). */
function selectMemories(tx: Tx) {
  return tx
    .select({ ...memoryColumns, ...memoryAccessColumns })
    .from(memories)
    .leftJoin(memoryAccess, eq(memoryAccess.memoryId, memories.id));
}

/**
 * Dedup normalisation: Unicode NFC, whitespace runs (any Unicode white space, line breaks
 * included) collapsed to one space, trimmed. Case is kept — "US" and "us", or two spellings of
 * an identifier in code, are different memories. The stored content is the text as sent.
 */
export function normaliseContent(content: string): string {
  return content.normalize("NFC").replace(/\s+/gu, " ").trim();
}

/** SHA-256 (hex) of the normalised content: the per-workspace dedup key. */
export function contentHash(content: string): string {
  return createHash("sha256").update(normaliseContent(content), "utf8").digest("hex");
}

/** A problem with one vector, or undefined when it can be stored and searched. */
export function vectorProblem(vector: readonly number[]): string | undefined {
  if (!(SUPPORTED_DIMENSIONS as readonly number[]).includes(vector.length)) {
    return `embedding has ${vector.length} dimensions; supported sizes are ${SUPPORTED_DIMENSIONS.join(" and ")}`;
  }
  const bad = vector.findIndex((value) => !Number.isFinite(value));
  if (bad >= 0) return `embedding[${bad}] is not a finite number`;
  // A zero vector has no direction: cosine distance to it is NaN, so it could never be ranked.
  if (vector.every((value) => value === 0)) return "embedding is all zeros (cosine similarity is undefined)";
  return undefined;
}

/** pgvector's text form of a vector, bound as a parameter. */
export const vectorLiteral = vectorText;

/**
 * Embeds texts with one provider call. Provider failures become 503 (retryable) or 502, and a
 * vector the provider gets wrong (size, NaN) is a 502: it is never stored.
 */
export async function embedTexts(provider: EmbeddingProvider, texts: string[]): Promise<number[][]> {
  if (texts.length === 0) return [];
  let vectors: number[][];
  try {
    vectors = await provider.embed(texts);
  } catch (error) {
    if (error instanceof EmbeddingProviderError) throw new UpstreamFailed(error.message, error.retryable);
    throw error;
  }
  if (vectors.length !== texts.length) {
    throw new UpstreamFailed(
      `The embedding provider returned ${vectors.length} vectors for ${texts.length} texts`,
      false,
    );
  }
  for (const vector of vectors) {
    const problem = vector.length === provider.dimensions ? vectorProblem(vector) : `wrong size ${vector.length}`;
    if (problem) throw new UpstreamFailed(`The embedding provider returned an unusable vector: ${problem}`, false);
  }
  return vectors;
}

/**
 * Stores memories, deduplicated per workspace by `contentHash`. Returns one result per input,
 * in input order; an input whose content is already stored (or repeats an earlier input of the
 * same batch) returns that memory with `deduplicated: true` and creates nothing.
 *
 * Statements: one SELECT finds the already-stored hashes (so duplicates are never sent to the
 * embedding provider), one provider call embeds the new inputs that carry no vector, then ONE
 * `INSERT … ON CONFLICT (workspace_id, content_hash) DO NOTHING RETURNING` writes the batch.
 * Rows a concurrent transaction inserted in between are read back by one more SELECT. Any
 * unusable client vector (size, NaN, infinite) is a 422 before anything is written.
 */
export async function insertMemories(
  tx: Tx,
  actor: MemoryActor,
  raw: MemoryInput[],
  options: InsertMemoriesOptions = {},
): Promise<StoredMemory[]> {
  if (raw.length === 0) return [];
  if (options.chunkIndexes && options.chunkIndexes.length !== raw.length) {
    throw new BadRequest("chunkIndexes must have one entry per input");
  }
  const inputs: ParsedMemoryInput[] = raw.map((item, index) =>
    parseInput(MemoryInput, item, { pathPrefix: raw.length > 1 ? `items.${index}` : "" }),
  );

  const vectorProblems = inputs.flatMap((input, index) => {
    const problem = input.embedding ? vectorProblem(input.embedding) : undefined;
    return problem ? [{ path: raw.length > 1 ? `items.${index}.embedding` : "embedding", message: problem }] : [];
  });
  if (vectorProblems.length > 0) throw new Invalid("An embedding cannot be stored; nothing was stored", vectorProblems);

  // Each input with its dedup hash; the first input of each hash is the one that may be stored.
  const entries = inputs.map((input, index) => ({
    input,
    hash: contentHash(input.content),
    chunkIndex: options.chunkIndexes?.[index] ?? null,
  }));
  const firstOfHash = new Map<string, (typeof entries)[number]>();
  for (const entry of entries) if (!firstOfHash.has(entry.hash)) firstOfHash.set(entry.hash, entry);

  const byHash = new Map<string, Memory>();
  const selectByHashes = async (list: string[]) => {
    if (list.length === 0) return;
    const found = await selectMemories(tx).where(
      and(eq(memories.workspaceId, actor.workspaceId), inArray(memories.contentHash, list)),
    );
    for (const row of found) byHash.set(row.contentHash, toMemory(row));
  };
  await selectByHashes([...firstOfHash.keys()]);

  const created = new Set<string>();
  const fresh = [...firstOfHash.values()].filter((entry) => !byHash.has(entry.hash));
  if (fresh.length > 0) {
    const provider = options.provider ?? embeddingProvider();
    const toEmbed = fresh.filter((entry) => !entry.input.embedding);
    const embedded = await embedTexts(
      provider,
      toEmbed.map((entry) => entry.input.content),
    );
    const vectors = new Map<string, { vector: number[]; model: string | null }>();
    toEmbed.forEach((entry, i) => {
      const vector = embedded[i];
      if (vector) vectors.set(entry.hash, { vector, model: provider.model });
    });
    for (const { input, hash } of fresh) {
      if (input.embedding) vectors.set(hash, { vector: input.embedding, model: input.embeddingModel ?? null });
    }

    const inserted = await tx
      .insert(memories)
      .values(
        fresh.map(({ input, hash, chunkIndex }) => {
          // Every fresh entry has a vector: its own, or the provider's (embedTexts checked the count).
          const { vector, model } = vectors.get(hash) ?? { vector: [], model: null };
          return {
            workspaceId: actor.workspaceId,
            content: input.content,
            contentHash: hash,
            type: input.type,
            sourceType: input.sourceType ?? null,
            sourceEventId: options.sourceEventId ?? null,
            chunkIndex,
            metadata: input.metadata ?? {},
            importance: input.importance,
            ...(input.pinnedTier ? { tier: input.pinnedTier, pinnedTier: input.pinnedTier } : {}),
            embedding: vector,
            embeddingDims: vector.length,
            embeddingModel: model,
          };
        }),
      )
      .onConflictDoNothing({ target: [memories.workspaceId, memories.contentHash] })
      .returning(memoryColumns);
    for (const row of inserted) {
      byHash.set(row.contentHash, toMemory({ ...row, ...NEVER_ACCESSED }));
      created.add(row.contentHash);
    }
    // Inserted by a concurrent transaction after our SELECT: those are duplicates too.
    await selectByHashes(fresh.map((entry) => entry.hash).filter((hash) => !byHash.has(hash)));

    if (inserted.length > 0) {
      await audit(
        tx,
        actorRef(actor),
        inserted.map((row) => ({
          action: "memory.created",
          entity: { type: "memory", id: row.id },
          after: {
            type: row.type,
            sourceType: row.sourceType,
            contentHash: row.contentHash,
            embeddingDims: row.embeddingDims,
          },
        })),
      );
    }
  }

  return entries.map((entry) => {
    const memory = byHash.get(entry.hash);
    if (!memory) throw new Error(`memory with hash ${entry.hash} was neither inserted nor found`);
    return { ...memory, deduplicated: !(created.has(entry.hash) && firstOfHash.get(entry.hash) === entry) };
  });
}

export const GetMemoryQuery = z.object({
  include: z.enum(["embedding"]).optional().openapi({ description: "`embedding` adds the stored vector" }),
});

export async function getMemory(
  tx: Tx,
  actor: MemoryActor,
  id: string,
  options: { includeEmbedding?: boolean } = {},
): Promise<Memory> {
  const columns = { ...memoryColumns, ...memoryAccessColumns };
  const [row] = await tx
    .select(options.includeEmbedding ? { ...columns, embedding: memories.embedding } : columns)
    .from(memories)
    .leftJoin(memoryAccess, eq(memoryAccess.memoryId, memories.id))
    .where(and(eq(memories.workspaceId, actor.workspaceId), eq(memories.id, id)));
  if (!row) throw new NotFound("Memory", id);
  return toMemory(row);
}

export const ListMemoriesQuery = PageQuery.extend({
  type: MemoryType.optional(),
  tier: MemoryTier.optional(),
  sourceType: z.string().min(1).max(100).optional(),
}).openapi("ListMemoriesQuery");

/** Newest first, keyset-paginated (memories_listing_idx). */
export async function listMemories(tx: Tx, actor: MemoryActor, raw: z.input<typeof ListMemoriesQuery>) {
  const query = parseInput(ListMemoriesQuery, raw);
  const conditions: (SQL | undefined)[] = [
    eq(memories.workspaceId, actor.workspaceId),
    query.type ? eq(memories.type, query.type) : undefined,
    query.tier ? eq(memories.tier, query.tier) : undefined,
    query.sourceType ? eq(memories.sourceType, query.sourceType) : undefined,
    after(memories.createdAt, memories.id, query.cursor),
  ];
  const rows = await selectMemories(tx)
    .where(and(...conditions))
    .orderBy(desc(memories.createdAt), desc(memories.id))
    .limit(query.limit + 1);
  const result = page(rows, query.limit);
  return { items: result.items.map(toMemory), nextCursor: result.nextCursor };
}

export const UpdateMemoryInput = z
  .strictObject({
    importance: z.number().min(0).max(1).optional(),
    metadata: Metadata.optional().openapi({ description: "Replaces the metadata object" }),
    pinnedTier: MemoryTier.nullable().optional().openapi({
      description:
        "A tier pins the memory there (and moves it now); null unpins it (the tier stays until tiering moves it)",
    }),
  })
  .refine((value) => Object.keys(value).length > 0, {
    message: "Give at least one of importance, metadata, pinnedTier",
  })
  .openapi("UpdateMemoryInput");

export async function updateMemory(
  tx: Tx,
  actor: MemoryActor,
  id: string,
  raw: z.input<typeof UpdateMemoryInput>,
): Promise<Memory> {
  const input = parseInput(UpdateMemoryInput, raw);
  const where = and(eq(memories.workspaceId, actor.workspaceId), eq(memories.id, id));
  // Lock the row: the activity entry's "before" must be the state this update replaced. NO KEY
  // UPDATE, as the UPDATE itself takes: a search recording a first access (whose foreign key
  // takes KEY SHARE on the memory) does not wait for this transaction.
  const [locked] = await tx
    .select({
      importance: memories.importance,
      metadata: memories.metadata,
      tier: memories.tier,
      pinnedTier: memories.pinnedTier,
      ...memoryAccessColumns,
    })
    .from(memories)
    .leftJoin(memoryAccess, eq(memoryAccess.memoryId, memories.id))
    .where(where)
    .for("no key update", { of: memories });
  if (!locked) throw new NotFound("Memory", id);
  const { accessCount, lastAccessedAt, ...before } = locked;
  const changes: Partial<typeof memories.$inferInsert> = {};
  if (input.importance !== undefined) changes.importance = input.importance;
  if (input.metadata !== undefined) changes.metadata = input.metadata;
  if (input.pinnedTier !== undefined) {
    changes.pinnedTier = input.pinnedTier;
    if (input.pinnedTier !== null) changes.tier = input.pinnedTier;
  }
  const updated = toMemory({
    ...one(await tx.update(memories).set(changes).where(where).returning(memoryColumns)),
    accessCount,
    lastAccessedAt,
  });
  await audit(tx, actorRef(actor), {
    workspaceId: actor.workspaceId,
    action: "memory.updated",
    entity: { type: "memory", id: id },
    before: { ...before, importance: roundImportance(before.importance) },
    after: {
      importance: updated.importance,
      metadata: updated.metadata,
      tier: updated.tier,
      pinnedTier: updated.pinnedTier,
    },
  });
  return updated;
}

export async function deleteMemory(tx: Tx, actor: MemoryActor, id: string): Promise<void> {
  const [row] = await tx
    .delete(memories)
    .where(and(eq(memories.workspaceId, actor.workspaceId), eq(memories.id, id)))
    .returning({ id: memories.id, contentHash: memories.contentHash, type: memories.type });
  if (!row) throw new NotFound("Memory", id);
  await audit(tx, actorRef(actor), {
    workspaceId: actor.workspaceId,
    action: "memory.deleted",
    entity: { type: "memory", id: id },
    before: { contentHash: row.contentHash, type: row.type },
  });
}
