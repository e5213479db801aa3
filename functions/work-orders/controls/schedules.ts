/**
 * Schedules: a cron expression (UTC) with a workflow template (and a payload) creates an order
 * each period. The sweeper fires them (`fireDueSchedules`, every minute by default, on the local
 * scheduler and in AWS).
 *
 * Missed runs are not replayed in a burst: a schedule's next run is always computed from the
 * time it fires, so after downtime it fires once (the one catch-up) and then keeps its period.
 * While paused it does not fire; resuming sets its next run after the resume, with no catch-up.
 * A run's order carries an Idempotency-Key of the schedule and the period, so two sweepers racing
 * create one order.
 */
import { z } from "@hono/zod-openapi";
import { and, asc, eq, sql } from "drizzle-orm";
import { type Database, one, rows, type Tx } from "../../../db/client";
import { workSchedules } from "../../../db/schema";
import { type Actor, actorRef } from "../../shared/actor";
import { audit } from "../../shared/audit";
import { AppError, Invalid, NotFound } from "../../shared/errors";
import { logger } from "../../shared/logger";
import { createSelectSchema, JsonObject, selection } from "../../shared/schemas";
import { parseInput, StorableJsonObject } from "../../shared/validation";
import { findTemplate } from "../templates";
import { createWorkOrder, Priority } from "../work-orders";
import { nextRunOrRefuse } from "./cron";

export const CreateScheduleInput = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    cron: z.string().min(1).max(200).openapi({
      description: "Five fields, UTC: minute hour day-of-month month day-of-week",
      example: "*/15 * * * *",
    }),
    templateId: z.string().uuid(),
    title: z
      .string()
      .trim()
      .min(1)
      .max(500)
      .optional()
      .openapi({ description: "The orders' title (default: the schedule's name)" }),
    payload: StorableJsonObject().default({}).openapi({ description: "Merged over every step's payload defaults" }),
    priority: Priority.default("MEDIUM"),
  })
  .openapi("CreateScheduleInput");

const ScheduleRow = createSelectSchema(workSchedules, { payload: JsonObject }).omit({ workspaceId: true });
export const Schedule = ScheduleRow.openapi("Schedule");
const scheduleColumns = selection(workSchedules, ScheduleRow);

/** The transaction's time on the database's clock: a request path's one clock. */
async function databaseNow(tx: Tx): Promise<Date> {
  const [row] = await rows<{ now: Date | string }>(tx, sql`select now() as now`);
  if (!row) throw new Error("select now() returned no row");
  return new Date(row.now);
}

/** Creates a schedule; its first run is the cron's next after `now` (default: the database's clock). */
export async function createSchedule(tx: Tx, actor: Actor, raw: z.input<typeof CreateScheduleInput>, now?: Date) {
  const input = parseInput(CreateScheduleInput, raw);
  const nextRunAt = nextRunOrRefuse(input.cron, now ?? (await databaseNow(tx)));
  const template = await findTemplate(tx, actor.workspaceId, input.templateId);
  if (!template) throw new Invalid(`templateId ${input.templateId} refers to no workflow template`);
  const row = one(
    await tx
      .insert(workSchedules)
      .values({
        workspaceId: actor.workspaceId,
        name: input.name,
        cron: input.cron.trim(),
        templateId: input.templateId,
        title: input.title ?? input.name,
        payload: input.payload,
        priority: input.priority,
        nextRunAt,
        createdBy: actor.userId,
      })
      .returning(scheduleColumns),
  );
  await audit(tx, actorRef(actor), {
    action: "schedule.created",
    entity: { type: "schedule", id: row.id },
    after: { name: row.name, cron: row.cron, templateId: row.templateId, nextRunAt },
  });
  return row;
}

export function listSchedules(tx: Tx, actor: Actor) {
  return tx
    .select(scheduleColumns)
    .from(workSchedules)
    .where(eq(workSchedules.workspaceId, actor.workspaceId))
    .orderBy(asc(workSchedules.name));
}

export async function getSchedule(tx: Tx, actor: Actor, id: string) {
  const [row] = await tx
    .select(scheduleColumns)
    .from(workSchedules)
    .where(and(eq(workSchedules.workspaceId, actor.workspaceId), eq(workSchedules.id, id)));
  if (!row) throw new NotFound("Schedule", id);
  return row;
}

/**
 * Pauses, or resumes with the next run after `now` (default: the database's clock); runs missed
 * while paused are not made up.
 */
export async function setSchedulePaused(tx: Tx, actor: Actor, id: string, paused: boolean, at?: Date) {
  const current = await getSchedule(tx, actor, id);
  const now = at ?? (await databaseNow(tx));
  const [row] = await tx
    .update(workSchedules)
    .set(
      paused
        ? { pausedAt: current.pausedAt ?? now, updatedAt: sql`now()` }
        : {
            pausedAt: null,
            nextRunAt: current.pausedAt ? nextRunOrRefuse(current.cron, now) : current.nextRunAt,
            updatedAt: sql`now()`,
          },
    )
    .where(and(eq(workSchedules.workspaceId, actor.workspaceId), eq(workSchedules.id, id)))
    .returning(scheduleColumns);
  if (!row) throw new NotFound("Schedule", id);
  await audit(tx, actorRef(actor), {
    action: paused ? "schedule.paused" : "schedule.resumed",
    entity: { type: "schedule", id },
    after: { pausedAt: row.pausedAt, nextRunAt: row.nextRunAt },
  });
  return row;
}

export async function deleteSchedule(tx: Tx, actor: Actor, id: string) {
  const [row] = await tx
    .delete(workSchedules)
    .where(and(eq(workSchedules.workspaceId, actor.workspaceId), eq(workSchedules.id, id)))
    .returning({ name: workSchedules.name });
  if (!row) throw new NotFound("Schedule", id);
  await audit(tx, actorRef(actor), {
    action: "schedule.deleted",
    entity: { type: "schedule", id },
    before: { name: row.name },
  });
}

export interface FireResult {
  fired: number;
  ordersCreated: number;
  failed: number;
}

/**
 * Fires the schedules due at `now` (tests pass crafted times), up to `limit` of them: each in
 * its workspace's transaction, which locks the schedule (SKIP LOCKED: another sweeper has it),
 * creates the order and sets the next run after `now`. A run whose order cannot be created
 * (the template no longer fits) records why and still moves on to the next period.
 */
export async function fireDueSchedules(database: Database, now: Date = new Date(), limit = 100): Promise<FireResult> {
  const at = now.toISOString();
  const due = await database.withMaintenance((tx) =>
    rows<{ id: string; workspace_id: string }>(
      tx,
      sql`select id, workspace_id from work_schedules
          where paused_at is null and next_run_at <= ${at}::timestamptz
          order by next_run_at limit ${limit}`,
    ),
  );
  const result: FireResult = { fired: 0, ordersCreated: 0, failed: 0 };
  for (const { id, workspace_id: workspaceId } of due) {
    const outcome = await database.withTenant({ workspaceId, userId: null }, async (tx) => {
      const [schedule] = await rows<{
        cron: string;
        template_id: string;
        title: string;
        payload: unknown;
        priority: string;
        next_run_at: string | Date;
      }>(
        tx,
        sql`select cron, template_id, title, payload, priority, next_run_at from work_schedules
            where id = ${id}::uuid and paused_at is null and next_run_at <= ${at}::timestamptz
            for update skip locked`,
      );
      if (!schedule) return "skipped" as const;
      const period = new Date(schedule.next_run_at).toISOString();
      // The schedule's own run: no person, no key (the activity log names the system).
      const actor: Actor = {
        workspaceId,
        userId: null,
        apiKeyId: "",
        scopes: ["work:write"],
        role: null,
        identityVerified: false,
      };
      let orderId: string | null = null;
      let error: string | null = null;
      try {
        const payload = typeof schedule.payload === "string" ? JSON.parse(schedule.payload) : schedule.payload;
        const created = await tx.transaction((inner) =>
          createWorkOrder(
            inner as unknown as Tx,
            actor,
            {
              title: schedule.title,
              templateId: schedule.template_id,
              payload: payload as Record<string, unknown>,
              priority: schedule.priority as z.infer<typeof Priority>,
              metadata: { scheduleId: id, scheduledFor: period },
            },
            { idempotencyKey: `schedule:${id}:${period}` },
          ),
        );
        orderId = created.order.id;
      } catch (caught) {
        if (!(caught instanceof AppError)) throw caught;
        error = caught.message;
      }
      await tx
        .update(workSchedules)
        .set({
          lastRunAt: new Date(period),
          nextRunAt: nextRunOrRefuse(schedule.cron, now),
          lastOrderId: orderId,
          lastError: error,
          updatedAt: sql`now()`,
        })
        .where(eq(workSchedules.id, id));
      return orderId ? ("created" as const) : ("failed" as const);
    });
    if (outcome === "skipped") continue;
    result.fired++;
    if (outcome === "created") result.ordersCreated++;
    else result.failed++;
  }
  if (result.failed > 0) logger.warn("scheduled runs created no order", { ...result });
  return result;
}
