/**
 * The memory model beyond "text with an embedding": validity (when a fact held), supersession
 * (a fact that replaced another), subjects (the user, agent and session a memory is about, and
 * the workspace's project it belongs to), expiry, and forgetting a subject.
 *
 * - Validity: `validFrom` (defaults to when the memory was recorded) and `validTo` (null while
 *   the fact holds). Search returns facts valid now; `filters.asOf` returns those valid then.
 * - Supersession: storing a memory with `supersedes: <id>` closes the old one's validity at the
 *   new one's `validFrom` and links new to old, in one transaction; a memory has at most one
 *   successor, so versions form a chain (`versionChain`).
 * - Expiry: an expired memory (`expiresAt` in the past) is never returned, by any read, even
 *   before the tiering job purges it.
 */
import { z } from "@hono/zod-openapi";
import { type SQL, sql } from "drizzle-orm";
import { rows, type Tx } from "../../db/client";
import { memories } from "../../db/schema";
import { actorRef } from "../shared/actor";
import { auditCte } from "../shared/audit";
import { Conflict, Invalid, NotFound } from "../shared/errors";
import { parseInput } from "../shared/validation";

/** Who stores and reads memories: a request's actor, or a job acting for a workspace (no user). */
export interface MemoryActor {
  workspaceId: string;
  userId?: string | null;
}

/** A subject id: a string the client owns (its user, agent or session id). */
export const SubjectId = z.string().trim().min(1).max(200);

/** The subject and project fields, the same on memories, filters and listings. */
export const SubjectFields = {
  userId: SubjectId.optional().openapi({ description: "The user the memory is about (the client's id)" }),
  agentId: SubjectId.optional().openapi({ description: "The agent the memory belongs to (the client's id)" }),
  sessionId: SubjectId.optional().openapi({ description: "The session the memory belongs to (the client's id)" }),
  projectId: z.string().uuid().optional().openapi({ description: "A project of the workspace" }),
};
export type Subject = { userId?: string; agentId?: string; sessionId?: string; projectId?: string };

/** Which validity a read keeps: facts valid now (search's default), at a past time, or any. */
export type Validity = { kind: "now" } | { kind: "at"; at: Date } | { kind: "any" };

/** An expired memory is never returned (unqualified columns of `memories`). */
export const notExpired: SQL = sql`(expires_at is null or expires_at > now())`;

/**
 * The memory model's conditions on a read of `memories` (unqualified columns, so a statement
 * may use them on the table under any alias-free FROM): not expired, the validity asked for,
 * and the subject and project filters.
 */
export function memoryModelConditions(subject: Subject, validity: Validity): SQL[] {
  const conditions: SQL[] = [notExpired];
  if (validity.kind === "now") {
    conditions.push(sql`valid_from <= now() and (valid_to is null or valid_to > now())`);
  } else if (validity.kind === "at") {
    const at = validity.at.toISOString();
    conditions.push(sql`valid_from <= ${at}::timestamptz and (valid_to is null or valid_to > ${at}::timestamptz)`);
  }
  if (subject.userId !== undefined) conditions.push(sql`user_id = ${subject.userId}`);
  if (subject.agentId !== undefined) conditions.push(sql`agent_id = ${subject.agentId}`);
  if (subject.sessionId !== undefined) conditions.push(sql`session_id = ${subject.sessionId}`);
  if (subject.projectId !== undefined) conditions.push(sql`project_id = ${subject.projectId}::uuid`);
  return conditions;
}

/** The supersession targets of a store: locked, checked (visible, open), before anything is written. */
export async function lockSuperseded(
  tx: Tx,
  actor: MemoryActor,
  targets: { id: string; validFrom: Date | undefined; path: string }[],
): Promise<void> {
  if (targets.length === 0) return;
  const ids = targets.map((target) => target.id);
  if (new Set(ids).size !== ids.length) throw new Conflict("Two memories of one request supersede the same memory");
  const found = await rows<{ id: string; valid_from: string | Date; valid_to: string | Date | null }>(
    tx,
    sql`select id, valid_from, valid_to from memories
        where workspace_id = ${actor.workspaceId} and id in ${ids} and ${notExpired}
        for update`,
  );
  const byId = new Map(found.map((row) => [row.id, row]));
  for (const target of targets) {
    const row = byId.get(target.id);
    if (!row) throw new NotFound("Memory", target.id);
    if (row.valid_to !== null) {
      throw new Conflict(`Memory ${target.id} is no longer valid (superseded or closed); supersede its latest version`);
    }
    if (target.validFrom && target.validFrom <= new Date(row.valid_from)) {
      throw new Invalid("A superseding memory's validFrom must be after the superseded memory's validFrom", [
        { path: target.path, message: `must be after ${new Date(row.valid_from).toISOString()}` },
      ]);
    }
  }
}

/**
 * Closes the superseded memories' validity at their successors' `validFrom`, with an activity
 * row each: one statement. The successors were inserted with `supersedes_id` already.
 */
export async function closeSuperseded(tx: Tx, actor: MemoryActor, successorIds: string[]): Promise<void> {
  if (successorIds.length === 0) return;
  await rows(
    tx,
    sql`with closed as (
          update memories old set valid_to = new.valid_from, updated_at = now()
          from memories new
          where new.workspace_id = ${actor.workspaceId} and new.id in ${successorIds}
            and old.id = new.supersedes_id and old.workspace_id = new.workspace_id and old.valid_to is null
          returning old.id, old.workspace_id, new.id as successor_id, old.valid_to
        ),
        ${auditCte(
          "logged",
          actorRef(actor),
          sql`select workspace_id, 'memory.superseded', 'memory', id, null::jsonb,
                     jsonb_build_object('validTo', valid_to, 'supersededBy', successor_id)
              from closed`,
        )}
        select count(*) from closed`,
  );
}

/**
 * A memory's versions, oldest first: the memories it superseded (transitively) and those that
 * superseded it. Expired versions are left out.
 */
export async function versionChain(tx: Tx, actor: MemoryActor, id: string): Promise<string[]> {
  const found = await rows<{ id: string; depth: number }>(
    tx,
    sql`with recursive
          older(id, supersedes_id, depth) as (
            select id, supersedes_id, 0 from memories where workspace_id = ${actor.workspaceId} and id = ${id}
            union all
            select m.id, m.supersedes_id, o.depth - 1 from memories m join older o on m.id = o.supersedes_id
            where m.workspace_id = ${actor.workspaceId}
          ),
          newer(id, depth) as (
            select id, 0 from memories where workspace_id = ${actor.workspaceId} and id = ${id}
            union all
            select m.id, n.depth + 1 from memories m join newer n on m.supersedes_id = n.id
            where m.workspace_id = ${actor.workspaceId}
          ),
          chain as (select id, depth from older union select id, depth from newer)
        select chain.id, chain.depth from chain join memories m on m.id = chain.id
        where m.workspace_id = ${actor.workspaceId} and (m.expires_at is null or m.expires_at > now())
        order by chain.depth`,
  );
  if (!found.some((row) => row.id === id)) throw new NotFound("Memory", id);
  return found.map((row) => row.id);
}

export const ForgetInput = z
  .strictObject({
    userId: SubjectId.optional(),
    agentId: SubjectId.optional(),
    sessionId: SubjectId.optional(),
  })
  .refine((value) => Object.values(value).some((v) => v !== undefined), {
    message: "Name the subject to forget: userId, agentId or sessionId (several narrow it: all must match)",
  })
  .openapi("ForgetMemoriesInput");

export const ForgetResult = z
  .object({
    deleted: z.number().int().openapi({ description: "Memories deleted (each has a `memory.forgotten` activity row)" }),
  })
  .openapi("ForgetMemoriesResult");

/**
 * Forgets a subject: deletes every memory of the workspace whose subject matches (all given
 * fields must match), whatever its validity or expiry, in one statement that also writes one
 * `memory.forgotten` activity row per memory (its id and type; never its content). Links from
 * conversations and work items go with the memories (foreign keys, on delete cascade).
 */
export async function forgetSubject(
  tx: Tx,
  actor: MemoryActor,
  raw: z.input<typeof ForgetInput>,
): Promise<z.output<typeof ForgetResult>> {
  const input = parseInput(ForgetInput, raw);
  const subject = memoryModelConditions(input, { kind: "any" }).slice(1); // every memory: expired ones too
  const [row] = await rows<{ deleted: number | string }>(
    tx,
    sql`with forgotten as (
          delete from ${memories}
          where workspace_id = ${actor.workspaceId} and ${sql.join(subject, sql` and `)}
          returning id, workspace_id, type
        ),
        ${auditCte(
          "logged",
          actorRef(actor),
          sql`select workspace_id, 'memory.forgotten', 'memory', id,
                     jsonb_build_object('type', type, 'subject', ${JSON.stringify(input)}::jsonb), null::jsonb
              from forgotten`,
        )}
        select count(*) as deleted from forgotten`,
  );
  return { deleted: Number(row?.deleted ?? 0) };
}
