/**
 * The worker runtime: claim up to the free slots, run the handler with a lease kept alive by
 * heartbeats, complete or fail with the fencing token, poll with backoff while the queue is
 * empty, and drain on SIGTERM/SIGINT or `stop()`.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { type CairnClient, createClient, type RetryOptions } from "./client.js";
import { CairnError, LeaseLostError, NonRetryableError, WorkerStoppedError } from "./errors.js";
import { type BackoffOptions, fullJitter, retryAfterMs, sleep } from "./retry.js";
import type { components } from "./schema.js";

export type ClaimedWorkItem = components["schemas"]["ClaimedWorkItem"];
/** A claimed item whose payload the handler declares (not checked: the item type's JSON Schema on the server is). */
export type WorkItem<P = Record<string, unknown>> = Omit<ClaimedWorkItem, "payload"> & { payload: P };

export interface HandlerContext<P> {
  item: WorkItem<P>;
  /** Aborts when the lease is lost (`reason` is a LeaseLostError) or the shutdown grace period ends (WorkerStoppedError). */
  signal: AbortSignal;
  /** Aborts when the worker starts stopping: the grace period is running, so finish (or checkpoint) soon. */
  stopping: AbortSignal;
  /** Extends the lease now (heartbeats also run on their own); rejects with LeaseLostError once the lease is gone. */
  heartbeat(): Promise<void>;
  workerId: string;
}

export type Handler<P> = (context: HandlerContext<P>) => unknown;

export interface WorkerEvents<P = Record<string, unknown>> {
  claimed: { item: WorkItem<P> };
  completed: { item: WorkItem<P>; result: unknown; status: "COMPLETED" | "AWAITING_APPROVAL"; durationMs: number };
  /** A failure was reported; `cause` says whether the handler failed or the worker stopped before it finished. */
  failed: {
    item: WorkItem<P>;
    error: unknown;
    retryable: boolean;
    willRetry: boolean;
    deadLetterId: string | null;
    cause: "handler" | "shutdown";
    durationMs: number;
  };
  /** The item is no longer this worker's: its result, if any, is dropped. */
  leaseLost: { item: WorkItem<P>; phase: "heartbeat" | "complete" | "fail"; error: unknown };
  /** The queue was empty (or the server asked to wait): sleeping `delayMs` before the next claim. */
  idle: { delayMs: number; emptyPolls: number };
  error: { error: unknown; phase: "claim" | "heartbeat" | "complete" | "fail" | "listener"; item?: WorkItem<P> };
  stopping: { reason: string; inFlight: number; graceMs: number };
  /** Drained; `aborted` items were still running at the end of the grace period and were failed as retryable. */
  stopped: { aborted: number };
}

export type WorkerListeners<P> = { [K in keyof WorkerEvents<P>]?: (event: WorkerEvents<P>[K]) => void };

export interface WorkerOptions<P = Record<string, unknown>> {
  /** A client, or `baseUrl` + `apiKey` (+ `retry`) to make one. */
  client?: CairnClient;
  baseUrl?: string;
  apiKey?: string;
  retry?: RetryOptions | false;
  /** Shown on the item's attempt (default `<hostname>-<pid>-<random>`). */
  workerId?: string;
  /** Item types to claim (default: any type). */
  types?: string[];
  /** Items handled at once (default 1). */
  concurrency?: number;
  /** Lease asked for on each claim and heartbeat (default 60 s, at most 3600). */
  leaseSeconds?: number;
  /** Heartbeat period (default a third of the lease). */
  heartbeatIntervalMs?: number;
  /** Polling while the queue is empty: exponential from minMs to maxMs (defaults 200 ms, 5 s), jittered. */
  poll?: { minMs?: number; maxMs?: number };
  /** Backoff after a failed claim (defaults 500 ms up to 30 s, full jitter). */
  errorBackoff?: Partial<BackoffOptions>;
  /**
   * With `concurrency` above 1, completions that end within this many milliseconds of each other
   * go to the server together (`POST /v1/work-items:complete`, up to 100 at once; default 5).
   * 0 sends each on its own.
   */
  completionBatchMs?: number;
  /** How long `stop()` lets running handlers finish before aborting them (default 30 s). */
  shutdownGraceMs?: number;
  /** Signals that stop the worker while `run()`/`start()` is active (default SIGTERM and SIGINT; `false` for none). */
  signals?: NodeJS.Signals[] | false;
  handler: Handler<P>;
  on?: WorkerListeners<P>;
}

export interface Worker<P = Record<string, unknown>> {
  readonly id: string;
  /** Items being handled now. */
  readonly inFlight: number;
  /** Starts claiming; returns at once. */
  start(): void;
  /** Starts (if needed) and resolves once stopped and drained; rejects if the worker stopped on a fatal error (a 401 on claim, say). */
  run(): Promise<void>;
  /** Stops claiming and drains; resolves when every item is completed, failed or given up. Idempotent. */
  stop(options?: { graceMs?: number; reason?: string }): Promise<void>;
  on<K extends keyof WorkerEvents<P>>(event: K, listener: (event: WorkerEvents<P>[K]) => void): () => void;
}

const MAX_CLAIM = 100;
const MAX_COMPLETION_BATCH = 100;
const MAX_ERROR_LENGTH = 10_000;

/** What a claim call answered, for deciding when to claim next. */
export interface ClaimOutcome {
  requested: number;
  claimed: number;
  response: Response;
  /** The claim's `nextClaimableAt`: when a rate limit that held items back has budget again. */
  nextClaimableAt?: string | null;
}

/**
 * How long to wait before the next claim. Items claimed: none. Otherwise the server's word
 * when it gives one (a Retry-After, or the claim's `nextClaimableAt` when a rate limit held
 * items back: the worker sleeps until then), else exponential backoff with jitter over
 * consecutive empty polls.
 */
export function nextClaimDelay(
  outcome: ClaimOutcome,
  emptyPolls: number,
  poll: { minMs: number; maxMs: number },
  random = Math.random,
  now = Date.now(),
): number {
  if (outcome.claimed > 0) return 0;
  const due = serverDueInMs(outcome.response) ?? untilNextClaimable(outcome.nextClaimableAt, now);
  if (due !== undefined) return due;
  const ceiling = Math.min(poll.maxMs, poll.minMs * 2 ** Math.min(emptyPolls, 30));
  // Half fixed, half random: never a busy loop, and idle workers do not poll in step.
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** When the server says to come back (a Retry-After on the claim response). */
function serverDueInMs(response: Response): number | undefined {
  return retryAfterMs(response.headers.get("retry-after"));
}

/** Milliseconds until `nextClaimableAt` (at least 1, so never a busy loop), if the claim gave one. */
function untilNextClaimable(nextClaimableAt: string | null | undefined, now: number): number | undefined {
  if (!nextClaimableAt) return undefined;
  const at = Date.parse(nextClaimableAt);
  return Number.isNaN(at) ? undefined : Math.max(1, at - now);
}

interface Task<P> {
  item: WorkItem<P>;
  controller: AbortController;
  /** Local time by which the lease surely ends unless a heartbeat extends it (measured from when the request left). */
  leaseDeadline: number;
  /** Set once complete/fail is being sent: later heartbeat answers no longer matter. */
  finishing: boolean;
  leaseLost: boolean;
  beating?: Promise<void>;
  settled?: Promise<void>;
}

export function createWorker<P = Record<string, unknown>>(options: WorkerOptions<P>): Worker<P> {
  const client = options.client ?? clientFrom(options);
  const id = options.workerId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const concurrency = positiveInteger(options.concurrency ?? 1, "concurrency");
  const leaseSeconds = positiveInteger(options.leaseSeconds ?? 60, "leaseSeconds");
  const heartbeatMs = options.heartbeatIntervalMs ?? (leaseSeconds * 1000) / 3;
  const poll = { minMs: options.poll?.minMs ?? 200, maxMs: options.poll?.maxMs ?? 5_000 };
  const completionBatchMs = options.completionBatchMs ?? 5;
  const batchCompletions = concurrency > 1 && completionBatchMs > 0;
  const completions = completionBatcher(client, completionBatchMs);
  const errorBackoff = { baseMs: options.errorBackoff?.baseMs ?? 500, capMs: options.errorBackoff?.capMs ?? 30_000 };
  const graceMs = options.shutdownGraceMs ?? 30_000;
  const signals = options.signals === false ? [] : (options.signals ?? ["SIGTERM", "SIGINT"]);

  const listeners = new Map<keyof WorkerEvents<P>, Set<(event: never) => void>>();
  const active = new Set<Task<P>>();
  const stopController = new AbortController();
  let wake: () => void = () => {};
  let loop: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  let fatal: unknown;
  let stoppedResolve: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    stoppedResolve = resolve;
  });

  function emit<K extends keyof WorkerEvents<P>>(event: K, payload: WorkerEvents<P>[K]): void {
    for (const listener of listeners.get(event) ?? []) {
      try {
        (listener as (e: WorkerEvents<P>[K]) => void)(payload);
      } catch (error) {
        // A listener's bug must not stop the worker; it is reported once, never in a loop.
        if (event !== "error") emit("error", { error, phase: "listener" });
      }
    }
  }

  function on<K extends keyof WorkerEvents<P>>(event: K, listener: (event: WorkerEvents<P>[K]) => void): () => void {
    const set = listeners.get(event) ?? new Set();
    listeners.set(event, set);
    set.add(listener as (event: never) => void);
    return () => set.delete(listener as (event: never) => void);
  }
  for (const [event, listener] of Object.entries(options.on ?? {})) {
    if (listener) on(event as keyof WorkerEvents<P>, listener as (event: unknown) => void);
  }

  /** Resolves at the next task end, stop, or after `ms`: the claim loop's only way to wait. */
  function pause(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      wake = done;
      if (stopController.signal.aborted) done();
    });
  }

  async function claimLoop(): Promise<void> {
    let emptyPolls = 0;
    let failures = 0;
    while (!stopController.signal.aborted) {
      const free = concurrency - active.size;
      if (free <= 0) {
        await pause();
        continue;
      }
      const requested = Math.min(free, MAX_CLAIM);
      const sentAt = Date.now();
      // Not aborted by stop: the server may already have leased items to us, and dropping
      // the answer would leave them stuck until their lease expires.
      const { data, error, response } = await client.raw
        .POST("/v1/work-items/claim", { body: { workerId: id, types: options.types, limit: requested, leaseSeconds } })
        .catch((cause: unknown) => ({ data: undefined, error: cause, response: undefined }));
      if (!data || !response) {
        const failure = response ? CairnError.fromResponse(response, error, "POST /v1/work-items/claim") : error;
        emit("error", { error: failure, phase: "claim" });
        if (isFatal(failure)) {
          fatal = failure;
          void stop({ reason: `claim failed: ${(failure as Error).message}` });
          return;
        }
        await pause(fullJitter(failures++, errorBackoff));
        continue;
      }
      failures = 0;
      for (const claimed of data.items) startTask(claimed as WorkItem<P>, sentAt);
      const delayMs = nextClaimDelay(
        { requested, claimed: data.items.length, response, nextClaimableAt: data.nextClaimableAt },
        emptyPolls,
        poll,
      );
      emptyPolls = data.items.length > 0 ? 0 : emptyPolls + 1;
      if (delayMs > 0 && !stopController.signal.aborted) {
        emit("idle", { delayMs, emptyPolls });
        await pause(delayMs);
      }
    }
  }

  function startTask(item: WorkItem<P>, sentAt: number): void {
    const task: Task<P> = {
      item,
      controller: new AbortController(),
      leaseDeadline: sentAt + leaseSeconds * 1000,
      finishing: false,
      leaseLost: false,
    };
    active.add(task);
    emit("claimed", { item });
    task.settled = runTask(task).finally(() => {
      active.delete(task);
      wake();
    });
  }

  async function runTask(task: Task<P>): Promise<void> {
    const started = performance.now();
    const { signal } = task.controller;
    const timer = setInterval(() => void heartbeat(task).catch(() => {}), heartbeatMs);
    const aborted = new Promise<never>((_, reject) => {
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
    let outcome: { ok: true; result: unknown } | { ok: false; error: unknown };
    try {
      const context: HandlerContext<P> = {
        item: task.item,
        signal,
        stopping: stopController.signal,
        heartbeat: () => heartbeat(task),
        workerId: id,
      };
      // A handler that ignores its signal is left behind: the slot and the item move on.
      const result = await Promise.race([Promise.resolve().then(() => options.handler(context)), aborted]);
      outcome = { ok: true, result };
    } catch (error) {
      outcome = { ok: false, error };
    } finally {
      clearInterval(timer);
    }
    if (task.leaseLost) return;
    task.finishing = true;
    const durationMs = Math.round(performance.now() - started);
    const fence = { attemptId: task.item.attemptId, fencingToken: task.item.fencingToken };
    const path = { params: { path: { id: task.item.id } } };
    if (outcome.ok) {
      try {
        const body = outcome.result === undefined ? fence : { ...fence, result: outcome.result };
        const done = batchCompletions
          ? await completions.add({ id: task.item.id, ...body })
          : await client.POST("/v1/work-items/{id}/complete", { ...path, body });
        emit("completed", { item: task.item, result: outcome.result, status: done.status, durationMs });
      } catch (error) {
        reportFinishError(task, "complete", error);
      }
      return;
    }
    const shutdown = signal.aborted && signal.reason instanceof WorkerStoppedError;
    const retryable = shutdown || !(outcome.error instanceof NonRetryableError);
    try {
      const failed = await client.POST("/v1/work-items/{id}/fail", {
        ...path,
        body: { ...fence, error: describe(outcome.error), retryable },
      });
      emit("failed", {
        item: task.item,
        error: outcome.error,
        retryable,
        willRetry: failed.willRetry,
        deadLetterId: failed.deadLetterId ?? null,
        cause: shutdown ? "shutdown" : "handler",
        durationMs,
      });
    } catch (error) {
      reportFinishError(task, "fail", error);
    }
  }

  function reportFinishError(task: Task<P>, phase: "complete" | "fail", error: unknown): void {
    if (error instanceof CairnError && (error.status === 409 || error.status === 404)) {
      emit("leaseLost", { item: task.item, phase, error });
    } else {
      // The lease then runs out and the server's reaper requeues the item.
      emit("error", { error, phase, item: task.item });
    }
  }

  function heartbeat(task: Task<P>): Promise<void> {
    if (task.leaseLost) return Promise.reject(new LeaseLostError(`Lease on work item ${task.item.id} was lost`));
    if (task.finishing) return Promise.resolve();
    // One heartbeat at a time per item: a manual one while the timer's is in flight shares it.
    task.beating ??= beat(task).finally(() => {
      task.beating = undefined;
    });
    return task.beating;
  }

  async function beat(task: Task<P>): Promise<void> {
    const sentAt = Date.now();
    try {
      await client.POST("/v1/work-items/{id}/heartbeat", {
        params: { path: { id: task.item.id } },
        body: { attemptId: task.item.attemptId, fencingToken: task.item.fencingToken, leaseSeconds },
      });
      task.leaseDeadline = sentAt + leaseSeconds * 1000;
    } catch (error) {
      if (task.finishing) return;
      const rejected = error instanceof CairnError && (error.status === 409 || error.status === 404);
      // Unreachable server: the lease may still hold; once it surely ended, assume it is lost.
      if (!rejected) emit("error", { error, phase: "heartbeat", item: task.item });
      if (rejected || Date.now() >= task.leaseDeadline) {
        loseLease(task, error);
        throw task.controller.signal.reason;
      }
      throw error;
    }
  }

  function loseLease(task: Task<P>, error: unknown): void {
    if (task.leaseLost) return;
    task.leaseLost = true;
    emit("leaseLost", { item: task.item, phase: "heartbeat", error });
    task.controller.abort(new LeaseLostError(`Lease on work item ${task.item.id} was lost`, { cause: error }));
  }

  const onSignal = (signal: NodeJS.Signals) => void stop({ reason: signal });

  function start(): void {
    if (loop) return;
    for (const signal of signals) process.once(signal, onSignal);
    loop = claimLoop().catch((error: unknown) => {
      fatal = error;
      void stop({ reason: "claim loop failed" });
    });
  }

  function stop(stopOptions: { graceMs?: number; reason?: string } = {}): Promise<void> {
    stopping ??= (async () => {
      const deadline = Date.now() + (stopOptions.graceMs ?? graceMs);
      emit("stopping", {
        reason: stopOptions.reason ?? "stop()",
        inFlight: active.size,
        graceMs: stopOptions.graceMs ?? graceMs,
      });
      stopController.abort();
      wake();
      // An in-flight claim finishes first; whatever it brings runs within the grace period.
      await loop;
      const settled = () => Promise.all([...active].map((task) => task.settled));
      const graceOver = new AbortController();
      await Promise.race([settled(), sleep(Math.max(0, deadline - Date.now()), graceOver.signal).catch(() => {})]);
      graceOver.abort();
      const aborted = active.size;
      // Still running: abort and fail them as retryable now, so they are reclaimed at once
      // rather than after their lease.
      for (const task of active)
        task.controller.abort(new WorkerStoppedError(`Worker ${id} stopped before the handler finished`));
      await settled();
      for (const signal of signals) process.removeListener(signal, onSignal);
      emit("stopped", { aborted });
      stoppedResolve();
    })();
    return stopping;
  }

  return {
    id,
    get inFlight() {
      return active.size;
    },
    start,
    async run() {
      start();
      await stopped;
      if (fatal) throw fatal;
    },
    stop,
    on,
  };
}

/** Claim errors that retrying cannot fix: a bad key, a missing scope, a malformed request. */
function isFatal(error: unknown): boolean {
  return error instanceof CairnError && [400, 401, 403, 404, 422].includes(error.status);
}

function describe(error: unknown): string {
  const text =
    error instanceof Error
      ? error.name && error.name !== "Error"
        ? `${error.name}: ${error.message}`
        : error.message
      : String(error);
  return (text.trim() || "Handler failed").slice(0, MAX_ERROR_LENGTH);
}

function clientFrom<P>(options: WorkerOptions<P>): CairnClient {
  if (!options.baseUrl || !options.apiKey) {
    throw new TypeError("createWorker: pass a client, or baseUrl and apiKey");
  }
  return createClient({ baseUrl: options.baseUrl, apiKey: options.apiKey, retry: options.retry });
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new TypeError(`createWorker: ${name} must be a positive integer`);
  return value;
}

type Completion = components["schemas"]["CompleteWorkItemsInput"]["items"][number];
type CompletedWorkItem = components["schemas"]["CompletedWorkItem"];
const BATCH_OPERATION = "POST /v1/work-items:complete";

/**
 * Collects completions for `windowMs` (or until 100 wait) and sends them in one call; each
 * caller gets its own item's outcome: the completion, or the 409/404 its fence met, as a
 * CairnError like the single call's.
 */
function completionBatcher(client: CairnClient, windowMs: number) {
  let waiting: Array<{ completion: Completion; resolve(done: CompletedWorkItem): void; reject(error: unknown): void }> =
    [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  async function flush(): Promise<void> {
    clearTimeout(timer);
    timer = undefined;
    const batch = waiting;
    waiting = [];
    try {
      const { results } = await client.POST("/v1/work-items:complete", {
        body: { items: batch.map((entry) => entry.completion) },
      });
      batch.forEach((entry, index) => {
        const result = results[index];
        if (result?.outcome === "completed" && result.item) entry.resolve(result.item);
        else
          entry.reject(
            new CairnError({
              status: result?.outcome === "not_found" ? 404 : 409,
              code: result?.error?.code ?? "conflict",
              message: result?.error?.message ?? "The completion was refused",
              details: result?.error?.details,
              operation: BATCH_OPERATION,
            }),
          );
      });
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    }
  }
  return {
    add(completion: Completion): Promise<CompletedWorkItem> {
      return new Promise((resolve, reject) => {
        waiting.push({ completion, resolve, reject });
        if (waiting.length >= MAX_COMPLETION_BATCH) void flush();
        else timer ??= setTimeout(() => void flush(), windowMs);
      });
    },
  };
}
