/**
 * Purging expired memories (run by the tiering job, after-hours housekeeping of the memory
 * table). An expired memory is already invisible to every read (memory-model.ts `notExpired`);
 * the purge deletes it for good.
 *
 * Bounded like tiering: each batch is one statement in its own maintenance transaction that
 * picks up to `batchSize` expired memories (`memories_expiry_idx`), locks them `FOR UPDATE SKIP
 * LOCKED` (so two runs split the work and never wait on a request holding one), deletes them
 * and writes one `memory.expired` activity row per memory, in the same statement.
 */
import { sql } from "drizzle-orm";
import { type Database, rows } from "../../db/client";
import { systemActor } from "../shared/actor";
import { auditCte } from "../shared/audit";

export const DEFAULT_PURGE_BATCH_SIZE = 1000;

export interface PurgeOptions {
  batchSize?: number;
  /** Stop starting batches after this long; the next run continues (`complete: false`). */
  timeBudgetMs?: number;
}

export interface PurgeResult {
  /** Memories deleted per workspace. */
  purged: Record<string, number>;
  total: number;
  batches: number;
  complete: boolean;
}

export async function purgeExpiredMemories(database: Database, options: PurgeOptions = {}): Promise<PurgeResult> {
  const batchSize = Math.max(1, Math.floor(options.batchSize ?? DEFAULT_PURGE_BATCH_SIZE));
  const deadline = performance.now() + (options.timeBudgetMs ?? Infinity);
  const result: PurgeResult = { purged: {}, total: 0, batches: 0, complete: false };
  while (performance.now() < deadline) {
    const batch = await database.withMaintenance((tx) =>
      rows<{ workspace_id: string; n: number | string }>(
        tx,
        sql`with doomed as (
              select id from memories
              where expires_at is not null and expires_at <= now()
              order by expires_at, id
              limit ${batchSize}
              for update skip locked
            ),
            purged as (
              delete from memories m using doomed d where m.id = d.id
              returning m.id, m.workspace_id, m.type, m.expires_at
            ),
            ${auditCte(
              "logged",
              systemActor(null, "tiering"),
              sql`select workspace_id, 'memory.expired', 'memory', id,
                         jsonb_build_object('type', type, 'expiresAt', expires_at), null::jsonb
                  from purged`,
            )}
            select workspace_id, count(*)::int as n from purged group by workspace_id`,
      ),
    );
    if (batch.length === 0) {
      result.complete = true;
      break;
    }
    result.batches += 1;
    for (const row of batch) {
      const count = Number(row.n);
      result.purged[row.workspace_id] = (result.purged[row.workspace_id] ?? 0) + count;
      result.total += count;
    }
  }
  return result;
}
