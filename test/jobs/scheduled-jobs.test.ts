import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { sql } from "drizzle-orm";
import { afterEach, expect, it, onTestFinished, vi } from "vitest";
import { rows } from "../../db/client";
import { memories } from "../../db/schema";
import { makeEventsHandler } from "../../functions/jobs/events";
import type { JobName } from "../../functions/jobs/job";
import { DEFAULT_INTERVALS, schedulerIntervals, startLocalScheduler } from "../../functions/jobs/local-scheduler";
import { makeSweeperHandler } from "../../functions/jobs/sweeper";
import { LexicalHashEmbeddingProvider } from "../../functions/memory/embeddings";
import { ingestEvents } from "../../functions/memory/events/intake";
import { describeEachDatabase, migratedPgliteFolder } from "../support/databases";
import { call, type ResponseBody, seedWorkspace, testApp } from "../support/http";
import { lambdaContext, scheduledEvent, sqsEvent, sqsRecord } from "./lambda-events";

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Log lines written while `body` runs (the logger writes JSON lines to stdout). */
async function captureLogs<T>(body: () => Promise<T>): Promise<{ result: T; lines: ResponseBody[] }> {
  const previous = process.env.LOG_LEVEL;
  process.env.LOG_LEVEL = "info";
  const lines: ResponseBody[] = [];
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    for (const line of String(chunk).split("\n").filter(Boolean)) {
      try {
        lines.push(JSON.parse(line));
      } catch {
        // not a log line
      }
    }
    return true;
  });
  try {
    return { result: await body(), lines };
  } finally {
    spy.mockRestore();
    process.env.LOG_LEVEL = previous;
  }
}

async function waitFor(condition: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await sleep(10);
  }
}

afterEach(() => vi.restoreAllMocks());

describeEachDatabase("scheduled jobs: sweeper, events, local scheduler, CLI", (db) => {
  it("sweeper handler reaps expired leases and applies approval deadlines", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey: key } = await seedWorkspace(database, "sweeper");
    const created = await call(app, "POST", "/v1/work-orders", {
      key,
      body: {
        title: "sweep",
        items: [
          { type: "sweep-lease", payload: {}, maxAttempts: 3 },
          {
            type: "sweep-approval",
            payload: {},
            approval: { gate: "BEFORE", timeoutSeconds: 60, timeoutAction: "REJECT" },
          },
        ],
      },
    });
    expect(created.status).toBe(201);
    const claim = await call(app, "POST", "/v1/work-items/claim", {
      key,
      body: { workerId: "w", types: ["sweep-lease"], leaseSeconds: 60 },
    });
    expect(claim.body.items).toHaveLength(1);
    const leased = claim.body.items[0].id;

    const handler = makeSweeperHandler(async () => database, { now: new Date(Date.now() + 5 * 60_000) });
    const summary = await handler(scheduledEvent("SweeperSchedule"), lambdaContext());
    expect(summary).toMatchObject({
      job: "sweeper",
      trigger: "schedule",
      ok: true,
      leases: { timedOut: 1, requeued: 1, deadLettered: 0 },
      approvalDeadlines: { rejected: 1 },
      notifications: { delivered: 0 },
    });
    expect((await call(app, "GET", `/v1/work-items/${leased}`, { key })).body.status).toBe("QUEUED");
    const items = await call(app, "GET", `/v1/work-orders/${created.body.id}`, { key });
    expect(items.status).toBe(200);

    // Nothing left: a second sweep at the same time finds nothing.
    expect(await handler(scheduledEvent("SweeperSchedule"))).toMatchObject({
      leases: { timedOut: 0 },
      approvalDeadlines: { approved: 0, rejected: 0, escalated: 0 },
    });
  });

  it("events handler processes events on a schedule and on SQS nudges, and returns every nudge when the run fails", async () => {
    const { database } = db();
    const { workspaceId } = await seedWorkspace(database, "events job");
    const provider = new LexicalHashEmbeddingProvider();
    const handler = makeEventsHandler(async () => database, { provider });
    const ingest = (externalId: string, text: string) =>
      database.withTenant({ workspaceId }, (tx) =>
        ingestEvents(
          tx,
          { workspaceId },
          { events: [{ source: "slack", eventType: "message", externalId, payload: { text } }] },
        ),
      );
    const memoryCount = async () =>
      (
        await database.withTenant({ workspaceId }, (tx) =>
          rows<{ n: number }>(
            tx,
            sql`select count(*)::int as n from memories where workspace_id = ${workspaceId}::uuid`,
          ),
        )
      )[0]!.n;

    await ingest("e-1", "The release train leaves on Thursdays");
    const scheduled = await handler(scheduledEvent("EventsSchedule"), lambdaContext(120_000));
    expect(scheduled).toMatchObject({ job: "events", trigger: "schedule", ok: true, processed: 1, memories: 1 });
    // Inside Lambda the budget is the remaining time less the safety margin.
    expect(scheduled.timeBudgetMs).toBeGreaterThan(100_000);
    expect(scheduled.timeBudgetMs).toBeLessThanOrEqual(105_000);

    await ingest("e-2", "Staging is rebuilt every night at two");
    const nudges = sqsEvent([
      sqsRecord(JSON.stringify({ workspaceId, stored: 1 })),
      sqsRecord(JSON.stringify({ workspaceId, stored: 1 })),
    ]);
    expect(await handler(nudges, lambdaContext(120_000))).toEqual({ batchItemFailures: [] });
    expect(await memoryCount()).toBe(2);

    const broken = makeEventsHandler(async () => {
      throw new Error("database unreachable");
    });
    expect(await broken(nudges, lambdaContext())).toEqual({
      batchItemFailures: nudges.Records.map((record) => ({ itemIdentifier: record.messageId })),
    });
    await expect(broken(scheduledEvent("EventsSchedule"))).rejects.toThrow("database unreachable");
  });

  it("local scheduler runs each job on its interval, never overlapping one job, and stops cleanly", async () => {
    const { database } = db();
    const calls: Array<{ name: JobName; start: number; end?: number }> = [];
    const running = new Map<JobName, number>();
    let overlaps = 0;
    const scheduler = startLocalScheduler(database, {
      env: {},
      intervals: { tiering: 0, "dead-letters": 0, sweeper: 5, events: 15 },
      initialDelayMs: 0,
      run: async (name) => {
        running.set(name, (running.get(name) ?? 0) + 1);
        if (running.get(name)! > 1) overlaps += 1;
        const entry: { name: JobName; start: number; end?: number } = { name, start: Date.now() };
        calls.push(entry);
        // A run much longer than the sweeper's 5 ms interval: the next waits for it.
        await sleep(name === "sweeper" ? 40 : 5);
        entry.end = Date.now();
        running.set(name, running.get(name)! - 1);
      },
    });
    expect(scheduler.intervals).toEqual({ sweeper: 5, events: 15 });
    await waitFor(
      () => calls.filter((c) => c.name === "sweeper").length >= 4 && calls.some((c) => c.name === "events"),
    );
    await scheduler.stop();
    const countAtStop = calls.length;
    expect(calls.every((c) => c.end !== undefined)).toBe(true); // stop() waited for runs in progress
    expect(overlaps).toBe(0);
    const sweeps = calls.filter((c) => c.name === "sweeper");
    for (let i = 1; i < sweeps.length; i++) expect(sweeps[i]!.start).toBeGreaterThanOrEqual(sweeps[i - 1]!.end!);
    expect(calls.some((c) => c.name === "tiering" || c.name === "dead-letters")).toBe(false);
    await sleep(50);
    expect(calls.length).toBe(countAtStop);
  });

  it("local scheduler runs the real jobs and logs its start and each run; CAIRN_SCHEDULER=off disables it", async () => {
    const { database } = db();
    const ws = await seedWorkspace(database, "scheduler tiering");
    await database.withTenant({ workspaceId: ws.workspaceId }, (tx) =>
      tx.insert(memories).values({
        workspaceId: ws.workspaceId,
        content: "scheduled tiering",
        contentHash: "scheduled tiering",
        tier: "cold",
        createdAt: new Date(),
      }),
    );
    const { lines } = await captureLogs(async () => {
      const scheduler = startLocalScheduler(database, {
        env: {
          CAIRN_SCHEDULE_TIERING_MS: "60000",
          CAIRN_SCHEDULE_SWEEPER_MS: "0",
          CAIRN_SCHEDULE_DEAD_LETTERS_MS: "0",
          CAIRN_SCHEDULE_EVENTS_MS: "0",
        },
        initialDelayMs: 0,
      });
      const tier = async () =>
        (
          await database.withTenant({ workspaceId: ws.workspaceId }, (tx) =>
            rows<{ tier: string }>(tx, sql`select tier from memories where workspace_id = ${ws.workspaceId}::uuid`),
          )
        )[0]!.tier;
      const deadline = Date.now() + 20_000;
      while ((await tier()) !== "hot" && Date.now() < deadline) await sleep(20);
      await scheduler.stop();
    });
    const started = lines.find((line) => line.msg === "scheduler started");
    expect(started).toMatchObject({ intervalsMs: { tiering: 60_000 }, off: ["sweeper", "dead-letters", "events"] });
    const runLine = lines.find((line) => line.msg === "job finished" && line.job === "tiering");
    expect(runLine).toMatchObject({ trigger: "local", ok: true, complete: true });
    expect(runLine!.moved[ws.workspaceId]).toEqual({ cold_to_hot: 1 });
    expect(typeof runLine!.durationMs).toBe("number");

    const off = await captureLogs(async () => {
      let ran = 0;
      const scheduler = startLocalScheduler(database, {
        env: { CAIRN_SCHEDULER: "off", CAIRN_SCHEDULE_SWEEPER_MS: "1" },
        initialDelayMs: 0,
        run: async () => {
          ran += 1;
        },
      });
      await sleep(50);
      await scheduler.stop();
      return { ran, intervals: scheduler.intervals };
    });
    expect(off.result).toEqual({ ran: 0, intervals: {} });
    expect(off.lines.map((line) => line.msg)).toContain("scheduler disabled");
    expect(off.lines.map((line) => line.msg)).not.toContain("scheduler started");
  });

  it("reads intervals from the environment", () => {
    expect(schedulerIntervals({})).toEqual(DEFAULT_INTERVALS);
    expect(DEFAULT_INTERVALS).toEqual({
      tiering: 86_400_000,
      sweeper: 60_000,
      "dead-letters": 300_000,
      events: 10_000,
    });
    expect(schedulerIntervals({ CAIRN_SCHEDULE_EVENTS_MS: "2500", CAIRN_SCHEDULE_TIERING_MS: "0" })).toMatchObject({
      events: 2500,
      tiering: 0,
    });
    expect(() => schedulerIntervals({ CAIRN_SCHEDULE_SWEEPER_MS: "-5" })).toThrow(/CAIRN_SCHEDULE_SWEEPER_MS/);
  });

  it("npm run job runs a job once and prints its summary as JSON", async () => {
    const { target, url } = db();
    // PGlite in memory is private to this process, so the CLI gets a folder of its own (migrated
    // already: opening it is seconds faster than a new database); on Postgres it uses the test database.
    const folder = mkdtempSync(join(tmpdir(), "cairn-job-cli-"));
    onTestFinished(() => rmSync(folder, { recursive: true, force: true }));
    const databaseUrl = target === "postgres" ? url : `pglite:${await migratedPgliteFolder(folder)}`;
    const env = { ...process.env, DATABASE_URL: databaseUrl };
    const cli = (...args: string[]) =>
      run(process.execPath, ["--import", "tsx", "scripts/job.ts", ...args], { env, timeout: 110_000 });
    const { stdout } = await cli("tiering", "--now", "2030-01-01T00:00:00Z");
    const summary = JSON.parse(stdout);
    expect(summary).toMatchObject({
      job: "tiering",
      trigger: "cli",
      ok: true,
      complete: true,
      now: "2030-01-01T00:00:00.000Z",
    });
    if (target === "postgres") {
      // Everything this file created is old by 2030: the CLI moved it (the summary says where).
      expect(summary.total).toBeGreaterThan(0);
    }
    await expect(cli("nope")).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining("unknown job nope") });
  }, 240_000);
});
