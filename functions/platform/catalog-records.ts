import { type AnyColumn, eq, type SQL, sql } from "drizzle-orm";
import type { Actor } from "../shared/actor";
import { NotFound } from "../shared/errors";

/**
 * The small pieces every catalog record (connector, tool, capability, payload schema)
 * repeats: "this id in the caller's workspace", "or 404", "what an update changed".
 * (Logging the change is `audit` in shared/audit.ts.)
 */

/** Row `id` of the caller's workspace. RLS hides other workspaces anyway; the explicit filter is defence in depth and uses the index. */
export const ownRow = (table: { workspaceId: AnyColumn; id: AnyColumn }, actor: Actor, id: string): SQL =>
  sql`${eq(table.workspaceId, actor.workspaceId)} and ${eq(table.id, id)}`;

/** The row, or a 404 naming it (also what another workspace's id gets). */
export function found<T>(row: T | undefined, entity: string, id: string): T {
  if (!row) throw new NotFound(entity, id);
  return row;
}

/** The fields of `row` that `changes` touches: an update's "before" in the activity log. */
export function pick<T extends object>(row: T, changes: object): Partial<T> {
  return Object.fromEntries(Object.keys(changes).map((key) => [key, row[key as keyof T]])) as Partial<T>;
}
