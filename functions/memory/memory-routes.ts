import { createRoute, z } from "@hono/zod-openapi";
import { one } from "../../db/client";
import { createRouter, inTenant } from "../shared/app";
import { requireScope } from "../shared/auth";
import { errorResponses, IdParam, json, jsonBody } from "../shared/openapi";
import { pageSchema } from "../shared/pagination";
import {
  deleteMemory,
  GetMemoryQuery,
  getMemoryDetail,
  insertMemories,
  ListMemoriesQuery,
  listMemories,
  MemoryBatchInput,
  MemoryDetail,
  MemoryInput,
  MemoryVersions,
  memoryVersions,
  SupersedeMemoryInput,
  supersedeMemory,
  UpdateMemoryInput,
  updateMemory,
} from "./memories";
import { ForgetInput, ForgetResult, forgetSubject } from "./memory-model";
import { Memory, StoredMemory } from "./schemas";
import { MemorySearchInput, MemorySearchResponse, searchMemories, searchSettings } from "./search";

const tags = ["Memory"];
const read = requireScope("memory:read");
const write = requireScope("memory:write");

const MemoryBatchResult = z
  .object({
    items: z.array(StoredMemory).openapi({ description: "One result per input, in input order" }),
    created: z.number().int(),
    deduplicated: z.number().int(),
  })
  .openapi("MemoryBatchResult");

export const memoryItemRoutes = createRouter()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/memories",
      tags,
      summary: "Store a memory (deduplicated per workspace by its normalised content)",
      description:
        "Without `embedding` the configured provider embeds the content. Content equal to a stored memory after normalisation " +
        "(Unicode NFC, whitespace collapsed, trimmed; case kept), for the same subject (userId, agentId, sessionId) and project, " +
        "among open facts, returns that memory with `deduplicated: true` and status 200, with the new values merged into it " +
        "(metadata key by key, importance the maximum, sourceType and pinnedTier the new ones, expiresAt the later) and " +
        "`merged` listing what changed. With `supersedes` the named memory's validity is closed at this one's validFrom.",
      middleware: [write] as const,
      request: jsonBody(MemoryInput),
      responses: {
        201: json(StoredMemory, "Created"),
        200: json(StoredMemory, "Already stored: the existing memory, nothing created"),
        ...errorResponses,
      },
    }),
    async (c) => {
      const stored = one(await inTenant(c, (tx) => insertMemories(tx, c.var.actor, [c.req.valid("json")])));
      return stored.deduplicated ? c.json(stored, 200) : c.json(stored, 201);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/memories:batch",
      tags,
      summary: "Store up to 1,000 memories in one statement",
      description:
        "Per-item results in input order. Any unusable embedding (size other than 768 or 1536, NaN, infinite) is a 422 and stores nothing. " +
        "Status 201 when at least one memory was created, 200 when all were already stored.",
      middleware: [write] as const,
      request: jsonBody(MemoryBatchInput),
      responses: {
        201: json(MemoryBatchResult, "Stored"),
        200: json(MemoryBatchResult, "All already stored"),
        ...errorResponses,
      },
    }),
    async (c) => {
      const items = await inTenant(c, (tx) => insertMemories(tx, c.var.actor, c.req.valid("json").items));
      const created = items.filter((item) => !item.deduplicated).length;
      const body = { items, created, deduplicated: items.length - created };
      return created > 0 ? c.json(body, 201) : c.json(body, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/memories/{id}/supersede",
      tags,
      summary: "Store a new version of a fact: the memory's validity ends where the new one's begins",
      description:
        "One transaction: the new memory is stored with `supersedesId` = {id} and the old one's `validTo` becomes its `validFrom`. " +
        "409 when {id} is already closed (supersede its latest version) or when the content is already stored as a current memory.",
      middleware: [write] as const,
      request: { params: IdParam, ...jsonBody(SupersedeMemoryInput) },
      responses: { 201: json(StoredMemory, "The new version"), ...errorResponses },
    }),
    async (c) =>
      c.json(
        await inTenant(c, (tx) => supersedeMemory(tx, c.var.actor, c.req.valid("param").id, c.req.valid("json"))),
        201,
      ),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/memories/{id}/versions",
      tags,
      summary: "A fact's chain of versions (supersessions), oldest first",
      middleware: [read] as const,
      request: { params: IdParam },
      responses: { 200: json(MemoryVersions, "The versions"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => memoryVersions(tx, c.var.actor, c.req.valid("param").id)), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/memories:forget",
      tags,
      summary: "Forget a subject: delete every memory of a user, agent or session",
      description:
        "Every memory whose userId, agentId and sessionId match the given ones (all given must match) is deleted, whatever its " +
        "validity or expiry, in one statement with one `memory.forgotten` activity row each. Nothing else changes.",
      middleware: [write] as const,
      request: jsonBody(ForgetInput),
      responses: { 200: json(ForgetResult, "How many memories were deleted"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => forgetSubject(tx, c.var.actor, c.req.valid("json"))), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/memories/search",
      tags,
      summary: "Search memories: vector, full-text or hybrid (reciprocal rank fusion)",
      description:
        "One SQL statement. Cold memories are searched only when `filters.tier` asks for them. Returned memories get their access counted.",
      middleware: [read] as const,
      request: jsonBody(MemorySearchInput),
      responses: { 200: json(MemorySearchResponse, "Results, best first"), ...errorResponses },
    }),
    async (c) => {
      const input = c.req.valid("json");
      // The route owns the transaction: the search statement goes with BEGIN, the set-up and COMMIT.
      const found = await inTenant(
        c,
        (tx) => searchMemories(tx, c.var.actor, input, { commit: true }),
        searchSettings(input),
      );
      return c.json(found, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/memories",
      tags,
      summary: "List memories, newest first (without embeddings)",
      middleware: [read] as const,
      request: { query: ListMemoriesQuery },
      responses: { 200: json(pageSchema(Memory), "A page of memories"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => listMemories(tx, c.var.actor, c.req.valid("query"))), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/memories/{id}",
      tags,
      summary: "A memory with the work items that used it (`?include=embedding` adds the vector)",
      middleware: [read] as const,
      request: { params: IdParam, query: GetMemoryQuery },
      responses: { 200: json(MemoryDetail, "The memory"), ...errorResponses },
    }),
    async (c) => {
      const includeEmbedding = c.req.valid("query").include === "embedding";
      return c.json(
        await inTenant(c, (tx) => getMemoryDetail(tx, c.var.actor, c.req.valid("param").id, { includeEmbedding })),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/v1/memories/{id}",
      tags,
      summary: "Change importance, metadata or the pinned tier",
      middleware: [write] as const,
      request: { params: IdParam, ...jsonBody(UpdateMemoryInput) },
      responses: { 200: json(Memory, "Updated"), ...errorResponses },
    }),
    async (c) =>
      c.json(
        await inTenant(c, (tx) => updateMemory(tx, c.var.actor, c.req.valid("param").id, c.req.valid("json"))),
        200,
      ),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/memories/{id}",
      tags,
      summary: "Delete a memory",
      middleware: [write] as const,
      request: { params: IdParam },
      responses: { 204: { description: "Deleted" }, ...errorResponses },
    }),
    async (c) => {
      await inTenant(c, (tx) => deleteMemory(tx, c.var.actor, c.req.valid("param").id));
      return c.body(null, 204);
    },
  );
