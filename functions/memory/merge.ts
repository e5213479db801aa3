/**
 * Merge on dedup: storing content that is already stored (same workspace, subject and project,
 * an open fact) creates nothing, and the new values are merged into the stored memory:
 *
 *   metadata    merged key by key (top level); a new value replaces the stored one of its key
 *   importance  the maximum of the stored and the new
 *   sourceType  the new one, when given (the latest source)
 *   expiresAt   the later of the two; a store without expiry makes the memory never expire
 *               (a memory that never expires stays so)
 *   pinnedTier  the new one, when given
 *
 * Everything else is the stored memory's (content, type, embedding, validity, subject,
 * project, source item). The response's `merged` lists each field the request changed with its
 * value before and after (`{}` when nothing changed); a `memory.merged` activity row records it.
 * Several inputs of one batch with the same key are folded in order, as if sent one by one.
 */
import type { z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import { mapRow, rows, type Tx } from "../../db/client";
import { memories } from "../../db/schema";
import { actorRef } from "../shared/actor";
import { audit } from "../shared/audit";
import type { MemoryActor } from "./memory-model";
import { MERGED_FIELDS, type Memory, type MergedChanges, memoryColumns, type StoredMemory, toMemory } from "./schemas";

/** The fields of a parsed MemoryInput that a merge reads. */
interface ParsedInput {
  metadata?: Record<string, unknown>;
  importance?: number;
  sourceType?: string | null;
  expiresAt?: Date;
  ttlSeconds?: number;
  pinnedTier?: string | null;
}

interface Fold {
  metadata: Record<string, unknown>;
  importance: number | null;
  sourceType: string | null;
  never: boolean;
  expiresAt: Date | null;
  ttlSeconds: number | null;
  pinnedTier: string | null;
}

function fold(inputs: ParsedInput[]): Fold {
  const folded: Fold = {
    metadata: {},
    importance: null,
    sourceType: null,
    never: false,
    expiresAt: null,
    ttlSeconds: null,
    pinnedTier: null,
  };
  for (const input of inputs) {
    Object.assign(folded.metadata, input.metadata ?? {});
    if (input.importance !== undefined) folded.importance = Math.max(folded.importance ?? 0, input.importance);
    if (input.sourceType) folded.sourceType = input.sourceType;
    if (input.pinnedTier) folded.pinnedTier = input.pinnedTier;
    const expiresAt = input.expiresAt;
    if (expiresAt === undefined && input.ttlSeconds === undefined) folded.never = true;
    if (expiresAt && (!folded.expiresAt || expiresAt > folded.expiresAt)) folded.expiresAt = expiresAt;
    if (input.ttlSeconds !== undefined) folded.ttlSeconds = Math.max(folded.ttlSeconds ?? 0, input.ttlSeconds);
  }
  return folded;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** Whether merging may change the stored memory (the statement then decides exactly). */
function mayChange(stored: Memory, folded: Fold): boolean {
  return (
    Object.entries(folded.metadata).some(([key, value]) => !same(stored.metadata[key], value)) ||
    (folded.importance !== null && folded.importance > stored.importance) ||
    (folded.sourceType !== null && folded.sourceType !== stored.sourceType) ||
    (stored.expiresAt !== null && (folded.never || folded.expiresAt !== null || folded.ttlSeconds !== null)) ||
    (folded.pinnedTier !== null && folded.pinnedTier !== stored.pinnedTier)
  );
}

function changes(before: Memory, after: Memory): z.output<typeof MergedChanges> {
  const merged: z.output<typeof MergedChanges> = {};
  for (const field of MERGED_FIELDS) {
    if (!same(before[field], after[field])) merged[field] = { before: before[field], after: after[field] };
  }
  return merged;
}

const RETURNED = sql.join(
  Object.values(memoryColumns).map((column) => sql`m.${sql.identifier(column.name)}`),
  sql`, `,
);

/**
 * The store's results: created memories as they are, deduplicated ones with their merge applied
 * (one UPDATE for every memory that changes) and `merged` saying what changed.
 */
export async function mergeDuplicates(
  tx: Tx,
  actor: MemoryActor,
  results: { memory: Memory; input: ParsedInput; deduplicated: boolean }[],
): Promise<StoredMemory[]> {
  const inputsOf = new Map<string, ParsedInput[]>();
  for (const result of results) {
    if (!result.deduplicated) continue;
    inputsOf.set(result.memory.id, [...(inputsOf.get(result.memory.id) ?? []), result.input]);
  }
  const stored = new Map(results.map((result) => [result.memory.id, result.memory]));
  const toMerge = [...inputsOf.entries()].flatMap(([id, inputs]) => {
    const folded = fold(inputs);
    const memory = stored.get(id);
    return memory && mayChange(memory, folded) ? [{ id, ...folded }] : [];
  });

  const after = new Map<string, Memory>();
  if (toMerge.length > 0) {
    const updated = await rows<Record<string, unknown>>(
      tx,
      sql`update memories m set
            metadata = m.metadata || v.metadata,
            importance = greatest(m.importance, coalesce(v.importance, m.importance)),
            source_type = coalesce(v."sourceType", m.source_type),
            expires_at = case when m.expires_at is null or v.never then null
                              else greatest(m.expires_at, v."expiresAt", now() + make_interval(secs => v."ttlSeconds")) end,
            pinned_tier = coalesce(v."pinnedTier", m.pinned_tier),
            tier = coalesce(v."pinnedTier", m.tier),
            updated_at = now()
          from jsonb_to_recordset(${JSON.stringify(toMerge)}::jsonb)
            as v(id uuid, metadata jsonb, importance real, "sourceType" text, never boolean, "expiresAt" timestamptz,
                 "ttlSeconds" int, "pinnedTier" memory_tier)
          where m.workspace_id = ${actor.workspaceId} and m.id = v.id
          returning ${RETURNED}`,
    );
    for (const row of updated) {
      const fields = mapRow(memories, row);
      // A merge does not touch the access statistics (memory_access): they stay as read.
      const previous = stored.get(fields.id);
      const memory = toMemory({
        ...fields,
        accessCount: previous?.accessCount ?? 0,
        lastAccessedAt: previous?.lastAccessedAt ?? null,
      });
      after.set(memory.id, memory);
    }
    const logged = [...after.values()].flatMap((memory) => {
      const before = stored.get(memory.id);
      const merged = before ? changes(before, memory) : {};
      if (Object.keys(merged).length === 0) return [];
      return [
        {
          action: "memory.merged",
          entity: { type: "memory", id: memory.id },
          before: Object.fromEntries(Object.entries(merged).map(([field, change]) => [field, change?.before])),
          after: Object.fromEntries(Object.entries(merged).map(([field, change]) => [field, change?.after])),
        },
      ];
    });
    await audit(tx, actorRef(actor), logged);
  }

  return results.map(({ memory, deduplicated }) => {
    if (!deduplicated) return { ...memory, deduplicated };
    const current = after.get(memory.id) ?? memory;
    return { ...current, deduplicated, merged: changes(memory, current) };
  });
}
