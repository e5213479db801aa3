/** Memory as tools: search, remember (deduplicated), read and forget. */
import { z } from "@hono/zod-openapi";
import { deleteMemory, getMemory, insertMemories, MemoryInput } from "../memory/memories";
import { ForgetInput, forgetSubject } from "../memory/memory-model";
import type { Memory } from "../memory/schemas";
import { MemorySearchInput, searchMemories, searchSettings } from "../memory/search";
import { IdParam } from "../shared/openapi";
import { defineTool } from "./tool";

const MemoryId = IdParam.shape.id.describe("The memory's id (from search_memories or remember)");

/**
 * What a model needs of a memory. Bookkeeping (content hash, embedding size and model, access
 * counts, source event and chunk) stays out of its context; get_memory returns the full record.
 */
function memoryView(memory: Memory) {
  return {
    id: memory.id,
    content: memory.content,
    type: memory.type,
    sourceType: memory.sourceType,
    metadata: memory.metadata,
    importance: memory.importance,
    tier: memory.tier,
    createdAt: memory.createdAt,
    validFrom: memory.validFrom,
    validTo: memory.validTo,
    supersedesId: memory.supersedesId,
    userId: memory.userId,
    agentId: memory.agentId,
    sessionId: memory.sessionId,
    projectId: memory.projectId,
    expiresAt: memory.expiresAt,
    sourceItemId: memory.sourceItemId,
  };
}

// The API's search input without the client-vector knobs (a model sends text, not 768
// floats) and the fusion tuning; `query` is then required rather than "query or vector".
const search = MemorySearchInput.shape;
const SearchInput = z.strictObject({
  query: search.query.unwrap().describe("What to look for, in plain words"),
  mode: search.mode.describe("hybrid (default: meaning and words), vector (meaning) or text (words)"),
  textMatch: search.textMatch.describe(
    "How the words match: any (text mode's default: memories holding more of the words first) or all (hybrid's default: every word)",
  ),
  topK: search.topK.describe("How many results, 1..100 (default 10)"),
  minSimilarity: search.minSimilarity.describe("Drop results less similar than this (cosine, -1..1)"),
  filters: search.filters.describe(
    "Optional: type, sourceType, tier (hot and warm unless given), metadata containment, createdAfter/createdBefore (ISO 8601), " +
      "minImportance, userId/agentId/sessionId/projectId (whose memories), asOf (facts valid at that ISO 8601 time; default now)",
  ),
});

export const searchMemoriesTool = defineTool({
  name: "search_memories",
  title: "Search memories",
  description:
    "Search the workspace's shared memory (facts, decisions, context stored by people and agents) by meaning and " +
    "by words. Use it before answering or acting whenever earlier knowledge could matter, and before `remember` to " +
    "see what is already known. Returns the best matches first: id, content, type, metadata, importance, tier, " +
    "createdAt, with similarity, textRank and the fused score.",
  scope: "memory:read",
  input: SearchInput,
  annotations: { readOnlyHint: true, openWorldHint: false },
  run: async (ctx, input) => {
    const found = await ctx.tenant((tx) => searchMemories(tx, ctx.actor, input), searchSettings(input));
    return {
      mode: found.mode,
      results: found.results.map((result) => ({
        ...memoryView(result),
        similarity: result.similarity,
        textRank: result.textRank,
        score: result.score,
      })),
    };
  },
});

// The API's MemoryInput without a client-supplied embedding (and its model name): a model
// sends text, and the configured provider embeds it.
const memory = MemoryInput.shape;
const RememberInput = z.strictObject({
  content: memory.content.describe("The fact, decision or context to keep, self-contained"),
  type: memory.type.describe("KNOWLEDGE (default: facts), CONTEXT (situational) or TEMPLATE (reusable text)"),
  sourceType: memory.sourceType.describe("Where it came from, e.g. 'agent', 'slack', 'meeting'"),
  metadata: memory.metadata.describe("Free-form JSON object, filterable in search_memories"),
  importance: memory.importance.describe("0..1 (default 0.5); 0.8 and above keeps it out of cold storage"),
  pinnedTier: memory.pinnedTier.describe("hot, warm or cold: fixes the tier (tiering never moves it)"),
  userId: memory.userId.describe("The user the memory is about (your id for them)"),
  agentId: memory.agentId.describe("The agent the memory belongs to"),
  sessionId: memory.sessionId.describe("The session the memory belongs to"),
  projectId: memory.projectId.describe("A project of the workspace (its id)"),
  supersedes: memory.supersedes.describe(
    "The id of a memory this one replaces (a fact that changed): the old one stops being valid now",
  ),
  validFrom: memory.validFrom.describe("When the fact became true (ISO 8601; default now)"),
  expiresAt: memory.expiresAt.describe("When to forget it (ISO 8601); or ttlSeconds"),
  ttlSeconds: memory.ttlSeconds.describe("Forget it this many seconds from now"),
  sourceItemId: memory.sourceItemId.describe("The work item whose result this memory comes from"),
});

export const rememberTool = defineTool({
  name: "remember",
  title: "Remember",
  description:
    "Store something worth knowing later in the workspace's shared memory, for you, other agents and people. " +
    "Write one self-contained statement per call. Storing is deduplicated: content equal to a stored memory of the " +
    "same user, agent, session and project (ignoring whitespace differences) returns that memory with " +
    "`deduplicated: true`, creates nothing and merges the new metadata (key by key), importance (the maximum), " +
    "sourceType and expiry into it (`merged` says what changed), so repeating a call is safe. When a fact changed, " +
    "pass `supersedes` with the old memory's id. Returns the memory (with its id) and whether it was newly stored.",
  scope: "memory:write",
  input: RememberInput,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  run: async (ctx, input) => {
    const [stored] = await ctx.tenant((tx) => insertMemories(tx, ctx.actor, [input]));
    if (!stored) throw new Error("insertMemories returned no result for one input");
    return {
      memory: memoryView(stored),
      deduplicated: stored.deduplicated,
      ...(stored.merged ? { merged: stored.merged } : {}),
      note: stored.deduplicated
        ? "Already stored: this is the existing memory; nothing new was created (new values merged as `merged` shows)."
        : "Stored as a new memory.",
    };
  },
});

export const getMemoryTool = defineTool({
  name: "get_memory",
  title: "Get a memory",
  description:
    "Read one memory by id, as the full stored record (content, type, source, metadata, importance, tier, access " +
    "count, embedding model, timestamps). Use it when a search result or a reference gives you an id.",
  scope: "memory:read",
  input: z.strictObject({ id: MemoryId }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  run: (ctx, input) => ctx.tenant((tx) => getMemory(tx, ctx.actor, input.id)),
});

export const forgetTool = defineTool({
  name: "forget",
  title: "Forget a memory",
  description:
    "Delete one memory by id, for good, for everyone in the workspace. Use it only for content that is wrong, " +
    "obsolete or should not be kept. Returns the deleted id; an unknown id is a not_found error.",
  scope: "memory:write",
  input: z.strictObject({ id: MemoryId }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  run: async (ctx, input) => {
    await ctx.tenant((tx) => deleteMemory(tx, ctx.actor, input.id));
    return { deleted: true, id: input.id };
  },
});

export const forgetSubjectTool = defineTool({
  name: "forget_subject",
  title: "Forget a user, agent or session",
  description:
    "Delete every memory of a user, an agent or a session (all given ids must match), for good: the right to be " +
    "forgotten. Returns how many memories were deleted; each deletion is in the workspace's activity log.",
  scope: "memory:write",
  input: ForgetInput,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  run: (ctx, input) => ctx.tenant((tx) => forgetSubject(tx, ctx.actor, input)),
});

export const memoryTools = [searchMemoriesTool, rememberTool, getMemoryTool, forgetTool, forgetSubjectTool];
