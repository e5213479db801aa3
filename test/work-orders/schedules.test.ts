/**
 * Schedules on both databases, with time injected (never slept): the sweeper fires a schedule
 * once per period, at most once after downtime, not while paused, and not after deletion; a bad
 * cron expression is a 422. Plus the cron parser itself.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { type Database, rows } from "../../db/client";
import { connectors } from "../../db/schema";
import { APPROVAL_WEBHOOK_JOB } from "../../functions/approvals/webhook-delivery";
import { runSweeper } from "../../functions/jobs/sweeper";
import { nextRun, parseCron } from "../../functions/work-orders/controls/cron";
import {
  createSchedule,
  deleteSchedule,
  getSchedule,
  setSchedulePaused,
} from "../../functions/work-orders/controls/schedules";
import { createTemplate } from "../../functions/work-orders/templates";
import { describeEachDatabase } from "../support/databases";
import { ownerActor, seedWorkspace } from "../support/http";

const at = (iso: string) => new Date(iso);

describe("cron expressions", () => {
  const next = (expression: string, after: string) => nextRun(parseCron(expression), at(after))?.toISOString();

  it("finds the next run after a time, in UTC", () => {
    expect(next("*/15 * * * *", "2030-01-01T10:07:30Z")).toBe("2030-01-01T10:15:00.000Z");
    expect(next("0 9 * * MON-FRI", "2030-01-04T09:00:00Z")).toBe("2030-01-07T09:00:00.000Z"); // Friday → Monday
    expect(next("30 2 1 * *", "2030-01-31T00:00:00Z")).toBe("2030-02-01T02:30:00.000Z");
    expect(next("0 0 29 2 *", "2030-03-01T00:00:00Z")).toBe("2032-02-29T00:00:00.000Z");
    expect(next("0 12 1 * 0", "2030-01-02T00:00:00Z")).toBe("2030-01-06T12:00:00.000Z"); // day 1 or a Sunday
    expect(next("5,10-12/2 0 * JAN,jul 7", "2030-01-01T00:00:00Z")).toBe("2030-01-06T00:05:00.000Z");
    expect(next("0 0 30 2 *", "2030-01-01T00:00:00Z")).toBeUndefined();
  });

  it("refuses malformed expressions with 422 saying which field", () => {
    for (const bad of [
      "* * * *",
      "60 * * * *",
      "* 24 * * *",
      "* * 0 * *",
      "*/0 * * * *",
      "5-1 * * * *",
      "a b c d e",
      "* * * * 8",
      "1-2-3 * * * *",
      "*/x * * * *",
    ]) {
      expect(() => parseCron(bad), bad).toThrow(expect.objectContaining({ status: 422 }));
    }
    expect(() => parseCron(`${"1,".repeat(150)}1 * * * *`)).toThrow(expect.objectContaining({ status: 422 }));
  });
});

describeEachDatabase("schedules", (db) => {
  async function setup() {
    const { database } = db();
    const ws = await seedWorkspace(database);
    const actor = ownerActor(ws);
    const tenant = <T>(fn: (tx: Parameters<Parameters<Database["withTenant"]>[1]>[0]) => Promise<T>) =>
      database.withTenant({ workspaceId: actor.workspaceId, userId: actor.userId }, fn);
    const template = await tenant((tx) =>
      createTemplate(tx, actor, { name: "digest", steps: [{ type: "digest", payloadDefaults: { window: "5m" } }] }),
    );
    const orders = async () =>
      rows<{ title: string; metadata: { scheduledFor: string } | string; payload: Record<string, unknown> | string }>(
        database.db,
        sql`select o.title, o.metadata, i.payload from work_orders o join work_items i on i.work_order_id = o.id
            where o.workspace_id = ${actor.workspaceId}::uuid order by o.created_at`,
      );
    return { database, actor, tenant, template, orders };
  }
  const json = <T>(value: T | string): T => (typeof value === "string" ? (JSON.parse(value) as T) : value);

  it("fires once per period, once after downtime, never while paused or after deletion", async () => {
    const { database, tenant, actor, template, orders } = await setup();
    const schedule = await tenant((tx) =>
      createSchedule(
        tx,
        actor,
        { name: "every five", cron: "*/5 * * * *", templateId: template.id, payload: { team: "ops" } },
        at("2030-01-01T10:00:30Z"),
      ),
    );
    expect(schedule.nextRunAt.toISOString()).toBe("2030-01-01T10:05:00.000Z");
    const sweep = async (iso: string) => {
      const result = await runSweeper(database, { now: at(iso) });
      expect(result.ok).toBe(true);
      return result.schedules;
    };

    expect(await sweep("2030-01-01T10:04:59Z")).toEqual({ fired: 0, ordersCreated: 0, failed: 0 });
    expect(await sweep("2030-01-01T10:05:10Z")).toEqual({ fired: 1, ordersCreated: 1, failed: 0 });
    // The same period again (a second sweep, a second sweeper): nothing.
    expect(await sweep("2030-01-01T10:05:40Z")).toMatchObject({ fired: 0 });
    expect(await sweep("2030-01-01T10:09:59Z")).toMatchObject({ fired: 0 });
    expect(await sweep("2030-01-01T10:10:01Z")).toMatchObject({ fired: 1 });
    // Down from 10:10 to 10:31: four periods missed, one catch-up, then the period again.
    expect(await sweep("2030-01-01T10:31:00Z")).toMatchObject({ fired: 1 });
    expect(await sweep("2030-01-01T10:31:30Z")).toMatchObject({ fired: 0 });
    const caughtUp = await tenant((tx) => getSchedule(tx, actor, schedule.id));
    expect(caughtUp.nextRunAt.toISOString()).toBe("2030-01-01T10:35:00.000Z");
    expect(caughtUp.lastRunAt?.toISOString()).toBe("2030-01-01T10:15:00.000Z");

    const made = await orders();
    expect(made.map((order) => json(order.metadata).scheduledFor)).toEqual([
      "2030-01-01T10:05:00.000Z",
      "2030-01-01T10:10:00.000Z",
      "2030-01-01T10:15:00.000Z",
    ]);
    expect(made.every((order) => order.title === "every five")).toBe(true);
    expect(json(made[0]!.payload)).toEqual({ window: "5m", team: "ops" });

    // Paused: nothing fires; resumed: the next run is after the resume, no catch-up.
    await tenant((tx) => setSchedulePaused(tx, actor, schedule.id, true, at("2030-01-01T10:33:00Z")));
    expect(await sweep("2030-01-01T10:50:00Z")).toMatchObject({ fired: 0 });
    const resumed = await tenant((tx) => setSchedulePaused(tx, actor, schedule.id, false, at("2030-01-01T10:52:00Z")));
    expect(resumed.nextRunAt.toISOString()).toBe("2030-01-01T10:55:00.000Z");
    expect(await sweep("2030-01-01T10:54:00Z")).toMatchObject({ fired: 0 });
    expect(await sweep("2030-01-01T10:55:00Z")).toMatchObject({ fired: 1 });

    await tenant((tx) => deleteSchedule(tx, actor, schedule.id));
    expect(await sweep("2030-01-01T12:00:00Z")).toMatchObject({ fired: 0 });
    expect(await orders()).toHaveLength(4);
  });

  /** A schedule of a template whose one step waits for an approval, fired once by the sweeper. */
  async function fireGatedTemplate({ database, tenant, actor }: Awaited<ReturnType<typeof setup>>) {
    const gated = await tenant((tx) =>
      createTemplate(tx, actor, { name: "gated", steps: [{ type: "deploy", approval: { gate: "BEFORE" } }] }),
    );
    await tenant((tx) =>
      createSchedule(
        tx,
        actor,
        { name: "gated", cron: "*/5 * * * *", templateId: gated.id },
        at("2030-01-01T10:00:30Z"),
      ),
    );
    const result = await runSweeper(database, { now: at("2030-01-01T10:05:10Z") });
    expect(result.schedules).toEqual({ fired: 1, ordersCreated: 1, failed: 0 });
  }

  it("fires a template whose step waits for an approval: the item is gated and its request opened", async () => {
    const world = await setup();
    const { database, actor } = world;
    await fireGatedTemplate(world);
    const made = await rows<{ status: string; requests: number }>(
      database.db,
      sql`select i.status::text, (select count(*)::int from approval_requests r where r.work_item_id = i.id) as requests
          from work_items i where i.workspace_id = ${actor.workspaceId}::uuid and i.type = 'deploy'`,
    );
    expect(made).toEqual([{ status: "AWAITING_APPROVAL", requests: 1 }]);
  });

  it("fires a gated template in a workspace with an approval webhook: the notification job is queued with the request", async () => {
    const world = await setup();
    const { database, tenant, actor } = world;
    await tenant((tx) =>
      tx.insert(connectors).values({
        workspaceId: actor.workspaceId,
        name: "approvals hook",
        type: "API",
        // Nothing listens here; the job is queued, and its delivery fails and is retried later.
        webhookUrl: "http://127.0.0.1:9/hook",
        signingSecret: "whsec_schedules",
      }),
    );
    await fireGatedTemplate(world);
    const [made] = await rows<{ requests: number; jobs: number }>(
      database.db,
      sql`select (select count(*)::int from approval_requests r where r.workspace_id = ${actor.workspaceId}::uuid) as requests,
                 (select count(*)::int from processing_jobs j
                  where j.workspace_id = ${actor.workspaceId}::uuid and j.job_type = ${APPROVAL_WEBHOOK_JOB}) as jobs`,
    );
    expect(made).toEqual({ requests: 1, jobs: 1 });
  });

  it("refuses a bad cron expression, one that never fires, or an unknown template with 422", async () => {
    const { tenant, actor, template } = await setup();
    for (const cron of ["every minute", "61 * * * *", "0 0 30 2 *"]) {
      await expect(
        tenant((tx) => createSchedule(tx, actor, { name: cron, cron, templateId: template.id })),
      ).rejects.toMatchObject({ status: 422 });
    }
    await expect(
      tenant((tx) =>
        createSchedule(tx, actor, { name: "x", cron: "* * * * *", templateId: "00000000-0000-4000-8000-000000000000" }),
      ),
    ).rejects.toMatchObject({ status: 422 });
  });
});
