/**
 * Queue controls on both databases: delayed items, dedup, concurrency limits under 8 racing
 * claimers, pause and resume, dependencies within an order, rate limits, and who may set them.
 */
import { sql } from "drizzle-orm";
import { expect, it } from "vitest";
import { connect, type Database, rows } from "../../db/client";
import type { Actor } from "../../functions/shared/actor";
import { claimWork, completeWorkItem, failWorkItem } from "../../functions/work-orders/claims";
import { putQueueLimit } from "../../functions/work-orders/controls/limits";
import { pauseItemType, resumeItemType, setOrderPaused } from "../../functions/work-orders/controls/pauses";
import { getWorkItem } from "../../functions/work-orders/items";
import { createWorkOrder, getWorkOrder } from "../../functions/work-orders/work-orders";
import { describeEachDatabase } from "../support/databases";
import { ownerActor, seedWorkspace } from "../support/http";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
type FenceLike = { attemptId: string; fencingToken: string };

function domain(database: Database, actor: Actor) {
  const tenant = <T>(fn: (tx: Parameters<Parameters<Database["withTenant"]>[1]>[0]) => Promise<T>) =>
    database.withTenant({ workspaceId: actor.workspaceId, userId: actor.userId }, fn);
  return {
    create: (body: Parameters<typeof createWorkOrder>[2]) => tenant((tx) => createWorkOrder(tx, actor, body)),
    claim: (workerId: string, limit = 1, types?: string[]) =>
      tenant((tx) => claimWork(tx, actor, { workerId, limit, leaseSeconds: 120, types })),
    complete: (id: string, fence: FenceLike, result: unknown = null) =>
      tenant((tx) =>
        completeWorkItem(tx, actor, id, { attemptId: fence.attemptId, fencingToken: fence.fencingToken, result }),
      ),
    fail: (id: string, fence: FenceLike, error: string) =>
      tenant((tx) =>
        failWorkItem(tx, actor, id, {
          attemptId: fence.attemptId,
          fencingToken: fence.fencingToken,
          error,
          retryable: false,
        }),
      ),
    limit: (input: Parameters<typeof putQueueLimit>[2]) => tenant((tx) => putQueueLimit(tx, actor, input)),
    pauseType: (type: string) => tenant((tx) => pauseItemType(tx, actor, type)),
    resumeType: (type: string) => tenant((tx) => resumeItemType(tx, actor, type)),
    pauseOrder: (id: string, paused: boolean) => tenant((tx) => setOrderPaused(tx, actor, id, paused)),
    order: (id: string) => tenant((tx) => getWorkOrder(tx, actor, id)),
    item: (id: string) => tenant((tx) => getWorkItem(tx, actor, id)),
  };
}

describeEachDatabase("queue controls", (db) => {
  async function setup() {
    const { database } = db();
    const ws = await seedWorkspace(database);
    const actor = ownerActor(ws);
    return { database, actor, ws, d: domain(database, actor) };
  }

  it("runAt and delaySeconds: an item is not claimable before its time", async () => {
    const { d } = await setup();
    // Far enough ahead that a loaded machine still makes its first claims before it.
    const soon = new Date(Date.now() + 4000).toISOString();
    const created = await d.create({
      title: "delayed",
      items: [
        { type: "later", runAt: soon },
        { type: "delay", delaySeconds: 3600 },
        { type: "past", runAt: new Date(Date.now() - 60_000).toISOString() },
      ],
    });
    expect(new Date(created.items[0]!.availableAt).toISOString()).toBe(soon);
    const first = await d.claim("w", 10);
    expect(first.items.map((item) => item.type)).toEqual(["past"]);
    expect((await d.claim("w", 10)).items).toEqual([]);
    await sleep(Math.max(0, new Date(soon).getTime() - Date.now() + 50));
    const later = await d.claim("w", 10);
    expect(later.items.map((item) => item.type)).toEqual(["later"]);
    expect(later.items[0]!.attemptNumber).toBe(1);
    // The hour-long delay still holds.
    expect((await d.claim("w", 10)).items).toEqual([]);
    await expect(
      d.create({ title: "both", items: [{ type: "x", runAt: soon, delaySeconds: 1 }] }),
    ).rejects.toMatchObject({ status: 400 });
  });

  it("dedupKey: a second live item with the key is refused with 409 naming the first; allowed again once it finished", async () => {
    const { d, database, actor } = await setup();
    const first = await d.create({ title: "a", items: [{ type: "sync", dedupKey: "repo:42" }] });
    const existing = first.items[0]!;
    const refused = d.create({ title: "b", items: [{ type: "sync", dedupKey: "repo:42" }, { type: "other" }] });
    await expect(refused).rejects.toMatchObject({
      status: 409,
      details: { existingItemId: existing.id, workOrderId: first.order.id, status: "QUEUED", dedupKey: "repo:42" },
    });
    // Nothing of the refused order was written.
    const [count] = await rows<{ n: number }>(
      database.db,
      sql`select count(*)::int as n from work_orders where workspace_id = ${actor.workspaceId}::uuid`,
    );
    expect(count!.n).toBe(1);
    // Twice in one order is a 422; another workspace has its own keys.
    await expect(
      d.create({
        title: "c",
        items: [
          { type: "s", dedupKey: "k" },
          { type: "s", dedupKey: "k" },
        ],
      }),
    ).rejects.toMatchObject({ status: 422 });
    const other = await setup();
    await expect(other.d.create({ title: "x", items: [{ type: "sync", dedupKey: "repo:42" }] })).resolves.toBeTruthy();

    // Still refused while it runs; accepted once it completed.
    const { items } = await d.claim("w");
    await expect(d.create({ title: "d", items: [{ type: "sync", dedupKey: "repo:42" }] })).rejects.toMatchObject({
      status: 409,
    });
    await d.complete(items[0]!.id, items[0]!);
    const again = await d.create({ title: "e", items: [{ type: "sync", dedupKey: "repo:42" }] });
    expect(again.items[0]!.dedupKey).toBe("repo:42");
  });

  it("dedupKey: of two creations racing with the same key, exactly one wins and the other is told which item", async () => {
    const { database, target, url } = db();
    const ws = await seedWorkspace(database);
    const actor = ownerActor(ws);
    const second = target === "postgres" ? await connect(url, { driver: "neon", max: 4 }) : database;
    try {
      const results = await Promise.allSettled(
        [database, second, database, second].map((dbx, n) =>
          domain(dbx, actor).create({ title: `race ${n}`, items: [{ type: "t", dedupKey: "same" }] }),
        ),
      );
      const won = results.filter((r) => r.status === "fulfilled");
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(3);
      const winner = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof createWorkOrder>>>).value;
      for (const loss of lost) {
        expect(loss.reason).toMatchObject({ status: 409, details: { existingItemId: winner.items[0]!.id } });
      }
    } finally {
      if (second !== database) await second.close();
    }
  });

  it("8 concurrent claimers never make more than 2 items of a key limited to 2 PROCESSING", async () => {
    const { database, target, url } = db();
    const ws = await seedWorkspace(database);
    const actor = ownerActor(ws);
    const d = domain(database, actor);
    await d.limit({ concurrencyKey: "model:gpt", maxInFlight: 2 });
    const limited = target === "postgres" ? 60 : 24;
    const created = await d.create({
      title: "limited",
      items: [
        ...Array.from({ length: limited }, (_, n) => ({ type: "call", concurrencyKey: "model:gpt", payload: { n } })),
        ...Array.from({ length: 20 }, (_, n) => ({ type: "call", concurrencyKey: "model:other", payload: { n } })),
      ],
    });
    const pool = target === "postgres" ? await connect(url, { driver: "neon", max: 10 }) : database;
    const inFlight = async () =>
      (
        await rows<{ n: number }>(
          database.db,
          sql`select count(*)::int as n from work_items
              where workspace_id = ${actor.workspaceId}::uuid and concurrency_key = 'model:gpt' and status = 'PROCESSING'`,
        )
      )[0]!.n;
    let maxSeen = 0;
    let claimsChecked = 0;
    // Claims numbered in the order they returned: the first that took another key's item, the last
    // that took one of the limited key's.
    let firstOtherClaim = Number.POSITIVE_INFINITY;
    let lastLimitedClaim = 0;
    try {
      const worker = async (w: number) => {
        const mine = domain(pool, actor);
        for (let idle = 0; idle < 40; ) {
          const { items } = await mine.claim(`worker-${w}`, 3);
          const claimNumber = ++claimsChecked;
          for (const item of items) {
            if (item.concurrencyKey === "model:other") firstOtherClaim = Math.min(firstOtherClaim, claimNumber);
            else lastLimitedClaim = Math.max(lastLimitedClaim, claimNumber);
          }
          // The database, after every claim.
          const n = await inFlight();
          maxSeen = Math.max(maxSeen, n);
          if (items.length === 0) {
            idle++;
            await sleep(5);
            continue;
          }
          idle = 0;
          await sleep(3);
          for (const item of items) await mine.complete(item.id, item, { by: w });
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
    } finally {
      if (pool !== database) await pool.close();
    }
    expect(claimsChecked).toBeGreaterThan(limited / 2);
    expect(maxSeen).toBeLessThanOrEqual(2);
    expect(maxSeen).toBe(2);
    // A saturated key does not hold back the others: the other key's items (created after all of
    // the limited key's) are claimed while the limited key's backlog is still being worked through,
    // not after it. (Counted by claim order; a count of the in-flight items read after a claim
    // depended on how fast the other workers completed theirs.)
    expect(firstOtherClaim).toBeLessThan(lastLimitedClaim);
    expect((await d.order(created.order.id)).status).toBe("COMPLETED");
  }, 300_000);

  it("a prefix limit counts each key on its own, an exact key limit wins, a type limit counts the type", async () => {
    const { d } = await setup();
    await d.limit({ keyPrefix: "customer:", maxInFlight: 1 });
    await d.limit({ concurrencyKey: "customer:vip", maxInFlight: 3 });
    await d.limit({ type: "render", maxInFlight: 2 });
    await d.create({
      title: "mixed",
      items: [
        ...["customer:a", "customer:a", "customer:b", "customer:b"].map((key) => ({
          type: "mail",
          concurrencyKey: key,
        })),
        ...Array.from({ length: 4 }, () => ({ type: "mail", concurrencyKey: "customer:vip" })),
        ...Array.from({ length: 4 }, () => ({ type: "render" })),
      ],
    });
    const { items } = await d.claim("w", 100);
    const byGroup = (item: { type: string; concurrencyKey: string | null }) => item.concurrencyKey ?? item.type;
    const counts: Record<string, number> = {};
    for (const item of items) counts[byGroup(item)] = (counts[byGroup(item)] ?? 0) + 1;
    expect(counts).toEqual({ "customer:a": 1, "customer:b": 1, "customer:vip": 3, render: 2 });
    expect((await d.claim("w", 100)).items).toEqual([]);
  });

  it("a paused type is not claimed, and is claimed again after resume; a paused order likewise; running items finish", async () => {
    const { d } = await setup();
    const created = await d.create({
      title: "p",
      items: [{ type: "crawl" }, { type: "crawl" }, { type: "index" }],
    });
    const running = (await d.claim("w", 1, ["crawl"])).items[0]!;
    await d.pauseType("crawl");
    expect((await d.claim("w", 10)).items.map((item) => item.type)).toEqual(["index"]);
    expect((await d.claim("w", 10)).items).toEqual([]);
    // The item already running finishes while its type is paused.
    expect((await d.complete(running.id, running)).status).toBe("COMPLETED");
    await d.resumeType("crawl");
    const resumed = await d.claim("w", 10);
    expect(resumed.items.map((item) => item.type)).toEqual(["crawl"]);

    const second = await d.create({ title: "order pause", items: [{ type: "crawl" }] });
    await d.pauseOrder(second.order.id, true);
    expect((await d.claim("w", 10)).items).toEqual([]);
    await d.pauseOrder(second.order.id, false);
    expect((await d.claim("w", 10)).items.map((item) => item.workOrderId)).toEqual([second.order.id]);
    expect(created.order.id).not.toBe(second.order.id);
  });

  it("a three-step chain runs in order and each step sees its predecessors' results", async () => {
    const { d } = await setup();
    const created = await d.create({
      title: "pipeline",
      items: [
        { type: "summarize", key: "summary", dependsOn: ["fetch"] },
        { type: "publish", key: "publish", dependsOn: ["summary", "fetch"] },
        { type: "fetch", key: "fetch" },
      ],
    });
    expect(created.items[1]!.dependsOn).toHaveLength(2);
    const order: string[] = [];
    for (const [step, result] of [
      ["fetch", { pages: 3 }],
      ["summary", { text: "short" }],
      ["publish", { url: "https://example.test/p" }],
    ] as const) {
      const { items } = await d.claim("w", 10);
      expect(items.map((item) => item.key)).toEqual([step]);
      const item = items[0]!;
      order.push(item.key ?? "");
      if (step === "fetch") expect(item.dependencies).toBeUndefined();
      if (step === "summary") expect(item.dependencies).toEqual({ fetch: { pages: 3 } });
      if (step === "publish") expect(item.dependencies).toEqual({ fetch: { pages: 3 }, summary: { text: "short" } });
      // Nothing else is claimable while this step runs.
      expect((await d.claim("w", 10)).items).toEqual([]);
      await d.complete(item.id, item, result);
    }
    expect(order).toEqual(["fetch", "summary", "publish"]);
    expect((await d.order(created.order.id)).status).toBe("COMPLETED");
  });

  it("a first step that fails for good cancels its dependants with the reason; HOLD keeps them queued", async () => {
    const { d } = await setup();
    const created = await d.create({
      title: "chain",
      items: [
        { type: "a", key: "one" },
        { type: "b", key: "two", dependsOn: ["one"] },
        { type: "c", key: "three", dependsOn: ["two"] },
        { type: "d", key: "free" },
      ],
    });
    const { items } = await d.claim("w", 10);
    expect(items.map((item) => item.key).sort()).toEqual(["free", "one"]);
    const one = items.find((item) => item.key === "one")!;
    const free = items.find((item) => item.key === "free")!;
    await d.fail(one.id, one, "the source is gone");
    const after = await d.order(created.order.id);
    const byKey = Object.fromEntries(after.items.map((item) => [item.key, item]));
    expect(byKey.one!.status).toBe("FAILED");
    for (const key of ["two", "three"]) {
      expect(byKey[key]!.status).toBe("CANCELLED");
      expect(byKey[key]!.lastError).toBe("Dependency one failed for good: the source is gone");
    }
    expect(byKey.free!.status).toBe("PROCESSING");
    await d.complete(free.id, free);
    expect((await d.order(created.order.id)).status).toBe("FAILED");

    const held = await d.create({
      title: "held",
      onDependencyFailure: "HOLD",
      items: [
        { type: "a", key: "one" },
        { type: "b", key: "two", dependsOn: ["one"] },
      ],
    });
    const first = (await d.claim("w", 10)).items[0]!;
    await d.fail(first.id, first, "boom");
    const heldOrder = await d.order(held.order.id);
    expect(heldOrder.items.map((item) => [item.key, item.status])).toEqual([
      ["one", "FAILED"],
      ["two", "QUEUED"],
    ]);
    expect((await d.claim("w", 10)).items).toEqual([]);
  });

  it("a dependency cycle, an unknown key or a duplicate key is a 422 and creates nothing", async () => {
    const { d } = await setup();
    await expect(
      d.create({
        title: "cycle",
        items: [
          { type: "a", key: "a", dependsOn: ["c"] },
          { type: "b", key: "b", dependsOn: ["a"] },
          { type: "c", key: "c", dependsOn: ["b"] },
        ],
      }),
    ).rejects.toMatchObject({
      status: 422,
      message: expect.stringMatching(/cycle/),
      details: { cycle: ["a", "c", "b", "a"] },
    });
    await expect(d.create({ title: "self", items: [{ type: "a", key: "a", dependsOn: ["a"] }] })).rejects.toMatchObject(
      {
        status: 422,
      },
    );
    await expect(
      d.create({ title: "unknown", items: [{ type: "a", key: "a", dependsOn: ["zz"] }] }),
    ).rejects.toMatchObject({
      status: 422,
      message: expect.stringMatching(/zz/),
    });
    await expect(
      d.create({
        title: "dup",
        items: [
          { type: "a", key: "a" },
          { type: "b", key: "a", dependsOn: ["a"] },
        ],
      }),
    ).rejects.toMatchObject({ status: 422 });
    expect((await d.claim("w", 10)).items).toEqual([]);
  });

  it("a limit of 5 claims per second is never exceeded over a 3-second run (attempts' start times), and the claim says when the next is due", async () => {
    const { database, target, url } = db();
    const ws = await seedWorkspace(database);
    const actor = ownerActor(ws);
    const d = domain(database, actor);
    await d.limit({ type: "llm", rate: { limit: 5, intervalSeconds: 1 } });
    await d.create({ title: "calls", items: Array.from({ length: 60 }, (_, n) => ({ type: "llm", payload: { n } })) });
    const pool = target === "postgres" ? await connect(url, { driver: "neon", max: 10 }) : database;
    let sawNext = 0;
    try {
      const deadline = Date.now() + 3000;
      const worker = async (w: number) => {
        const mine = domain(pool, actor);
        while (Date.now() < deadline) {
          const claimed = await mine.claim(`w${w}`, 2);
          for (const item of claimed.items) await mine.complete(item.id, item);
          if (claimed.items.length === 0) {
            // Null when nothing was held back by the limit (the candidates were locked by other claims).
            const wait = claimed.nextClaimableAt ? claimed.nextClaimableAt.getTime() - Date.now() : 5;
            // Never later than one interval from now (allowing for clock reads on both sides).
            expect(wait).toBeLessThanOrEqual(1100);
            if (claimed.nextClaimableAt) sawNext++;
            await sleep(Math.min(Math.max(wait, 5), 50));
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
    } finally {
      if (pool !== database) await pool.close();
    }
    // Every six consecutive claims span at least a second: no window of 1 s holds more than 5.
    const [stats] = await rows<{ claims: number; crowded: number; first: string; last: string }>(
      database.db,
      sql`select count(*)::int as claims,
                 count(*) filter (where sixth - started_at < interval '1 second')::int as crowded,
                 min(started_at)::text as first, max(started_at)::text as last
          from (select a.started_at, lead(a.started_at, 5) over (order by a.started_at) as sixth
                from attempts a join work_items i on i.id = a.work_item_id
                where i.workspace_id = ${actor.workspaceId}::uuid) s`,
    );
    expect(stats!.crowded).toBe(0);
    // The limit was reached, not idled under: about 5 per second for 3 seconds.
    expect(stats!.claims).toBeGreaterThanOrEqual(12);
    expect(stats!.claims).toBeLessThanOrEqual(20);
    expect(sawNext).toBeGreaterThan(0);
  }, 60_000);
});
