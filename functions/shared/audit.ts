/**
 * The audit writer: the one place that writes `activity_log` rows. Every state change records
 * who did what to which entity, in the same transaction as the change. Two forms, the same
 * columns:
 * - `audit(tx, actor, entries)`: one INSERT for any number of rows, from TypeScript
 *   (`auditStatement`: the same INSERT unsent, to go in one round trip with others);
 * - `auditCte(name, actor, rows)`: a CTE of a set-based statement, whose `rows` is a SELECT
 *   of `(workspace_id, action, entity_type, entity_id, before, after)` in that order
 *   (`before`/`after` are jsonb: write `null::jsonb` when there is none).
 */
import { type SQL, sql } from "drizzle-orm";
import type { Tx } from "../../db/client";
import { activityLog } from "../../db/schema";
import type { ActorRef } from "./actor";

export interface AuditEntry {
  /** Defaults to the actor's workspace (required for maintenance actors, which have none). */
  workspaceId?: string;
  action: string;
  entity: { type: string; id: string };
  before?: unknown;
  after?: unknown;
}

export async function audit(tx: Tx, actor: ActorRef, entries: AuditEntry | AuditEntry[]): Promise<void> {
  await auditStatement(tx, actor, entries);
}

/** `audit`'s INSERT, unsent (undefined for no entries), for a caller that sends it with others (`together`). */
export function auditStatement(tx: Tx, actor: ActorRef, entries: AuditEntry | AuditEntry[]) {
  const list = Array.isArray(entries) ? entries : [entries];
  if (list.length === 0) return undefined;
  return tx.insert(activityLog).values(
    list.map((entry) => {
      const workspaceId = entry.workspaceId ?? actor.workspaceId;
      if (!workspaceId) throw new Error(`audit: ${entry.action} names no workspace`);
      return {
        workspaceId,
        actorType: actor.type,
        actorId: actor.id,
        action: entry.action,
        entityType: entry.entity.type,
        entityId: entry.entity.id,
        before: entry.before ?? null,
        after: entry.after ?? null,
      };
    }),
  );
}

export function auditCte(name: string, actor: ActorRef, rows: SQL): SQL {
  return sql`${sql.identifier(name)} as (
    insert into activity_log (workspace_id, actor_type, actor_id, action, entity_type, entity_id, before, after)
    select a.workspace_id, ${actor.type}::actor_type, ${actor.id}::text, a.action, a.entity_type, a.entity_id, a.before, a.after
    from (${rows}) as a(workspace_id, action, entity_type, entity_id, before, after))`;
}
