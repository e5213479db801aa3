/**
 * Memories: storing them (one or a batch, deduplicated per workspace by content hash, embedded
 * by the configured provider when the client sends no vector) and managing them (get, list,
 * update, delete). Search lives in search.ts.
 */

import { createHash } from "node:crypto";
import { z } from "@hono/zod-openapi";
import { and, asc, desc, eq, inArray, isNull, type SQL, sql } from "drizzle-orm";
import { one, rows, type Tx } from "../../db/client";
import { memories, memoryAccess, workItemMemories, workItems } from "../../db/schema";
import { vectorText } from "../../db/schema/columns";
import { memoryTier, memoryType } from "../../db/schema/enums";
import { actorRef } from "../shared/actor";
import { audit } from "../shared/audit";
import { BadRequest, Conflict, Invalid, NotFound, UpstreamFailed } from "../shared/errors";
import { after, PageQuery, page } from "../shared/pagination";
import { DateTimeInput, parseInput } from "../shared/validation";
import { type EmbeddingProvider, EmbeddingProviderError, SUPPORTED_DIMENSIONS } from "./embeddings";
import {
  closeSuperseded,
  lockSuperseded,
  type MemoryActor,
  memoryModelConditions,
  notExpired,
  SubjectFields,
  versionChain,
} from "./memory-model";
import { mergeDuplicates } from "./merge";
import { embeddingProvider } from "./provider";
import {
  Memory,
  Metadata,
  memoryAccessColumns,
  memoryColumns,
  roundImportance,
  type StoredMemory,
  toMemory,
} from "./schemas";

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

/** The longest `ttlSeconds`: ten years. */
const MAX_TTL_SECONDS = 10 * 366 * 24 * 60 * 60;

const MemoryFields = z.strictObject({
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
  ...SubjectFields,
  validFrom: DateTimeInput().optional().openapi({
    description: "When the fact became true; defaults to now (when it is recorded)",
  }),
  validTo: DateTimeInput().optional().openapi({
    description: "When the fact stops being true, if known (a closed fact is never a dedup target)",
  }),
  supersedes: z.string().uuid().optional().openapi({
    description: "A memory this one replaces: its validTo becomes this memory's validFrom, in the same transaction",
  }),
  expiresAt: DateTimeInput().optional().openapi({
    description: "After this the memory is never returned, and the tiering job deletes it",
  }),
  ttlSeconds: z
    .number()
    .int()
    .min(1)
    .max(MAX_TTL_SECONDS)
    .optional()
    .openapi({ description: "Expires this many seconds after it is stored (instead of expiresAt)" }),
  sourceItemId: z.string().uuid().optional().openapi({
    description: "The work item whose result this memory was written from",
  }),
});

type MemoryFieldsOutput = z.output<typeof MemoryFields>;
function memoryRules(value: Partial<MemoryFieldsOutput>, ctx: z.RefinementCtx) {
  if (value.expiresAt !== undefined && value.ttlSeconds !== undefined) {
    ctx.addIssue({ code: "custom", path: ["ttlSeconds"], message: "Give expiresAt or ttlSeconds, not both" });
  }
  if (value.validFrom && value.validTo && value.validTo <= value.validFrom) {
    ctx.addIssue({ code: "custom", path: ["validTo"], message: "validTo must be after validFrom" });
  }
  if (value.supersedes && value.validTo) {
    ctx.addIssue({
      code: "custom",
      path: ["validTo"],
      message: "A superseding memory is the current fact: no validTo",
    });
  }
}

export const MemoryInput = MemoryFields.superRefine(memoryRules).openapi("MemoryInput");
export type MemoryInput = z.input<typeof MemoryInput>;
export type ParsedMemoryInput = z.output<typeof MemoryInput>;

/** `POST /v1/memories/{id}/supersede`: the new memory; the path names the one it supersedes. */
export const SupersedeMemoryInput = MemoryFields.omit({ supersedes: true })
  .superRefine(memoryRules)
  .openapi("SupersedeMemoryInput");

export const MemoryBatchInput = z
  .strictObject({ items: z.array(MemoryInput).min(1).max(MAX_BATCH) })
  .openapi("MemoryBatchInput");

/** Who stores memories: a request's actor, or a job acting for a workspace (no user). */
export type { MemoryActor } from "./memory-model";

export interface InsertMemoriesOptions {
  provider?: EmbeddingProvider;
  /** The raw event the memories were extracted from (event processing). */
  sourceEventId?: string;
  /** Chunk index of each input, same order as the inputs. */
  chunkIndexes?: number[];
}

export { roundImportance, toMemory } from "./schemas";

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

/** The dedup key of an input or a stored memory: content hash, subject and project. */
function dedupKey(
  hash: string,
  subject: { userId?: string | null; agentId?: string | null; sessionId?: string | null; projectId?: string | null },
) {
  return JSON.stringify([
    hash,
    subject.userId ?? null,
    subject.agentId ?? null,
    subject.sessionId ?? null,
    subject.projectId ?? null,
  ]);
}

/**
 * Stores memories, deduplicated per workspace, subject and project by `contentHash` among open
 * facts (no `validTo`). Returns one result per input, in input order; an input whose content is
 * already stored (or repeats an earlier input of the same batch) returns that memory with
 * `deduplicated: true`, creates nothing, and merges its new values into it (merge.ts; `merged`
 * says what changed).
 *
 * Statements: one SELECT finds the already-stored keys (so duplicates are never sent to the
 * embedding provider), one provider call embeds the new inputs that carry no vector, then ONE
 * `INSERT … ON CONFLICT DO NOTHING RETURNING` writes the batch. Rows a concurrent transaction
 * inserted in between are read back by one more SELECT. Any unusable client vector (size, NaN,
 * infinite) is a 422 before anything is written. Supersessions, references (project, source
 * item) and merges add a statement each, only when the request has some.
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
  const pathOf = (index: number, field: string) => (raw.length > 1 ? `items.${index}.${field}` : field);
  const inputs: ParsedMemoryInput[] = raw.map((item, index) =>
    parseInput(MemoryInput, item, { pathPrefix: raw.length > 1 ? `items.${index}` : "" }),
  );

  const vectorProblems = inputs.flatMap((input, index) => {
    const problem = input.embedding ? vectorProblem(input.embedding) : undefined;
    return problem ? [{ path: pathOf(index, "embedding"), message: problem }] : [];
  });
  if (vectorProblems.length > 0) throw new Invalid("An embedding cannot be stored; nothing was stored", vectorProblems);
  await checkReferences(tx, actor, inputs, pathOf);
  await lockSuperseded(
    tx,
    actor,
    inputs.flatMap((input, index) =>
      input.supersedes ? [{ id: input.supersedes, validFrom: input.validFrom, path: pathOf(index, "validFrom") }] : [],
    ),
  );

  // Each input with its dedup key; the first input of each key is the one that may be stored.
  // A closed fact (validTo given) is never deduplicated: its key is its own.
  const entries = inputs.map((input, index) => {
    const hash = contentHash(input.content);
    return {
      input,
      hash,
      key: input.validTo ? `closed:${index}` : dedupKey(hash, input),
      chunkIndex: options.chunkIndexes?.[index] ?? null,
    };
  });
  const firstOfKey = new Map<string, (typeof entries)[number]>();
  for (const entry of entries) if (!firstOfKey.has(entry.key)) firstOfKey.set(entry.key, entry);

  const byKey = new Map<string, Memory>();
  const selectByHashes = async (list: string[]) => {
    if (list.length === 0) return;
    const found = await selectMemories(tx).where(
      and(
        eq(memories.workspaceId, actor.workspaceId),
        inArray(memories.contentHash, [...new Set(list)]),
        isNull(memories.validTo),
      ),
    );
    for (const row of found) {
      const key = dedupKey(row.contentHash, row);
      if (firstOfKey.has(key) && !byKey.has(key)) byKey.set(key, toMemory(row));
    }
  };
  const open = [...firstOfKey.values()].filter((entry) => !entry.input.validTo);
  await selectByHashes(open.map((entry) => entry.hash));

  const created = new Set<string>();
  const fresh = [...firstOfKey.values()].filter((entry) => !byKey.has(entry.key));
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
      if (vector) vectors.set(entry.key, { vector, model: provider.model });
    });
    for (const { input, key } of fresh) {
      if (input.embedding) vectors.set(key, { vector: input.embedding, model: input.embeddingModel ?? null });
    }

    const inserted = await tx
      .insert(memories)
      .values(
        fresh.map(({ input, hash, key, chunkIndex }) => {
          // Every fresh entry has a vector: its own, or the provider's (embedTexts checked the count).
          const { vector, model } = vectors.get(key) ?? { vector: [], model: null };
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
            userId: input.userId ?? null,
            agentId: input.agentId ?? null,
            sessionId: input.sessionId ?? null,
            projectId: input.projectId ?? null,
            sourceItemId: input.sourceItemId ?? null,
            supersedesId: input.supersedes ?? null,
            ...(input.validFrom ? { validFrom: input.validFrom } : {}),
            validTo: input.validTo ?? null,
            // The database's clock, like every other timestamp of the row.
            expiresAt:
              input.expiresAt ??
              (input.ttlSeconds !== undefined ? sql`now() + make_interval(secs => ${input.ttlSeconds})` : null),
          };
        }),
      )
      .onConflictDoNothing({
        target: [
          memories.workspaceId,
          memories.contentHash,
          memories.userId,
          memories.agentId,
          memories.sessionId,
          memories.projectId,
        ],
        where: sql`valid_to is null`,
      })
      .returning(memoryColumns);
    const insertedClosed = inserted.filter((row) => row.validTo !== null);
    for (const row of inserted) {
      if (row.validTo !== null) continue;
      const key = dedupKey(row.contentHash, row);
      byKey.set(key, toMemory({ ...row, ...NEVER_ACCESSED }));
      created.add(key);
    }
    // A closed fact never conflicts, so each was inserted: pair them with their inputs by hash.
    for (const entry of fresh.filter((candidate) => candidate.input.validTo)) {
      const at = insertedClosed.findIndex((row) => row.contentHash === entry.hash);
      const [row] = insertedClosed.splice(at, 1);
      if (row) {
        byKey.set(entry.key, toMemory({ ...row, ...NEVER_ACCESSED }));
        created.add(entry.key);
      }
    }
    // Inserted by a concurrent transaction after our SELECT: those are duplicates too.
    await selectByHashes(fresh.filter((entry) => !byKey.has(entry.key)).map((entry) => entry.hash));

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
      await closeSuperseded(
        tx,
        actor,
        inserted.filter((row) => row.supersedesId !== null).map((row) => row.id),
      );
    }
  }

  const results = entries.map((entry) => {
    const memory = byKey.get(entry.key);
    if (!memory) throw new Error(`memory with key ${entry.key} was neither inserted nor found`);
    const deduplicated = !(created.has(entry.key) && firstOfKey.get(entry.key) === entry);
    if (deduplicated && entry.input.supersedes) {
      throw new Conflict(
        `The content is already stored as the current memory ${memory.id}: a supersession needs new content (or update that memory)`,
      );
    }
    return { memory, input: entry.input, deduplicated };
  });
  return mergeDuplicates(tx, actor, results);
}

/** The project and source item an input names must be the workspace's (RLS hides the others too). */
async function checkReferences(
  tx: Tx,
  actor: MemoryActor,
  inputs: ParsedMemoryInput[],
  pathOf: (index: number, field: string) => string,
) {
  const projectIds = [...new Set(inputs.flatMap((input) => (input.projectId ? [input.projectId] : [])))];
  const itemIds = [...new Set(inputs.flatMap((input) => (input.sourceItemId ? [input.sourceItemId] : [])))];
  if (projectIds.length === 0 && itemIds.length === 0) return;
  const found = await rows<{ kind: "project" | "item"; id: string }>(
    tx,
    sql`select 'project' as kind, id from projects
          where workspace_id = ${actor.workspaceId} and id in ${projectIds.length > 0 ? projectIds : [null]}
        union all
        select 'item', id from work_items
          where workspace_id = ${actor.workspaceId} and id in ${itemIds.length > 0 ? itemIds : [null]}`,
  );
  const known = new Set(found.map((row) => `${row.kind}:${row.id}`));
  const problems = inputs.flatMap((input, index) => [
    ...(input.projectId && !known.has(`project:${input.projectId}`)
      ? [{ path: pathOf(index, "projectId"), message: `no project ${input.projectId} in this workspace` }]
      : []),
    ...(input.sourceItemId && !known.has(`item:${input.sourceItemId}`)
      ? [{ path: pathOf(index, "sourceItemId"), message: `no work item ${input.sourceItemId} in this workspace` }]
      : []),
  ]);
  if (problems.length > 0) throw new Invalid("A memory refers to something this workspace does not have", problems);
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
    .where(and(eq(memories.workspaceId, actor.workspaceId), eq(memories.id, id), notExpired));
  if (!row) throw new NotFound("Memory", id);
  return toMemory(row);
}

export const ListMemoriesQuery = PageQuery.extend({
  type: MemoryType.optional(),
  tier: MemoryTier.optional(),
  sourceType: z.string().min(1).max(100).optional(),
  ...SubjectFields,
  validAt: DateTimeInput().optional().openapi({
    description: "Only memories valid at this time (without it: every version, superseded ones included)",
  }),
}).openapi("ListMemoriesQuery");

/** Newest first, keyset-paginated (memories_listing_idx). */
export async function listMemories(tx: Tx, actor: MemoryActor, raw: z.input<typeof ListMemoriesQuery>) {
  const query = parseInput(ListMemoriesQuery, raw);
  const conditions: (SQL | undefined)[] = [
    eq(memories.workspaceId, actor.workspaceId),
    query.type ? eq(memories.type, query.type) : undefined,
    query.tier ? eq(memories.tier, query.tier) : undefined,
    query.sourceType ? eq(memories.sourceType, query.sourceType) : undefined,
    ...memoryModelConditions(query, query.validAt ? { kind: "at", at: query.validAt } : { kind: "any" }),
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
    .where(and(where, notExpired))
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

export const MemoryVersions = z
  .object({ items: z.array(Memory).openapi({ description: "Oldest first; the last is the current version" }) })
  .openapi("MemoryVersions");

/** A memory's chain of versions (supersession), oldest first. */
export async function memoryVersions(tx: Tx, actor: MemoryActor, id: string): Promise<z.output<typeof MemoryVersions>> {
  const ids = await versionChain(tx, actor, id);
  const found = await selectMemories(tx).where(
    and(eq(memories.workspaceId, actor.workspaceId), inArray(memories.id, ids)),
  );
  const byId = new Map(found.map((row) => [row.id, toMemory(row)]));
  return { items: ids.flatMap((versionId) => byId.get(versionId) ?? []) };
}

/** Stores `raw` as the new version of memory `id` (see `supersedes`). */
export async function supersedeMemory(
  tx: Tx,
  actor: MemoryActor,
  id: string,
  raw: z.input<typeof SupersedeMemoryInput>,
): Promise<StoredMemory> {
  parseInput(SupersedeMemoryInput, raw);
  return one(await insertMemories(tx, actor, [{ ...raw, supersedes: id }]));
}

export const MemoryDetail = Memory.extend({
  usedBy: z
    .array(
      z.object({
        workItemId: z.string().uuid(),
        workOrderId: z.string().uuid(),
        type: z.string(),
        status: z.string(),
        usedAt: z.date().openapi({ description: "When the item's completion recorded the use" }),
      }),
    )
    .openapi({ description: "Work items that used this memory (the ledger), oldest first" }),
}).openapi("MemoryDetail");

/** A memory with the work items that used it (`sourceItemId` names the one it was written from). */
export async function getMemoryDetail(
  tx: Tx,
  actor: MemoryActor,
  id: string,
  options: { includeEmbedding?: boolean } = {},
): Promise<z.output<typeof MemoryDetail>> {
  const memory = await getMemory(tx, actor, id, options);
  const usedBy = await tx
    .select({
      workItemId: workItems.id,
      workOrderId: workItems.workOrderId,
      type: workItems.type,
      status: workItems.status,
      usedAt: workItemMemories.createdAt,
    })
    .from(workItemMemories)
    .innerJoin(workItems, eq(workItems.id, workItemMemories.workItemId))
    .where(and(eq(workItemMemories.workspaceId, actor.workspaceId), eq(workItemMemories.memoryId, id)))
    .orderBy(asc(workItemMemories.createdAt), asc(workItems.id));
  return { ...memory, usedBy };
}
