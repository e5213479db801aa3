/**
 * The local scheduler: inside `npm start`, the same jobs the deployment runs on EventBridge
 * schedules run here on timers, so the embedded default behaves like a deployment.
 *
 * - CAIRN_SCHEDULER=off disables it (nothing runs; "scheduler disabled" is logged).
 * - Intervals in milliseconds: CAIRN_SCHEDULE_TIERING_MS [24 h], CAIRN_SCHEDULE_SWEEPER_MS
 *   [60 s], CAIRN_SCHEDULE_DEAD_LETTERS_MS [5 min], CAIRN_SCHEDULE_EVENTS_MS [10 s]; 0 turns
 *   one job off.
 * - Each job first runs shortly after start (after min(its interval, 5 s)), then its interval
 *   after the previous run ended: runs of one job never overlap. Different jobs may run at
 *   the same time; every job is safe alongside the others and alongside requests.
 * - Logs "scheduler started" with the intervals, and one summary line per run (from `runJob`).
 */
import type { Database } from "../../db/client";
import { logger } from "../shared/logger";
import { envNumber, JOB_NAMES, type JobName } from "./job";
import { runJobByName } from "./registry";

export type JobIntervals = Record<JobName, number>;

export const DEFAULT_INTERVALS: JobIntervals = {
  tiering: 24 * 60 * 60_000,
  sweeper: 60_000,
  "dead-letters": 5 * 60_000,
  events: 10_000,
};

const INTERVAL_ENV: Record<JobName, string> = {
  tiering: "CAIRN_SCHEDULE_TIERING_MS",
  sweeper: "CAIRN_SCHEDULE_SWEEPER_MS",
  "dead-letters": "CAIRN_SCHEDULE_DEAD_LETTERS_MS",
  events: "CAIRN_SCHEDULE_EVENTS_MS",
};

/** Intervals from the environment (0 = that job off). */
export function schedulerIntervals(env: NodeJS.ProcessEnv = process.env): JobIntervals {
  return Object.fromEntries(
    JOB_NAMES.map((name) => [name, envNumber(env, INTERVAL_ENV[name], DEFAULT_INTERVALS[name])]),
  ) as JobIntervals;
}

export interface LocalSchedulerOptions {
  /** Default: on unless CAIRN_SCHEDULER=off. */
  enabled?: boolean;
  /** Per-job intervals in ms (default: from the environment); 0 turns a job off. */
  intervals?: Partial<JobIntervals>;
  /** Delay before each job's first run (default: min(interval, 5 s)). */
  initialDelayMs?: number;
  /** What a run does (default: the job itself, `runJobByName(name, database, "local")`); tests replace it. */
  run?: (name: JobName, database: Database) => Promise<unknown>;
  env?: NodeJS.ProcessEnv;
}

export interface LocalScheduler {
  /** The intervals in force (empty when disabled). */
  readonly intervals: Partial<JobIntervals>;
  /** Stops the timers and waits for runs in progress to finish. */
  stop(): Promise<void>;
}

export function startLocalScheduler(database: Database, options: LocalSchedulerOptions = {}): LocalScheduler {
  const env = options.env ?? process.env;
  const enabled = options.enabled ?? env.CAIRN_SCHEDULER?.trim().toLowerCase() !== "off";
  if (!enabled) {
    logger.info("scheduler disabled", { reason: options.enabled === false ? "option" : "CAIRN_SCHEDULER=off" });
    return { intervals: {}, stop: async () => {} };
  }
  const intervals: JobIntervals = { ...schedulerIntervals(env), ...options.intervals };
  const run = options.run ?? ((name: JobName, db: Database) => runJobByName(name, db, "local"));
  const active = JOB_NAMES.filter((name) => intervals[name] > 0);
  const timers = new Map<JobName, NodeJS.Timeout>();
  const inFlight = new Map<JobName, Promise<void>>();
  let stopped = false;

  const schedule = (name: JobName, delayMs: number) => {
    if (stopped) return;
    const timer = setTimeout(() => {
      timers.delete(name);
      const current = (async () => {
        try {
          await run(name, database);
        } catch (error) {
          // `runJob` already logged the failure; the next run tries again.
          if (options.run) logger.error("scheduled run failed", { job: name, error });
        }
      })();
      inFlight.set(name, current);
      void current.finally(() => {
        inFlight.delete(name);
        schedule(name, intervals[name]);
      });
    }, delayMs);
    // The scheduler never keeps the process alive on its own.
    timer.unref();
    timers.set(name, timer);
  };

  for (const name of active) schedule(name, options.initialDelayMs ?? Math.min(intervals[name], 5_000));
  logger.info("scheduler started", {
    intervalsMs: Object.fromEntries(active.map((name) => [name, intervals[name]])),
    off: JOB_NAMES.filter((name) => !active.includes(name)),
  });

  return {
    intervals: Object.fromEntries(active.map((name) => [name, intervals[name]])),
    stop: async () => {
      stopped = true;
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      await Promise.all(inFlight.values());
      logger.info("scheduler stopped");
    },
  };
}
