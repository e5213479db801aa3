/**
 * The sweeper (scheduled, default every minute): the small, frequent housekeeping that keeps
 * work moving when nobody is watching —
 * - expired work-item leases are reaped (the item is retried or dead-lettered: `reapExpiredLeases`),
 * - overdue approval requests get their timeout action (`sweepApprovalDeadlines`),
 * - approval notifications that could not be delivered are retried (`deliverPendingNotifications`),
 * - due schedules create their orders (`fireDueSchedules`; missed runs fire once, not in a burst).
 * Each step is idempotent, set-based and runs across workspaces as the maintenance role in
 * its own bounded transactions; one failing step does not stop the others (the run reports
 * it and is not `ok`).
 */
import type { ScheduledEvent } from "aws-lambda";
import type { Database } from "../../db/client";
import { sweepApprovalDeadlines } from "../approvals/deadlines";
import { deliverPendingNotifications } from "../approvals/webhook-delivery";
import { describeError } from "../shared/errors";
import { jobsLambdaDatabase } from "../shared/lambda-database";
import { fireDueSchedules } from "../work-orders/controls/schedules";
import { reapExpiredLeases } from "../work-orders/leases";
import { type DatabaseSource, type JobContext, runJob } from "./job";

type StepResult<T> = T | { error: string };

export interface SweepResult {
  leases: StepResult<Awaited<ReturnType<typeof reapExpiredLeases>>>;
  approvalDeadlines: StepResult<Awaited<ReturnType<typeof sweepApprovalDeadlines>>>;
  notifications: StepResult<Awaited<ReturnType<typeof deliverPendingNotifications>>>;
  schedules: StepResult<Awaited<ReturnType<typeof fireDueSchedules>>>;
  ok: boolean;
}

async function step<T>(work: () => Promise<T>): Promise<StepResult<T>> {
  try {
    return await work();
  } catch (error) {
    return { error: describeError(error) };
  }
}

/** One sweep at `now` (tests pass crafted times). */
export async function runSweeper(database: Database, options: { now?: Date } = {}): Promise<SweepResult> {
  const now = options.now ?? new Date();
  const leases = await step(() => reapExpiredLeases(database, now));
  const approvalDeadlines = await step(() => sweepApprovalDeadlines(database, now));
  const notifications = await step(() => deliverPendingNotifications(database, now));
  const schedules = await step(() => fireDueSchedules(database, now));
  const ok = [leases, approvalDeadlines, notifications, schedules].every((result) => !("error" in result));
  return { leases, approvalDeadlines, notifications, schedules, ok };
}

/** The sweeper Lambda (EventBridge schedule). A failed step makes the summary `ok: false`, logged as a warning. */
export function makeSweeperHandler(getDatabase: DatabaseSource, overrides: { now?: Date } = {}) {
  return async (_event?: ScheduledEvent, _context?: JobContext) =>
    runJob("sweeper", "schedule", async () => runSweeper(await getDatabase(), overrides));
}

export const handler = makeSweeperHandler(jobsLambdaDatabase);
