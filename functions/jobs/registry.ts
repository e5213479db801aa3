/**
 * Every job by name, configured from the environment, for the runners outside Lambda: the
 * local scheduler (`npm start`) and the CLI (`npm run job -- <name>`). A Lambda entry imports
 * only its own job's file, never this one, so each bundle carries one job.
 */
import type { Database } from "../../db/client";
import { redriveConfig, redriveDueDeadLetters } from "./dead-letters";
import { runEventProcessing } from "./events";
import { type JobName, type JobSummary, type JobTrigger, runJob } from "./job";
import { runSweeper } from "./sweeper";
import { runTieringJob, tieringConfig } from "./tiering";

export interface JobRunOptions {
  /** The clock the job measures against (default: now). */
  now?: Date;
}

const runners: Record<JobName, (database: Database, options: JobRunOptions) => Promise<object & { ok?: boolean }>> = {
  tiering: (database, { now }) => runTieringJob(database, { ...tieringConfig(), now }),
  sweeper: (database, { now }) => runSweeper(database, { now }),
  "dead-letters": (database, { now }) => redriveDueDeadLetters(database, { ...redriveConfig(), now }),
  events: (database, { now }) => runEventProcessing(database, { now }),
};

/** Runs one job once (its summary line is logged and returned). */
export function runJobByName(
  name: JobName,
  database: Database,
  trigger: JobTrigger,
  options: JobRunOptions = {},
): Promise<JobSummary<object>> {
  return runJob(name, trigger, () => runners[name](database, options));
}
