import type { Tx } from "../../db/client";
import { activityLog } from "../../db/schema";

export interface ActivityEntry {
  workspaceId: string;
  actor: { type: "USER" | "API_KEY" | "SYSTEM"; id?: string | null };
  action: string;
  entityType: string;
  entityId: string;
  before?: unknown;
  after?: unknown;
}

/**
 * One activity row for a change the acting user made in their workspace (the common case).
 * The actor's `userId` may be null (a caller with no user): the row then names no one.
 */
export function recordChange(
  tx: Tx,
  actor: { workspaceId: string; userId?: string | null },
  action: string,
  entity: { type: string; id: string },
  change: { before?: unknown; after?: unknown } = {},
): Promise<void> {
  return recordActivity(tx, {
    workspaceId: actor.workspaceId,
    actor: { type: "USER", id: actor.userId ?? null },
    action,
    entityType: entity.type,
    entityId: entity.id,
    ...change,
  });
}

/** Who an activity row names: the acting user, or the system when no user acts (jobs, signed intake). */
export function activityActor(userId: string | null | undefined): ActivityEntry["actor"] {
  return userId ? { type: "USER", id: userId } : { type: "SYSTEM" };
}

/** Writes activity rows in the caller's transaction, so they commit with the change. One INSERT for many. */
export async function recordActivity(tx: Tx, entries: ActivityEntry | ActivityEntry[]): Promise<void> {
  const list = Array.isArray(entries) ? entries : [entries];
  if (list.length === 0) return;
  await tx.insert(activityLog).values(
    list.map((entry) => ({
      workspaceId: entry.workspaceId,
      actorType: entry.actor.type,
      actorId: entry.actor.id ?? null,
      action: entry.action,
      entityType: entry.entityType,
      entityId: entry.entityId,
      before: entry.before ?? null,
      after: entry.after ?? null,
    })),
  );
}
