import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CairnClient,
  CairnError,
  createClient,
  createWorker,
  LeaseLostError,
  NonRetryableError,
  type Worker,
} from "../../sdk/src/index";
import { type Cairn, startCairn } from "./support/server";

/**
 * The worker runtime against a real `npm start` server (PGlite, sweeper every 500 ms). Every
 * outcome is checked through the API (item status, attempts, results), not the worker's counters.
 */
let cairn: Cairn;
let client: CairnClient;

beforeAll(async () => {
  cairn = await startCairn();
  client = createClient({ baseUrl: cairn.url, apiKey: cairn.key });
});
afterAll(async () => {
  await cairn?.stop();
});

type Items = { type: string; payload: Record<string, unknown>; maxAttempts?: number }[];

/** An order whose failed attempts are retried at once (1 ms backoff), so the tests wait on workers only. */
async function createOrder(items: Items, options: { priority?: "HIGH" | "MEDIUM" } = {}) {
  return client.POST("/v1/work-orders", {
    body: { title: "sdk test", items, retry: { baseMs: 1, capMs: 1 }, ...options },
  });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const item = (id: string) => client.GET("/v1/work-items/{id}", { params: { path: { id } } });
const orderDone = (id: string) =>
  waitFor(`order ${id} to finish`, async () => {
    const order = await client.GET("/v1/work-orders/{id}", { params: { path: { id } } });
    return ["COMPLETED", "FAILED"].includes(order.status) ? order : undefined;
  });

describe("createWorker against npm start", () => {
  it("completions that end together go to the server in one batch call, each with its own result", async () => {
    const N = 10;
    const order = await createOrder(Array.from({ length: N }, (_, i) => ({ type: "BATCHED", payload: { i } })));
    const paths: string[] = [];
    const counting = createClient({
      baseUrl: cairn.url,
      apiKey: cairn.key,
      fetch: (request) => {
        paths.push(`${request.method} ${new URL(request.url).pathname}`);
        return globalThis.fetch(request);
      },
    });
    const worker = createWorker({
      client: counting,
      types: ["BATCHED"],
      concurrency: N,
      completionBatchMs: 20,
      poll: { minMs: 20, maxMs: 50 },
      signals: false,
      handler: ({ item }) => ({ doubled: Number(item.payload.i) * 2 }),
    });
    worker.start();
    const done = await orderDone(order.id);
    await worker.stop();
    expect(done.status).toBe("COMPLETED");
    const batches = paths.filter((path) => path === "POST /v1/work-items:complete").length;
    expect(paths.some((path) => path.endsWith("/complete") && path !== "POST /v1/work-items:complete")).toBe(false);
    expect(batches).toBeGreaterThan(0);
    expect(batches).toBeLessThan(N);
    const items = await client.GET("/v1/work-orders/{id}", { params: { path: { id: order.id } } });
    for (const each of items.items) expect(each.result).toEqual({ doubled: Number(each.payload.i) * 2 });
  });

  it("N items and K workers: every item is completed exactly once", async () => {
    const N = 60;
    const order = await createOrder(Array.from({ length: N }, (_, i) => ({ type: "EXACTLY_ONCE", payload: { i } })));
    const handled = new Map<string, number>();
    const completedBy = new Map<string, string>();
    let idle = 0;
    const workers: Worker[] = Array.from({ length: 3 }, (_, k) =>
      createWorker({
        client,
        workerId: `worker-${k}`,
        types: ["EXACTLY_ONCE"],
        concurrency: 4,
        poll: { minMs: 20, maxMs: 100 },
        signals: false,
        handler: async ({ item, workerId }) => {
          handled.set(item.id, (handled.get(item.id) ?? 0) + 1);
          await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20));
          return { workerId, i: item.payload.i };
        },
        on: {
          completed: ({ item }) => completedBy.set(item.id, `worker-${k}`),
          idle: () => idle++,
        },
      }),
    );
    for (const worker of workers) worker.start();
    const done = await orderDone(order.id);
    await Promise.all(workers.map((worker) => worker.stop()));

    expect(done.status).toBe("COMPLETED");
    expect(done.itemCounts).toEqual({ COMPLETED: N });
    expect(handled.size).toBe(N);
    expect([...handled.values()].every((count) => count === 1)).toBe(true);
    for (const created of order.items) {
      const stored = await item(created.id);
      expect(stored.status).toBe("COMPLETED");
      expect(stored.attempts).toHaveLength(1);
      expect(stored.attempts[0]).toMatchObject({ status: "COMPLETED", workerId: completedBy.get(created.id) });
      expect(stored.result).toEqual({ workerId: completedBy.get(created.id), i: created.payload.i });
    }
    // Once the queue was empty the workers polled (with backoff) instead of stopping.
    expect(idle).toBeGreaterThan(0);
  });

  it("a thrown error is retried; a NonRetryableError goes to the dead letters at once", async () => {
    const order = await createOrder([
      { type: "FLAKY", payload: { mode: "once" } },
      { type: "FLAKY", payload: { mode: "never" } },
    ]);
    const failures: { retryable: boolean; willRetry: boolean }[] = [];
    const worker = createWorker<{ mode: string }>({
      client,
      types: ["FLAKY"],
      poll: { minMs: 20, maxMs: 100 },
      signals: false,
      handler: ({ item }) => {
        if (item.payload.mode === "never") throw new NonRetryableError("unknown invoice currency");
        if (item.attemptNumber === 1) throw new Error("upstream timed out");
        return "ok";
      },
      on: { failed: ({ retryable, willRetry }) => failures.push({ retryable, willRetry }) },
    });
    worker.start();
    const done = await orderDone(order.id);
    await worker.stop();
    expect(done.itemCounts).toEqual({ COMPLETED: 1, FAILED: 1 });

    const [once, never] = await Promise.all(order.items.map((created) => item(created.id)));
    expect(once.attempts.map((attempt) => [attempt.status, attempt.error])).toEqual([
      ["FAILED", "upstream timed out"],
      ["COMPLETED", null],
    ]);
    expect(never.status).toBe("FAILED");
    expect(never.attempts).toHaveLength(1);
    const letters = await client.GET("/v1/dead-letters", { params: { query: { workItemId: never.id } } });
    expect(letters.items).toHaveLength(1);
    expect(letters.items[0].reason).toBe("Non-retryable failure: NonRetryableError: unknown invoice currency");
    expect(failures).toEqual(
      expect.arrayContaining([
        { retryable: true, willRetry: true },
        { retryable: false, willRetry: false },
      ]),
    );
  });

  it("a handler that hangs past its lease is aborted (409 on heartbeat) and another worker completes the item", async () => {
    const order = await createOrder([{ type: "HANG", payload: {} }]);
    const [created] = order.items;
    let reason: unknown;
    const lost: unknown[] = [];
    const errors: unknown[] = [];
    let hungCompleted = 0;
    // The hung worker's heartbeats come too late (every 4 s on a 1 s lease), as when its
    // process stalls: the sweeper requeues the item meanwhile.
    const hung = createWorker({
      client,
      workerId: "hung",
      types: ["HANG"],
      leaseSeconds: 1,
      heartbeatIntervalMs: 4000,
      signals: false,
      handler: ({ signal }) =>
        new Promise((_, reject) => {
          signal.addEventListener("abort", () => {
            reason = signal.reason;
            reject(signal.reason);
          });
        }),
      on: {
        leaseLost: ({ error }) => lost.push(error),
        completed: () => hungCompleted++,
        error: ({ error }) => errors.push(error),
      },
    });
    const claimed = new Promise<void>((resolve) => hung.on("claimed", () => resolve()));
    hung.start();
    await claimed;
    const rescuer = createWorker({
      client,
      workerId: "rescuer",
      types: ["HANG"],
      poll: { minMs: 50, maxMs: 200 },
      signals: false,
      handler: () => ({ rescued: true }),
    });
    rescuer.start();
    const done = await orderDone(order.id);
    await waitFor("the hung handler to be aborted", async () => reason);
    await Promise.all([hung.stop(), rescuer.stop()]);

    expect(done.status).toBe("COMPLETED");
    expect(reason).toBeInstanceOf(LeaseLostError);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ status: 409, code: "conflict" });
    // The 409 is read as "lease lost", not reported as a failed heartbeat.
    expect(errors).toEqual([]);
    expect(hungCompleted).toBe(0);
    const stored = await item(created.id);
    expect(stored.result).toEqual({ rescued: true });
    expect(stored.attempts.map((attempt) => [attempt.workerId, attempt.status])).toEqual([
      ["hung", "TIMEOUT"],
      ["rescuer", "COMPLETED"],
    ]);
  });

  it("SIGTERM in the middle of a run: running items drain, the rest are failed as retryable at the grace deadline and reclaimed at once", async () => {
    // Two 60 s items (claimed first: HIGH priority) and ten 300 ms ones, on a 120 s lease.
    const slow = await createOrder(
      Array.from({ length: 2 }, () => ({ type: "SIGTERM", payload: { ms: 60_000 } })),
      { priority: "HIGH" },
    );
    const fast = await createOrder(Array.from({ length: 10 }, () => ({ type: "SIGTERM", payload: { ms: 300 } })));
    const child = spawn(process.execPath, ["--import", "tsx", "test/sdk/fixtures/worker-process.ts"], {
      env: { ...process.env, CAIRN_URL: cairn.url, CAIRN_API_KEY: cairn.key, ITEM_TYPE: "SIGTERM", GRACE_MS: "1500" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const events = () =>
      output
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as { event: string; id?: string; cause?: string; aborted?: number });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

    await waitFor("the child to complete 3 items", async () =>
      events().filter((e) => e.event === "completed").length >= 3 ? true : undefined,
    );
    const signalledAt = Date.now();
    child.kill("SIGTERM");
    const code = await exited;
    const stoppedAfter = Date.now() - signalledAt;

    expect(code, output).toBe(0);
    // Grace 1.5 s, then the two slow items are failed: well before any lease could expire.
    expect(stoppedAfter).toBeLessThan(10_000);
    const log = events();
    const slowIds = slow.items.map((created) => created.id).sort();
    const shutdownFailed = log.filter((e) => e.event === "failed" && e.cause === "shutdown");
    expect(shutdownFailed.map((e) => e.id).sort()).toEqual(slowIds);
    expect(log.find((e) => e.event === "stopped")).toMatchObject({ aborted: 2 });
    expect(log.at(-1)).toMatchObject({ event: "exit" });
    const childCompleted = new Set(log.filter((e) => e.event === "completed").map((e) => e.id));
    // Whatever was claimed and not aborted was drained: completed by the child itself.
    const claimedByChild = log.filter((e) => e.event === "claimed").map((e) => e.id);
    expect(claimedByChild.filter((id) => !childCompleted.has(id) && !slowIds.includes(id ?? ""))).toEqual([]);

    // A second worker picks up everything left, at once (leases are 120 s: nothing waits for them).
    const rerun: string[] = [];
    const second = createWorker({
      client,
      types: ["SIGTERM"],
      concurrency: 4,
      poll: { minMs: 20, maxMs: 100 },
      signals: false,
      handler: ({ item }) => {
        rerun.push(item.id);
        return { by: "second" };
      },
    });
    second.start();
    const [slowDone, fastDone] = await Promise.all([orderDone(slow.id), orderDone(fast.id)]);
    await second.stop();
    expect(Date.now() - signalledAt).toBeLessThan(30_000);
    expect(slowDone.itemCounts).toEqual({ COMPLETED: 2 });
    expect(fastDone.itemCounts).toEqual({ COMPLETED: 10 });
    expect(rerun.filter((id) => childCompleted.has(id))).toEqual([]);
    for (const created of [...slow.items, ...fast.items]) {
      const stored = await item(created.id);
      const statuses = stored.attempts.map((attempt) => attempt.status);
      expect(statuses.filter((status) => status === "COMPLETED")).toHaveLength(1);
      expect(statuses).not.toContain("TIMEOUT");
      if (slowIds.includes(created.id)) {
        expect(stored.attempts[0]).toMatchObject({ status: "FAILED" });
        expect(stored.attempts[0].error).toMatch(/stopped before the handler finished/);
      }
    }
  });

  it("stop() tells running handlers through `stopping` and waits for them within the grace period", async () => {
    const order = await createOrder([{ type: "CHECKPOINT", payload: {} }]);
    const worker = createWorker({
      client,
      types: ["CHECKPOINT"],
      signals: false,
      shutdownGraceMs: 10_000,
      handler: ({ stopping, signal }) =>
        new Promise((resolve) => {
          const checkpoint = () => resolve({ checkpointed: true, aborted: signal.aborted });
          // stop() may already have been called by the time the handler runs.
          if (stopping.aborted) checkpoint();
          else stopping.addEventListener("abort", checkpoint);
        }),
    });
    const claimed = new Promise<void>((resolve) => worker.on("claimed", () => resolve()));
    worker.start();
    await claimed;
    await worker.stop();
    const [created] = order.items;
    expect(await item(created.id)).toMatchObject({
      status: "COMPLETED",
      result: { checkpointed: true, aborted: false },
    });
  });

  it("stops with the error when the API refuses its key", async () => {
    const worker = createWorker({
      baseUrl: cairn.url,
      apiKey: "cairn_000000000000_unknownunknownunknownunknown0000",
      signals: false,
      handler: () => undefined,
    });
    const error = await worker.run().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CairnError);
    expect(error).toMatchObject({ status: 401, code: "unauthorized" });
  });
});
