import { and, eq, type AnyColumn, type SQL } from "drizzle-orm";
import type { Tx } from "../../db/client";
import type { Actor } from "../shared/auth";
import { recordActivity } from "../shared/activity";
import { NotFound } from "../shared/errors";

/**
 * The small pieces every catalog record (connector, tool, capability, payload schema)
 * repeats: "this id in the caller's workspace", "or 404", "and log it".
 */

/** Row `id` of the caller's workspace. RLS hides other workspaces anyway; the explicit filter is defence in depth and uses the index. */
export const ownRow = (table: { workspaceId: AnyColumn; id: AnyColumn }, actor: Actor, id: string): SQL =>
  and(eq(table.workspaceId, actor.workspaceId), eq(table.id, id))!;

/** The row, or a 404 naming it (also what another workspace's id gets). */
export function found<T>(row: T | undefined, entity: string, id: string): T {
  if (!row) throw new NotFound(entity, id);
  return row;
}

/** One activity row for a change the actor made to a catalog record. */
export function recordChange(
  tx: Tx,
  actor: Actor,
  action: string,
  entity: { type: string; id: string },
  change: { before?: unknown; after?: unknown } = {},
) {
  return recordActivity(tx, {
    workspaceId: actor.workspaceId,
    actor: { type: "USER", id: actor.userId },
    action,
    entityType: entity.type,
    entityId: entity.id,
    ...change,
  });
}

/** The fields of `row` that `changes` touches: an update's "before" in the activity log. */
export function pick<T extends object>(row: T, changes: object): Partial<T> {
  return Object.fromEntries(Object.keys(changes).map((key) => [key, row[key as keyof T]])) as Partial<T>;
}
