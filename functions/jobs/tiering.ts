/**
 * The tiering Lambda (EventBridge schedule, daily): one pass of memory tiering
 * (functions/memory/tiering.ts) with thresholds from the environment — CAIRN_TIER_HOT_DAYS [7],
 * CAIRN_TIER_WARM_DAYS [30], CAIRN_TIER_HOT_ACCESS_COUNT [10], CAIRN_TIER_KEEP_WARM_IMPORTANCE
 * [0.8], CAIRN_TIER_BATCH_SIZE [1000] — after purging expired memories in batches of the same
 * size (functions/memory/expiry.ts).
 */
import type { ScheduledEvent } from "aws-lambda";
import type { Database } from "../../db/client";
import { purgeExpiredMemories } from "../memory/expiry";
import {
  checkThresholds,
  DEFAULT_TIERING_BATCH_SIZE,
  DEFAULT_TIERING_THRESHOLDS,
  runTiering,
  type TieringOptions,
  type TieringThresholds,
} from "../memory/tiering";
import { jobsLambdaDatabase } from "../shared/lambda-database";
import { type DatabaseSource, envNumber, type JobContext, runJob, timeBudgetMs } from "./job";

/** Thresholds and batch size from the environment (CAIRN_TIER_*), checked. */
export function tieringConfig(env: NodeJS.ProcessEnv = process.env): {
  thresholds: TieringThresholds;
  batchSize: number;
} {
  const defaults = DEFAULT_TIERING_THRESHOLDS;
  const thresholds = checkThresholds({
    hotDays: envNumber(env, "CAIRN_TIER_HOT_DAYS", defaults.hotDays),
    warmDays: envNumber(env, "CAIRN_TIER_WARM_DAYS", defaults.warmDays),
    hotAccessCount: envNumber(env, "CAIRN_TIER_HOT_ACCESS_COUNT", defaults.hotAccessCount),
    keepWarmImportance: envNumber(env, "CAIRN_TIER_KEEP_WARM_IMPORTANCE", defaults.keepWarmImportance, { max: 1 }),
  });
  const batchSize = envNumber(env, "CAIRN_TIER_BATCH_SIZE", DEFAULT_TIERING_BATCH_SIZE, { min: 1, max: 100_000 });
  return { thresholds, batchSize: Math.floor(batchSize) };
}

/**
 * One run of the tiering job: expired memories purged first (there is no point moving what is
 * about to go), then one tiering pass, both within the time budget.
 */
export async function runTieringJob(database: Database, options: TieringOptions = {}) {
  const started = performance.now();
  const expired = await purgeExpiredMemories(database, options);
  const spent = performance.now() - started;
  const tiering = await runTiering(database, { ...options, timeBudgetMs: (options.timeBudgetMs ?? Infinity) - spent });
  return { ...tiering, expired };
}

/** The tiering Lambda (EventBridge schedule): one pass, leaving 30 s of its timeout spare. */
export function makeTieringHandler(getDatabase: DatabaseSource, overrides: TieringOptions = {}) {
  return async (_event?: ScheduledEvent, context?: JobContext) =>
    runJob("tiering", "schedule", async () =>
      runTieringJob(await getDatabase(), {
        ...tieringConfig(),
        timeBudgetMs: timeBudgetMs(context, Infinity, 30_000),
        ...overrides,
      }),
    );
}

export const handler = makeTieringHandler(jobsLambdaDatabase);
