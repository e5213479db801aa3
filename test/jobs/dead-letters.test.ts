import { sql } from "drizzle-orm";
import { expect, it } from "vitest";
import { connect, type Database, rows } from "../../db/client";
import {
  makeDeadLettersHandler,
  REPROCESSOR_ID,
  redriveDueDeadLetters,
  storeQueueDeadLetters,
} from "../../functions/jobs/dead-letters";
import { type EmbeddingProvider, EmbeddingProviderError } from "../../functions/memory/embeddings";
import { ingestEvents } from "../../functions/memory/events/intake";
import { processEvents } from "../../functions/memory/events/processing";
import { describeEachDatabase } from "../support/databases";
import { call, type ResponseBody, seedWorkspace, testApp } from "../support/http";
import { lambdaContext, scheduledEvent, sqsEvent, sqsRecord } from "./lambda-events";

const BACKOFF = { backoffBaseMs: 60_000, backoffMaxMs: 3_600_000 };
const minutesFromNow = (minutes: number) => new Date(Date.now() + minutes * 60_000);

interface LetterRow {
  id: string;
  status: string;
  source: string;
  auto_retry: boolean;
  redrive_count: number;
  max_redrives: number;
  next_retry_at: string | Date | null;
  created_at: string | Date;
  redriven_by: string | null;
  errors: Array<Record<string, unknown>>;
  payload: ResponseBody;
}

async function lettersOf(database: Database, workspaceId: string, where = sql`true`): Promise<LetterRow[]> {
  return database.withTenant({ workspaceId }, (tx) =>
    rows<LetterRow>(
      tx,
      sql`select id, status::text as status, source::text as source, auto_retry, redrive_count, max_redrives, next_retry_at,
                 created_at, redriven_by, errors, payload
          from dead_letters where workspace_id = ${workspaceId}::uuid and ${where} order by created_at, id`,
    ),
  );
}

async function markAutoRetry(
  database: Database,
  workspaceId: string,
  id: string,
  fields: { maxRedrives?: number; nextRetryAt?: Date },
) {
  await database.withTenant({ workspaceId }, (tx) =>
    tx.execute(sql`update dead_letters set auto_retry = true, max_redrives = ${fields.maxRedrives ?? 3},
                   next_retry_at = ${(fields.nextRetryAt ?? minutesFromNow(-1)).toISOString()}::timestamptz
                   where id = ${id}::uuid`),
  );
}

describeEachDatabase("dead-letter reprocessing job", (db) => {
  async function workspace() {
    const { database } = db();
    const app = testApp(database);
    const ws = await seedWorkspace(database, "dead letters");
    return { database, app, key: ws.adminKey, workspaceId: ws.workspaceId };
  }

  /** An order with one single-attempt item of `type`; returns the item id. */
  async function createItem(app: ReturnType<typeof testApp>, key: string, type: string) {
    const created = await call(app, "POST", "/v1/work-orders", {
      key,
      body: { title: "dead letter job", items: [{ type, payload: { n: 1 }, maxAttempts: 1 }] },
    });
    expect(created.status).toBe(201);
    return created.body.items[0].id as string;
  }

  /** Claims the item of `type` and fails it: on its only attempt, that writes a dead letter. */
  async function claimAndFail(app: ReturnType<typeof testApp>, key: string, type: string, itemId: string) {
    const claim = await call(app, "POST", "/v1/work-items/claim", {
      key,
      body: { workerId: "w", types: [type], leaseSeconds: 60 },
    });
    expect(claim.status).toBe(200);
    expect(claim.body.items.map((i: ResponseBody) => i.id)).toEqual([itemId]);
    const [claimed] = claim.body.items;
    const failed = await call(app, "POST", `/v1/work-items/${itemId}/fail`, {
      key,
      body: { attemptId: claimed.attemptId, fencingToken: claimed.fencingToken, error: "boom" },
    });
    expect(failed.status).toBe(200);
  }

  async function itemStatus(app: ReturnType<typeof testApp>, key: string, itemId: string) {
    const item = await call(app, "GET", `/v1/work-items/${itemId}`, { key });
    expect(item.status).toBe(200);
    return item.body.status as string;
  }

  it("redrives a due work-item dead letter so the item runs again, carries the retry over with backoff, and holds the cap", async () => {
    const { database, app, key, workspaceId } = await workspace();
    const itemId = await createItem(app, key, "redrive-cap");
    await claimAndFail(app, key, "redrive-cap", itemId);
    const [first] = await lettersOf(database, workspaceId);
    expect(first).toMatchObject({ status: "OPEN", source: "work_item", auto_retry: false });

    // Not marked for automatic retry: the job leaves it alone.
    const handler = makeDeadLettersHandler(async () => database, BACKOFF);
    expect((await handler(scheduledEvent("DeadLettersSchedule"), lambdaContext())).redriven.workItems).toBe(0);

    // Marked, but not due yet: still left alone.
    await markAutoRetry(database, workspaceId, first!.id, { maxRedrives: 2, nextRetryAt: minutesFromNow(10) });
    expect((await handler(scheduledEvent("DeadLettersSchedule"), lambdaContext())).redriven.workItems).toBe(0);

    // Due (marked through the API, retry now): redriven through the work-orders context; the item runs again.
    const marked = await call(app, "PATCH", `/v1/dead-letters/${first!.id}`, {
      key,
      body: { autoRetry: true, maxRedrives: 2 },
    });
    expect(marked.status).toBe(200);
    expect(marked.body).toMatchObject({ autoRetry: true, maxRedrives: 2, status: "OPEN" });
    const run1 = await handler(scheduledEvent("DeadLettersSchedule"), lambdaContext());
    expect(run1).toMatchObject({
      job: "dead-letters",
      trigger: "schedule",
      ok: true,
      redriven: { workItems: 1, events: 0 },
    });
    expect((await lettersOf(database, workspaceId))[0]).toMatchObject({
      status: "REDRIVEN",
      redrive_count: 1,
      redriven_by: REPROCESSOR_ID,
    });
    expect(await itemStatus(app, key, itemId)).toBe("QUEUED");
    await claimAndFail(app, key, "redrive-cap", itemId);

    // The new dead letter inherits the retry, backed off by the base delay after its failure.
    const run2 = await redriveDueDeadLetters(database, BACKOFF);
    expect(run2).toMatchObject({ carriedOver: 1, redriven: { workItems: 0 } });
    const [, second] = await lettersOf(database, workspaceId);
    expect(second).toMatchObject({ status: "OPEN", auto_retry: true, redrive_count: 1, max_redrives: 2 });
    expect(new Date(second!.next_retry_at!).getTime() - new Date(second!.created_at).getTime()).toBe(60_000);

    const run3 = await redriveDueDeadLetters(database, { ...BACKOFF, now: minutesFromNow(2) });
    expect(run3).toMatchObject({ carriedOver: 0, redriven: { workItems: 1 } });
    expect(await itemStatus(app, key, itemId)).toBe("QUEUED");
    await claimAndFail(app, key, "redrive-cap", itemId);

    // The third failure inherits a count of 2 = the cap: it is never redriven automatically.
    const run4 = await redriveDueDeadLetters(database, { ...BACKOFF, now: minutesFromNow(24 * 60) });
    expect(run4).toMatchObject({ carriedOver: 1, due: 0, redriven: { workItems: 0 } });
    const letters = await lettersOf(database, workspaceId);
    expect(letters.map((l) => [l.status, l.redrive_count])).toEqual([
      ["REDRIVEN", 1],
      ["REDRIVEN", 2],
      ["OPEN", 2],
    ]);
    expect(new Date(letters[2]!.next_retry_at!).getTime() - new Date(letters[2]!.created_at).getTime()).toBe(120_000);
    expect(await itemStatus(app, key, itemId)).toBe("FAILED");
  });

  it("requeues the processing job of an event dead letter", async () => {
    const { database, workspaceId } = await workspace();
    // A provider that refuses the input for good (as a 400 would): the event is dead-lettered on its first attempt.
    const provider: EmbeddingProvider = {
      name: "refusing",
      model: "refusing",
      dimensions: 768,
      embed: async () => {
        throw new EmbeddingProviderError("provider rejected the input (400)", { retryable: false, status: 400 });
      },
      describe: () => ({ provider: "refusing", model: "refusing", dimensions: 768 }),
    };
    const externalId = `refused-${Math.random().toString(36).slice(2)}`;
    await database.withTenant({ workspaceId }, (tx) =>
      ingestEvents(
        tx,
        { workspaceId },
        { events: [{ source: "git", eventType: "push", externalId, payload: { message: "Fix the checkout" } }] },
      ),
    );
    expect(await processEvents(database, { provider })).toMatchObject({ deadLettered: 1 });
    const [letter] = await lettersOf(database, workspaceId, sql`source = 'event'`);
    await markAutoRetry(database, workspaceId, letter!.id, { maxRedrives: 1 });

    const run = await redriveDueDeadLetters(database, BACKOFF);
    expect(run).toMatchObject({ ok: true, redriven: { workItems: 0, events: 1, webhooks: 0 } });
    const [state] = await database.withTenant({ workspaceId }, (tx) =>
      rows<{ processing_status: string; job_status: string; attempts: number }>(
        tx,
        sql`select e.processing_status::text, j.status::text as job_status, j.attempts
            from raw_events e join processing_jobs j on j.event_id = e.id
            where e.workspace_id = ${workspaceId}::uuid and e.external_id = ${externalId}`,
      ),
    );
    expect(state).toEqual({ processing_status: "PENDING", job_status: "PENDING", attempts: 0 });
    expect((await lettersOf(database, workspaceId, sql`source = 'event'`))[0]).toMatchObject({
      status: "REDRIVEN",
      redrive_count: 1,
    });

    // It runs again (and, still refused, fails again into a new dead letter that has used its one redrive).
    expect(await processEvents(database, { provider })).toMatchObject({ claimed: 1, deadLettered: 1 });
    const rerun = await redriveDueDeadLetters(database, { ...BACKOFF, now: minutesFromNow(60) });
    expect(rerun).toMatchObject({ carriedOver: 1, due: 0 });
    const letters = await lettersOf(database, workspaceId, sql`source = 'event'`);
    expect(letters.map((l) => [l.status, l.auto_retry, l.redrive_count])).toEqual([
      ["REDRIVEN", true, 1],
      ["OPEN", true, 1],
    ]);
  });

  it("redrives an approval-webhook dead letter through the approvals context", async () => {
    const { database, workspaceId } = await workspace();
    // A notification job that used up its attempts, and its dead letter, as the approvals outbox writes them.
    const [letter] = await database.withTenant({ workspaceId }, (tx) =>
      rows<{ id: string; job_id: string }>(
        tx,
        sql`with job as (
              insert into processing_jobs (workspace_id, job_type, status, attempts, max_attempts, input_data, error)
              values (${workspaceId}::uuid, 'approval_webhook', 'FAILED', 5, 5, '{}'::jsonb, 'receiver answered 500')
              returning id)
            insert into dead_letters (workspace_id, source, reason, payload, auto_retry, next_retry_at)
            select ${workspaceId}::uuid, 'webhook', 'webhook failed', jsonb_build_object('jobId', job.id), true, now() - interval '1 minute'
            from job
            returning id, payload ->> 'jobId' as job_id`,
      ),
    );
    const run = await redriveDueDeadLetters(database, BACKOFF);
    expect(run).toMatchObject({ ok: true, redriven: { workItems: 0, events: 0, webhooks: 1 } });
    const [state] = await database.withTenant({ workspaceId }, (tx) =>
      rows<{ status: string; attempts: number }>(
        tx,
        sql`select status::text, attempts from processing_jobs where id = ${letter!.job_id}::uuid`,
      ),
    );
    expect(state).toEqual({ status: "PENDING", attempts: 0 });
    expect((await lettersOf(database, workspaceId, sql`source = 'webhook'`))[0]).toMatchObject({
      status: "REDRIVEN",
      redrive_count: 1,
      redriven_by: REPROCESSOR_ID,
    });
  });

  it("stops retrying a dead letter whose redrive is refused, and leaves it open for a person", async () => {
    const { database, app, key, workspaceId } = await workspace();
    const itemId = await createItem(app, key, "refused");
    await claimAndFail(app, key, "refused", itemId);
    const [letter] = await lettersOf(database, workspaceId);
    // Someone redrove the item by hand already (through the API): the automatic redrive has nothing to do.
    const manual = await call(app, "POST", `/v1/dead-letters/${letter!.id}/redrive`, { key, body: {} });
    expect(manual.status).toBe(200);
    await claimAndFail(app, key, "refused", itemId);
    const [, again] = await lettersOf(database, workspaceId);
    await database.withTenant({ workspaceId }, (tx) =>
      tx.execute(sql`update work_items set status = 'QUEUED' where id = ${itemId}::uuid`),
    );
    await markAutoRetry(database, workspaceId, again!.id, {});

    const run = await redriveDueDeadLetters(database, BACKOFF);
    expect(run.redriven.workItems).toBe(0);
    expect(run.refused.map((r) => r.deadLetterId)).toEqual([again!.id]);
    expect(run.refused[0]!.error).toMatch(/not FAILED/);
    const [, after] = await lettersOf(database, workspaceId);
    expect(after).toMatchObject({ status: "OPEN", auto_retry: false, redrive_count: 0 });
    expect(after!.errors.at(-1)).toMatchObject({ redrive: "automatic", autoRetryStopped: true });
    // A refusal is not a malfunction: the run is still ok.
    expect(run.ok).toBe(true);
  });

  it("stores an SQS dead-letter batch, reporting only the unattributable messages, idempotently", async () => {
    const { database, workspaceId } = await workspace();
    const other = await seedWorkspace(database, "dead letters other");
    const good = [
      sqsRecord(JSON.stringify({ workspaceId, stored: 3 })),
      sqsRecord(JSON.stringify({ workspaceId, stored: 1 })),
      sqsRecord(JSON.stringify({ workspaceId: other.workspaceId, stored: 7 })),
    ];
    const malformed = sqsRecord("{not json");
    const handler = makeDeadLettersHandler(async () => database);
    const response = await handler(sqsEvent([good[0]!, malformed, good[1]!, good[2]!]), lambdaContext());
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: malformed.messageId }] });

    const stored = await lettersOf(database, workspaceId, sql`source = 'queue'`);
    expect(stored.map((l) => l.payload.sqs.messageId).sort()).toEqual([good[0]!.messageId, good[1]!.messageId].sort());
    expect(stored[0]).toMatchObject({ status: "OPEN", auto_retry: false });
    expect(stored.find((l) => l.payload.sqs.messageId === good[0]!.messageId)!.payload).toMatchObject({
      message: { workspaceId, stored: 3 },
      sqs: { receiveCount: 5, eventSourceARN: good[0]!.eventSourceARN },
    });
    expect((await lettersOf(database, other.workspaceId, sql`source = 'queue'`)).map((l) => l.payload.message)).toEqual(
      [{ workspaceId: other.workspaceId, stored: 7 }],
    );

    // SQS delivers at least once: the same messages again store nothing new.
    const again = await storeQueueDeadLetters(database, good);
    expect(again).toMatchObject({ received: 3, stored: 0, duplicates: 3, failures: [], ok: true });
    expect(await lettersOf(database, workspaceId, sql`source = 'queue'`)).toHaveLength(2);

    // Other messages that cannot be attributed to a workspace are failures too, with why.
    const noWorkspace = sqsRecord(JSON.stringify({ stored: 1 }));
    const badId = sqsRecord(JSON.stringify({ workspaceId: "not-a-uuid" }));
    const unknown = sqsRecord(JSON.stringify({ workspaceId: "00000000-0000-4000-8000-000000000000" }));
    const array = sqsRecord("[1,2]");
    const result = await storeQueueDeadLetters(database, [noWorkspace, badId, unknown, array]);
    expect(result).toMatchObject({ received: 4, stored: 0, ok: false });
    expect(Object.fromEntries(result.failures.map((f) => [f.messageId, f.error]))).toEqual({
      [noWorkspace.messageId]: "The message has no valid workspaceId",
      [badId.messageId]: "The message has no valid workspaceId",
      [unknown.messageId]: "Workspace 00000000-0000-4000-8000-000000000000 does not exist",
      [array.messageId]: "The message body is not a JSON object",
    });
  });

  it("stores one dead letter per message when two deliveries of a batch race", async () => {
    const { database, target, url, workspaceId } = { ...db(), ...(await workspace()) };
    const records = Array.from({ length: 8 }, (_, n) => sqsRecord(JSON.stringify({ workspaceId, n })));
    const other = target === "postgres" ? await connect(url, { driver: "neon" }) : database;
    try {
      const [a, b] = await Promise.all([
        storeQueueDeadLetters(database, records),
        storeQueueDeadLetters(other, records),
      ]);
      expect(a.stored + b.stored).toBe(8);
      expect(a.duplicates + b.duplicates).toBe(8);
      expect(await lettersOf(database, workspaceId, sql`source = 'queue'`)).toHaveLength(8);
    } finally {
      if (other !== database) await other.close();
    }
  });

  it("redrives each due dead letter once when two runs race", async () => {
    const { database, target, url, app, key, workspaceId } = { ...db(), ...(await workspace()) };
    const type = "race";
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const itemId = await createItem(app, key, type);
      await claimAndFail(app, key, type, itemId);
      ids.push(itemId);
    }
    for (const letter of await lettersOf(database, workspaceId))
      await markAutoRetry(database, workspaceId, letter.id, {});
    const other = target === "postgres" ? await connect(url, { driver: "neon" }) : database;
    try {
      const [a, b] = await Promise.all([
        redriveDueDeadLetters(database, BACKOFF),
        redriveDueDeadLetters(other, BACKOFF),
      ]);
      expect(a.redriven.workItems + b.redriven.workItems).toBe(4);
      expect(a.failed.length + b.failed.length).toBe(0);
      const letters = await lettersOf(database, workspaceId);
      expect(letters.map((l) => [l.status, l.redrive_count])).toEqual(Array(4).fill(["REDRIVEN", 1]));
      for (const itemId of ids) expect(await itemStatus(app, key, itemId)).toBe("QUEUED");
    } finally {
      if (other !== database) await other.close();
    }
  });
});
