/**
 * Memory tiering: moves memories between the hot, warm and cold tiers (run by the tiering
 * job, daily; functions/jobs/tiering.ts).
 *
 * A memory's tier follows from its recency, how often it is used and its importance. With
 * "last touched" = the later of `created_at` and `last_accessed_at`, and the thresholds below
 * (environment, defaults in brackets):
 *
 *   1. a pinned memory is always in its pinned tier (`pinned_tier`; a person chose it);
 *   2. hot  — touched within CAIRN_TIER_HOT_DAYS [7] days, or used often: at least
 *             CAIRN_TIER_HOT_ACCESS_COUNT [10] accesses and touched within the warm window
 *             (a lifetime counter alone would keep a memory nobody has read for a year hot);
 *   3. warm — touched within CAIRN_TIER_WARM_DAYS [30] days, or importance at least
 *             CAIRN_TIER_KEEP_WARM_IMPORTANCE [0.8] (important memories never go cold);
 *   4. cold — everything else.
 *
 * The run is set-based and bounded: each batch is one statement in its own maintenance
 * transaction (role `cairn_maintenance`, which sees every workspace — migration 0000/0002) that
 * picks up to CAIRN_TIER_BATCH_SIZE [1000] memories whose tier differs from their target, in id
 * order after the previous batch's last id, locks them `FOR NO KEY UPDATE SKIP LOCKED`, updates
 * them and returns old and new tiers. Access statistics come from `memory_access`; `tier` is in
 * no index, so each move is a HOT update of the memory row (its embedding and indexes untouched).
 * Because the candidates are chosen by "tier differs from the
 * target", a repeated run changes nothing, and two concurrent runs split the rows between them
 * (a row one run holds is skipped by the other; a row the other already moved no longer
 * qualifies when re-checked) and converge on the same tiers as one run.
 */
import { type SQL, sql } from "drizzle-orm";
import { type Database, rows } from "../../db/client";
import type { memoryTier } from "../../db/schema";

export type Tier = (typeof memoryTier.enumValues)[number];
export type TierMove = `${Tier}_to_${Tier}`;
export type TierMoves = Partial<Record<TierMove, number>>;

export interface TieringThresholds {
  /** Touched within this many days: hot. */
  hotDays: number;
  /** Touched within this many days: at least warm. */
  warmDays: number;
  /** At least this many accesses (and touched within `warmDays`): hot. */
  hotAccessCount: number;
  /** Importance at or above this: never below warm. */
  keepWarmImportance: number;
}

export const DEFAULT_TIERING_THRESHOLDS: TieringThresholds = {
  hotDays: 7,
  warmDays: 30,
  hotAccessCount: 10,
  keepWarmImportance: 0.8,
};
export const DEFAULT_TIERING_BATCH_SIZE = 1000;

export interface TieringOptions {
  /** The clock the ages are measured against (tests pass crafted times). Default: now. */
  now?: Date;
  /** Memories moved per batch (one statement, one transaction). */
  batchSize?: number;
  thresholds?: Partial<TieringThresholds>;
  /** Stop starting batches after this long; the next run continues (`complete: false`). */
  timeBudgetMs?: number;
}

export interface TieringResult {
  /** Moves per workspace: `{ [workspaceId]: { hot_to_warm: n, warm_to_cold: n, … } }`. */
  moved: Record<string, TierMoves>;
  /** The same moves summed over workspaces. */
  totals: TierMoves;
  /** Memories moved in all. */
  total: number;
  batches: number;
  /** False when the time budget ran out before every memory was in its tier. */
  complete: boolean;
  now: string;
  thresholds: TieringThresholds;
  batchSize: number;
}

export function checkThresholds(thresholds: TieringThresholds): TieringThresholds {
  const { hotDays, warmDays, hotAccessCount, keepWarmImportance } = thresholds;
  const valid =
    [hotDays, warmDays, hotAccessCount, keepWarmImportance].every((n) => Number.isFinite(n) && n >= 0) &&
    hotDays <= warmDays &&
    keepWarmImportance <= 1;
  if (!valid) {
    throw new Error(
      `Invalid tiering thresholds ${JSON.stringify(thresholds)}: all must be ≥ 0, hot days ≤ warm days, importance ≤ 1`,
    );
  }
  return thresholds;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The tier a memory belongs in (the rules in this file's header), as one SQL expression over `m`
 * (memories) and `a` (its memory_access row, left-joined: none for a memory never accessed).
 */
export function targetTier(now: Date, thresholds: TieringThresholds): SQL {
  const hotSince = new Date(now.getTime() - thresholds.hotDays * DAY_MS).toISOString();
  const warmSince = new Date(now.getTime() - thresholds.warmDays * DAY_MS).toISOString();
  // greatest() ignores NULLs: a memory never accessed is as recent as its creation.
  const touched = sql`greatest(m.created_at, a.last_accessed_at)`;
  return sql`(case
    when m.pinned_tier is not null then m.pinned_tier
    when ${touched} >= ${hotSince}::timestamptz then 'hot'::memory_tier
    when coalesce(a.access_count, 0) >= ${thresholds.hotAccessCount}::int and ${touched} >= ${warmSince}::timestamptz then 'hot'::memory_tier
    when ${touched} >= ${warmSince}::timestamptz then 'warm'::memory_tier
    when m.importance >= ${thresholds.keepWarmImportance}::real then 'warm'::memory_tier
    else 'cold'::memory_tier
  end)`;
}

interface BatchRow {
  workspace_id: string;
  old_tier: Tier;
  new_tier: Tier;
  n: number;
  last_id: string;
}

/**
 * One tiering pass over every workspace, in bounded batches (see the header). Returns how many
 * memories moved each way, per workspace. Exported for `npm run job`, the benchmark and tests.
 */
export async function runTiering(database: Database, options: TieringOptions = {}): Promise<TieringResult> {
  const now = options.now ?? new Date();
  const thresholds = checkThresholds({ ...DEFAULT_TIERING_THRESHOLDS, ...options.thresholds });
  const batchSize = Math.max(1, Math.floor(options.batchSize ?? DEFAULT_TIERING_BATCH_SIZE));
  const deadline = performance.now() + (options.timeBudgetMs ?? Infinity);
  const target = targetTier(now, thresholds);

  const result: TieringResult = {
    moved: {},
    totals: {},
    total: 0,
    batches: 0,
    complete: false,
    now: now.toISOString(),
    thresholds,
    batchSize,
  };
  let cursor: string | null = null;
  while (performance.now() < deadline) {
    const after: SQL = cursor === null ? sql`true` : sql`m.id > ${cursor}::uuid`;
    // RETURNING shows the new row, so the old tier comes from the locked candidates (a CTE).
    const batch: BatchRow[] = await database.withMaintenance((tx) =>
      rows<BatchRow>(
        tx,
        sql`
          with candidates as (
            select m.id, m.workspace_id, m.tier as old_tier, ${target} as new_tier
            from memories m left join memory_access a on a.memory_id = m.id
            where ${after} and m.tier is distinct from ${target}
            order by m.id
            limit ${batchSize}
            for no key update of m skip locked
          ),
          -- Only unindexed columns change: a HOT update (memories_tier_idx is gone, migration 0009).
          moved as (
            update memories m set tier = c.new_tier, updated_at = now()
            from candidates c
            where m.id = c.id
            returning m.id, c.workspace_id, c.old_tier, c.new_tier
          )
          select workspace_id, old_tier, new_tier, count(*)::int as n,
                 (select id from moved order by id desc limit 1) as last_id
          from moved
          group by workspace_id, old_tier, new_tier`,
      ),
    );
    if (batch.length === 0) {
      result.complete = true;
      break;
    }
    result.batches += 1;
    cursor = batch[0]?.last_id ?? null;
    for (const row of batch) {
      const move = `${row.old_tier}_to_${row.new_tier}` as TierMove;
      const count = Number(row.n);
      const workspace = result.moved[row.workspace_id] ?? {};
      result.moved[row.workspace_id] = workspace;
      workspace[move] = (workspace[move] ?? 0) + count;
      result.totals[move] = (result.totals[move] ?? 0) + count;
      result.total += count;
    }
  }
  return result;
}
