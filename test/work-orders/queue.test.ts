import { sql } from "drizzle-orm";
import { expect, it } from "vitest";
import { connect, type Database, rows } from "../../db/client";
import type { Actor } from "../../functions/shared/actor";
import { systemActor } from "../../functions/shared/actor";
import { claimWorkItems, completeWorkItem, failWorkItem, heartbeatWorkItem } from "../../functions/work-orders/claims";
import { getDeadLetter, redriveDeadLetter } from "../../functions/work-orders/dead-letters";
import { getWorkItem } from "../../functions/work-orders/items";
import { reapExpiredLeases } from "../../functions/work-orders/leases";
import { createWorkOrder, getWorkOrder } from "../../functions/work-orders/work-orders";
import { describeEachDatabase } from "../support/databases";
import { ownerActor, seedWorkspace } from "../support/http";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function seedActor(database: Database): Promise<Actor> {
  const ws = await seedWorkspace(database);
  return ownerActor(ws);
}

type FenceLike = { attemptId: string; fencingToken: string };
const fenceOf = (f: FenceLike) => ({ attemptId: f.attemptId, fencingToken: f.fencingToken });

function domain(database: Database, actor: Actor) {
  const tenant = <T>(fn: (tx: Parameters<Parameters<Database["withTenant"]>[1]>[0]) => Promise<T>) =>
    database.withTenant({ workspaceId: actor.workspaceId, userId: actor.userId }, fn);
  return {
    create: (body: Parameters<typeof createWorkOrder>[2]) => tenant((tx) => createWorkOrder(tx, actor, body)),
    claim: (workerId: string, limit = 1, leaseSeconds = 60) =>
      tenant((tx) => claimWorkItems(tx, actor, { workerId, limit, leaseSeconds })),
    complete: (id: string, fence: FenceLike, result: unknown = null) =>
      tenant((tx) => completeWorkItem(tx, actor, id, { ...fenceOf(fence), result })),
    fail: (id: string, fence: FenceLike, error: string, retryable = true) =>
      tenant((tx) => failWorkItem(tx, actor, id, { ...fenceOf(fence), error, retryable })),
    heartbeat: (id: string, fence: FenceLike) => tenant((tx) => heartbeatWorkItem(tx, actor, id, fenceOf(fence))),
    order: (id: string) => tenant((tx) => getWorkOrder(tx, actor, id)),
    item: (id: string) => tenant((tx) => getWorkItem(tx, actor, id)),
    deadLetter: (id: string) => tenant((tx) => getDeadLetter(tx, actor, id)),
  };
}

/** Claims until an item comes back (backoff delays are a millisecond in these tests). */
async function claimOne(d: ReturnType<typeof domain>, workerId: string, leaseSeconds = 60) {
  for (let i = 0; i < 200; i++) {
    const [claimed] = await d.claim(workerId, 1, leaseSeconds);
    if (claimed) return claimed;
    await sleep(5);
  }
  throw new Error("nothing to claim");
}

const fast = { baseMs: 1, capMs: 1 };

describeEachDatabase("work queue", (db) => {
  it("8 concurrent claimers complete every item exactly once, with zero double claims", async () => {
    const { database, target, url } = db();
    const actor = await seedActor(database);
    const total = target === "postgres" ? 2000 : 200;
    const created = await domain(database, actor).create({
      title: "bulk",
      items: Array.from({ length: total }, (_, n) => ({ type: "bulk", payload: { n } })),
    });
    expect(created.items).toHaveLength(total);

    // Real Postgres: a second pool of 10 connections, 8 workers racing on it. PGlite has one
    // connection, so its workers interleave transaction by transaction (still no double claims).
    const pool = target === "postgres" ? await connect(url, { driver: "neon", max: 10 }) : database;
    const claims = new Map<string, string>();
    const duplicates: string[] = [];
    let completions = 0;
    try {
      const worker = async (w: number) => {
        const d = domain(pool, actor);
        for (;;) {
          const batch = await d.claim(`worker-${w}`, 1 + ((w * 7) % 10), 120);
          if (batch.length === 0) return;
          for (const claimed of batch) {
            if (claims.has(claimed.id)) duplicates.push(claimed.id);
            claims.set(claimed.id, claimed.attemptId);
            const done = await d.complete(claimed.id, claimed, { by: w });
            expect(done.status).toBe("COMPLETED");
            completions++;
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
    } finally {
      if (pool !== database) await pool.close();
    }

    expect(duplicates).toEqual([]);
    expect(claims.size).toBe(total);
    expect(completions).toBe(total);
    const [counts] = await rows<{ completed: number; attempts: number; attempted_items: number; max_attempts: number }>(
      database.db,
      sql`select (select count(*)::int from work_items where work_order_id = ${created.order.id}::uuid and status = 'COMPLETED' and attempt_count = 1) as completed,
                 (select count(*)::int from attempts a join work_items i on i.id = a.work_item_id where i.work_order_id = ${created.order.id}::uuid) as attempts,
                 (select count(distinct a.work_item_id)::int from attempts a join work_items i on i.id = a.work_item_id where i.work_order_id = ${created.order.id}::uuid and a.status = 'COMPLETED') as attempted_items,
                 (select count(*)::int from activity_log where action = 'work_item.completed' and workspace_id = ${actor.workspaceId}::uuid) as max_attempts`,
    );
    expect(counts).toEqual({ completed: total, attempts: total, attempted_items: total, max_attempts: total });
    expect((await domain(database, actor).order(created.order.id)).status).toBe("COMPLETED");
  }, 600_000);

  it("finishes an order whose last items complete at the same moment", async () => {
    const { database, target, url } = db();
    const actor = await seedActor(database);
    const orders = target === "postgres" ? 40 : 10;
    // Two connections on Postgres, so the two last completions really race.
    const second = target === "postgres" ? await connect(url, { driver: "neon", max: 4 }) : database;
    try {
      for (let n = 0; n < orders; n++) {
        const created = await domain(database, actor).create({
          title: `race ${n}`,
          items: [
            { type: "race", payload: {} },
            { type: "race", payload: {} },
          ],
        });
        const [a, b] = await domain(database, actor).claim("racer", 2);
        expect([a!.id, b!.id].sort()).toEqual(created.items.map((i) => i.id).sort());
        await Promise.all([domain(database, actor).complete(a!.id, a!), domain(second, actor).complete(b!.id, b!)]);
        expect((await domain(database, actor).order(created.order.id)).status).toBe("COMPLETED");
      }
    } finally {
      if (second !== database) await second.close();
    }
  }, 300_000);

  it("claims by priority, then age, and only claimable items", async () => {
    const { database } = db();
    const actor = await seedActor(database);
    const d = domain(database, actor);
    const low = await d.create({ title: "low", priority: "LOW", items: [{ type: "a" }] });
    const urgent = await d.create({ title: "urgent", priority: "URGENT", items: [{ type: "a" }, { type: "b" }] });
    const medium = await d.create({ title: "medium", items: [{ type: "a" }] });
    const gated = await d.create({
      title: "gated",
      priority: "URGENT",
      items: [{ type: "a", approval: { gate: "BEFORE" } }],
    });
    expect(gated.items[0]!.status).toBe("AWAITING_APPROVAL");
    expect(gated.approvalRequestIds).toHaveLength(1);

    const onlyB = await database.withTenant(actor, (tx) =>
      claimWorkItems(tx, actor, { workerId: "w", types: ["b"], limit: 10, leaseSeconds: 30 }),
    );
    expect(onlyB.map((c) => c.id)).toEqual([urgent.items[1]!.id]);
    const rest = await d.claim("w", 10);
    expect(rest.map((c) => c.id)).toEqual([urgent.items[0]!.id, medium.items[0]!.id, low.items[0]!.id]);
    expect(await d.claim("w", 10)).toEqual([]);
  });

  it("a worker that stops heartbeating loses its item after the lease; its late calls get 409", async () => {
    const { database } = db();
    const actor = await seedActor(database);
    const d = domain(database, actor);
    const order = await d.create({ title: "lease", retry: fast, items: [{ type: "slow" }] });
    const itemId = order.items[0]!.id;

    const a = await claimOne(d, "worker-a", 1);
    expect((await d.heartbeat(itemId, a)).id).toBe(itemId);
    await sleep(1300);
    // The lease expired but nobody took the item yet: nothing reaped before its time.
    expect(await reapExpiredLeases(database, new Date(Date.now() - 60_000))).toEqual({
      timedOut: 0,
      requeued: 0,
      deadLettered: 0,
    });
    expect(await reapExpiredLeases(database)).toEqual({ timedOut: 1, requeued: 1, deadLettered: 0 });

    const b = await claimOne(d, "worker-b", 60);
    expect(b.id).toBe(itemId);
    expect(b.attemptNumber).toBe(2);
    expect(BigInt(b.fencingToken) > BigInt(a.fencingToken)).toBe(true);

    await expect(d.complete(itemId, a, "late")).rejects.toMatchObject({
      status: 409,
      message: expect.stringMatching(/reclaimed/),
    });
    await expect(d.heartbeat(itemId, a)).rejects.toMatchObject({ status: 409 });
    await expect(d.fail(itemId, a, "late failure")).rejects.toMatchObject({ status: 409 });
    // A forged token for the current attempt is refused too, saying so (nothing was reclaimed).
    await expect(d.complete(itemId, { attemptId: b.attemptId, fencingToken: a.fencingToken })).rejects.toMatchObject({
      status: 409,
      message: "The fencing token does not match the current attempt's",
    });
    expect((await d.item(itemId)).status).toBe("PROCESSING");

    const done = await d.complete(itemId, b, "on time");
    expect(done.status).toBe("COMPLETED");
    const detail = await d.item(itemId);
    expect(detail.result).toBe("on time");
    expect(detail.attempts.map((x) => [x.workerId, x.status])).toEqual([
      ["worker-a", "TIMEOUT"],
      ["worker-b", "COMPLETED"],
    ]);
    expect((await d.order(order.order.id)).status).toBe("COMPLETED");
  });

  it("items of one priority created together are claimed one by one in creation order", async () => {
    const { database } = db();
    const actor = await seedActor(database);
    const d = domain(database, actor);
    const order = await d.create({
      title: "order",
      items: [0, 1, 2, 3, 4].map((n) => ({ type: "seq", payload: { n } })),
    });
    const claimed: number[] = [];
    for (let i = 0; i < 5; i++) {
      const [item] = await d.claim(`w${i}`, 1);
      claimed.push(Number(item?.payload.n));
    }
    expect(claimed).toEqual([0, 1, 2, 3, 4]);
    expect(order.items.map((item) => item.payload.n)).toEqual([0, 1, 2, 3, 4]);
  });

  it("a wrong fencing token on a still-running attempt says it does not match the current attempt", async () => {
    const { database } = db();
    const actor = await seedActor(database);
    const d = domain(database, actor);
    const order = await d.create({ title: "token", items: [{ type: "t" }] });
    const itemId = order.items[0]!.id;
    const a = await claimOne(d, "worker-a");
    const wrong = { attemptId: a.attemptId, fencingToken: String(BigInt(a.fencingToken) + 1000n) };
    for (const call of [
      () => d.complete(itemId, wrong),
      () => d.heartbeat(itemId, wrong),
      () => d.fail(itemId, wrong, "x"),
    ]) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => e as { status: number; message: string },
      );
      expect(error?.status).toBe(409);
      expect(error?.message).toBe("The fencing token does not match the current attempt's");
      expect(error?.message).not.toMatch(/reclaimed/);
    }
    expect((await d.item(itemId)).status).toBe("PROCESSING");
    expect((await d.complete(itemId, a)).status).toBe("COMPLETED");
  });

  it("accepts a completion after the lease expired if the item was not reclaimed", async () => {
    const { database } = db();
    const actor = await seedActor(database);
    const d = domain(database, actor);
    const order = await d.create({ title: "late but alone", items: [{ type: "x" }] });
    const a = await claimOne(d, "w", 1);
    await sleep(1100);
    expect((await d.complete(a.id, a, 1)).status).toBe("COMPLETED");
    expect(await reapExpiredLeases(database)).toMatchObject({ timedOut: 0 });
    expect((await d.order(order.order.id)).status).toBe("COMPLETED");
  });

  it("an item that fails max_attempts times ends in exactly one dead letter with every error; redriven, it runs again", async () => {
    const { database } = db();
    const actor = await seedActor(database);
    const d = domain(database, actor);
    const order = await d.create({
      title: "flaky",
      retry: fast,
      items: [{ type: "flaky", payload: { v: 1 }, maxAttempts: 3 }, { type: "ok" }],
    });
    const [flakyItem, okItem] = order.items;
    const ok = (await d.claim("w", 10)).find((c) => c.id === okItem!.id)!;
    await d.complete(ok.id, ok);
    // The flaky item was claimed by that claim too: fail it three times.
    const results = [];
    const claimed = (
      await rows<{ attempt_id: string; token: string }>(
        database.db,
        sql`select current_attempt_id as attempt_id, fencing_token::text as token from work_items where id = ${flakyItem!.id}::uuid`,
      )
    )[0]!;
    let fence = { attemptId: claimed.attempt_id, fencingToken: claimed.token };
    for (let attempt = 1; attempt <= 3; attempt++) {
      const failed = await d.fail(flakyItem!.id, fence, `boom ${attempt}`);
      results.push(failed);
      if (attempt < 3) {
        expect(failed).toMatchObject({ status: "QUEUED", willRetry: true, deadLetterId: null, attemptCount: attempt });
        const next = await claimOne(d, "w");
        expect(next.attemptNumber).toBe(attempt + 1);
        fence = next;
      }
    }
    const last = results[2]!;
    expect(last).toMatchObject({ status: "FAILED", willRetry: false });
    expect(last.deadLetterId).toBeTruthy();
    const letters = await rows<{ id: string }>(
      database.db,
      sql`select id from dead_letters where work_item_id = ${flakyItem!.id}::uuid`,
    );
    expect(letters).toHaveLength(1);
    const letter = await d.deadLetter(last.deadLetterId!);
    expect(letter).toMatchObject({ source: "work_item", status: "OPEN", payload: { v: 1 } });
    expect(letter.errors.map((e) => e.error)).toEqual(["boom 1", "boom 2", "boom 3"]);
    expect(letter.errors.map((e) => e.attempt)).toEqual([1, 2, 3]);
    expect((await d.order(order.order.id)).status).toBe("FAILED");

    // Redrive (as a job would): fresh budget, edited payload; the order reopens.
    const redriven = await database.withTenant(actor, (tx) =>
      redriveDeadLetter(
        tx,
        systemActor(actor.workspaceId, "dead-letter-job"),
        letter.id,
        { payload: { v: 2 } },
        { automatic: true },
      ),
    );
    expect(redriven.deadLetter).toMatchObject({
      status: "REDRIVEN",
      redriveCount: 1,
      redrivenBy: "dead-letter-job",
      workItemId: flakyItem!.id,
    });
    expect((await d.order(order.order.id)).status).toBe("PROCESSING");
    const again = await claimOne(d, "w");
    // Attempt numbers keep counting across the redrive (issue 18).
    expect(again).toMatchObject({ id: flakyItem!.id, attemptNumber: 4, payload: { v: 2 } });
    expect((await d.complete(again.id, again, "fixed")).status).toBe("COMPLETED");
    expect((await d.order(order.order.id)).status).toBe("COMPLETED");
    // Still exactly one dead letter, kept and marked.
    expect(
      await rows(database.db, sql`select status from dead_letters where work_item_id = ${flakyItem!.id}::uuid`),
    ).toEqual([{ status: "REDRIVEN" }]);
    await expect(
      database.withTenant(actor, (tx) => redriveDeadLetter(tx, systemActor(actor.workspaceId), letter.id)),
    ).rejects.toMatchObject({ status: 409 });
  });

  it("after a redrive, attempt numbers keep counting while fail and the lease reaper count a fresh budget", async () => {
    const { database } = db();
    const actor = await seedActor(database);
    const d = domain(database, actor);
    const order = await d.create({ title: "redriven", retry: fast, items: [{ type: "flaky", maxAttempts: 2 }] });
    const itemId = order.items[0]!.id;
    // Budget 1: attempt 1 fails (retry), attempt 2 fails (dead letter).
    let claimed = await claimOne(d, "w");
    expect(await d.fail(itemId, claimed, "boom 1")).toMatchObject({ status: "QUEUED", willRetry: true });
    claimed = await claimOne(d, "w");
    const failed = await d.fail(itemId, claimed, "boom 2");
    expect(failed).toMatchObject({ status: "FAILED", willRetry: false, attemptCount: 2 });
    const before = await d.item(itemId);
    expect(before).toMatchObject({ attemptCount: 2, retryBase: 0, redrivenAt: null });

    await database.withTenant(actor, (tx) =>
      redriveDeadLetter(tx, systemActor(actor.workspaceId), failed.deadLetterId!),
    );
    const redriven = await d.item(itemId);
    // The redrive is visible between the attempts: after attempt 2, at redrivenAt.
    expect(redriven).toMatchObject({ status: "QUEUED", attemptCount: 2, retryBase: 2 });
    expect(redriven.redrivenAt).toBeInstanceOf(Date);
    const requeued = await rows<{ after: { redrivenAfterAttempt: number; deadLetterId: string } }>(
      database.db,
      sql`select after from activity_log where action = 'work_item.requeued' and entity_id = ${itemId}::uuid`,
    );
    expect(requeued.map((row) => row.after)).toEqual([
      expect.objectContaining({ redrivenAfterAttempt: 2, deadLetterId: failed.deadLetterId }),
    ]);

    // Budget 2 (fresh, counted from the redrive): attempt 3 fails and is retried although
    // attempt_count (3) exceeds max_attempts (2); attempt 4's lease expires: the reaper
    // agrees the budget is spent and dead-letters it.
    claimed = await claimOne(d, "w", 1);
    expect(claimed.attemptNumber).toBe(3);
    expect(await d.fail(itemId, claimed, "boom 3")).toMatchObject({
      status: "QUEUED",
      willRetry: true,
      attemptCount: 3,
      maxAttempts: 2,
    });
    claimed = await claimOne(d, "w", 1);
    expect(claimed.attemptNumber).toBe(4);
    await sleep(1100);
    expect(await reapExpiredLeases(database)).toEqual({
      timedOut: 1,
      requeued: 0,
      deadLettered: 1,
    });
    const after = await d.item(itemId);
    expect(after).toMatchObject({ status: "FAILED", attemptCount: 4, retryBase: 2 });
    expect(after.attempts.map((a) => [a.attemptNumber, a.status])).toEqual([
      [1, "FAILED"],
      [2, "FAILED"],
      [3, "FAILED"],
      [4, "TIMEOUT"],
    ]);

    // A second redrive: fresh budget again, and a lease that expires with budget left is
    // requeued by the reaper; the item then completes as attempt 6.
    const [letter] = await rows<{ id: string }>(
      database.db,
      sql`select id from dead_letters where work_item_id = ${itemId}::uuid and status = 'OPEN'`,
    );
    await database.withTenant(actor, (tx) => redriveDeadLetter(tx, systemActor(actor.workspaceId), letter!.id));
    claimed = await claimOne(d, "w", 1);
    expect(claimed.attemptNumber).toBe(5);
    await sleep(1100);
    expect(await reapExpiredLeases(database)).toEqual({
      timedOut: 1,
      requeued: 1,
      deadLettered: 0,
    });
    claimed = await claimOne(d, "w");
    expect(claimed.attemptNumber).toBe(6);
    expect((await d.complete(itemId, claimed, "fixed")).status).toBe("COMPLETED");
    const done = await d.item(itemId);
    expect(done).toMatchObject({ status: "COMPLETED", attemptCount: 6, retryBase: 4 });
    expect(done.attempts.map((a) => [a.attemptNumber, a.status])).toEqual([
      [1, "FAILED"],
      [2, "FAILED"],
      [3, "FAILED"],
      [4, "TIMEOUT"],
      [5, "TIMEOUT"],
      [6, "COMPLETED"],
    ]);
    expect((await d.order(order.order.id)).status).toBe("COMPLETED");
  });

  it("a non-retryable failure dead-letters at once; the reaper dead-letters a last attempt that timed out", async () => {
    const { database } = db();
    const actor = await seedActor(database);
    const d = domain(database, actor);
    const order = await d.create({
      title: "fatal",
      retry: fast,
      items: [{ type: "fatal" }, { type: "once", maxAttempts: 1 }],
    });
    const claimed = await d.claim("w", 2, 1);
    const fatal = claimed.find((c) => c.type === "fatal")!;
    const failed = await d.fail(fatal.id, fatal, "bad input", false);
    expect(failed).toMatchObject({ status: "FAILED", willRetry: false, attemptCount: 1 });
    const letter = await d.deadLetter(failed.deadLetterId!);
    expect(letter.reason).toMatch(/Non-retryable failure: bad input/);
    expect(letter.errors).toHaveLength(1);

    await sleep(1200);
    expect(await reapExpiredLeases(database, new Date(), { batchSize: 1 })).toEqual({
      timedOut: 1,
      requeued: 0,
      deadLettered: 1,
    });
    const once = claimed.find((c) => c.type === "once")!;
    const onceItem = await d.item(once.id);
    expect(onceItem.status).toBe("FAILED");
    expect(onceItem.attempts[0]!.status).toBe("TIMEOUT");
    const [timeoutLetter] = await rows<{ errors: Array<{ status: string; error: string }> }>(
      database.db,
      sql`select errors from dead_letters where work_item_id = ${once.id}::uuid`,
    );
    expect(timeoutLetter!.errors).toHaveLength(1);
    expect(timeoutLetter!.errors[0]).toMatchObject({
      status: "TIMEOUT",
      error: expect.stringMatching(/Lease expired: worker w/),
    });
    expect((await d.order(order.order.id)).status).toBe("FAILED");
    await expect(d.complete(once.id, once)).rejects.toMatchObject({ status: 409 });
  });

  it("backs off retries with full jitter between 0 and min(cap, base * 2^(n-1))", async () => {
    const { database } = db();
    const actor = await seedActor(database);
    const d = domain(database, actor);
    const order = await d.create({
      title: "backoff",
      retry: { baseMs: 60_000, capMs: 90_000 },
      items: [{ type: "x", maxAttempts: 5 }],
    });
    const first = await claimOne(d, "w");
    const before = Date.now();
    const failed = await d.fail(first.id, first, "e1");
    const delay = failed.availableAt!.getTime() - before;
    expect(delay).toBeGreaterThanOrEqual(-1000);
    expect(delay).toBeLessThanOrEqual(60_000 + 1000);
    // Not claimable while backing off (unless the jitter happened to be ~0).
    if (delay > 1000) expect(await d.claim("w", 10)).toEqual([]);
    // Third attempt: the cap (90 s) bounds base * 4 = 240 s.
    await database.db.execute(sql`update work_items set available_at = now() where id = ${first.id}::uuid`);
    const second = await claimOne(d, "w");
    await database.db.execute(sql`update work_items set available_at = now() where id = ${first.id}::uuid`);
    const f2 = await d.fail(second.id, second, "e2");
    expect(f2.availableAt!.getTime() - Date.now()).toBeLessThanOrEqual(120_000 + 1000);
    await database.db.execute(sql`update work_items set available_at = now() where id = ${first.id}::uuid`);
    const third = await claimOne(d, "w");
    const f3 = await d.fail(third.id, third, "e3");
    expect(f3.availableAt!.getTime() - Date.now()).toBeLessThanOrEqual(90_000 + 1000);
    expect(order.order.retry).toEqual({ baseMs: 60_000, capMs: 90_000 });
  });
});
