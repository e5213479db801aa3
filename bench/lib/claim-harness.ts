import { now } from "./stats.js";

/**
 * What every queue under test provides, so Cairn, pg-boss and raw SQL are driven by
 * the very same worker loop and measured the same way.
 */
export interface ClaimTarget {
  name: string;
  /** Claims up to `limit` items for `worker`; returns their ids (empty when nothing is claimable). */
  claim(worker: number, limit: number): Promise<string[]>;
  /** Marks the given items, all claimed by `worker`, as done. */
  complete(worker: number, ids: string[]): Promise<void>;
  /** After the run: how many items the database holds as done and as not done. */
  verify(): Promise<Verified>;
  close(): Promise<void>;
}

/** The database's view after a run; `extra` holds target-specific checks (counts that must be 0 are named so). */
export interface Verified {
  done: number;
  notDone: number;
  extra?: Record<string, number>;
}

export interface ClaimRunOptions {
  items: number;
  workers: number;
  batch: number;
  /** Wall-clock budget for the run; workers stop claiming when it is spent. */
  budgetMs: number;
}

export interface ClaimRunResult {
  target: string;
  items: number;
  workers: number;
  batch: number;
  completed: number;
  seconds: number;
  jobsPerSecond: number;
  /** Ids handed out more than once while the run was in flight. Must be zero. */
  duplicates: number;
  claimCalls: number;
  emptyClaims: number;
  truncated: boolean;
  verified: Verified;
  errors: string[];
}

export async function runClaimWorkers(target: ClaimTarget, opts: ClaimRunOptions): Promise<ClaimRunResult> {
  const seen = new Set<string>();
  let duplicates = 0;
  let completed = 0;
  let claimCalls = 0;
  let emptyClaims = 0;
  let truncated = false;
  const errors: string[] = [];
  const start = now();
  const deadline = start + opts.budgetMs;

  const worker = async (w: number) => {
    // An empty claim normally means every remaining item is done or held by another
    // worker; a few retries guard against a queue that returns empty on a transient
    // error (pg-boss swallows fetch errors). Lost items then show up in `verified`.
    let empties = 0;
    while (completed < opts.items) {
      if (now() > deadline) {
        truncated = true;
        return;
      }
      claimCalls++;
      const ids = await target.claim(w, opts.batch);
      if (ids.length === 0) {
        emptyClaims++;
        if (++empties > 3) return;
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      empties = 0;
      for (const id of ids) {
        if (seen.has(id)) duplicates++;
        else seen.add(id);
      }
      await target.complete(w, ids);
      completed += ids.length;
    }
  };

  const settled = await Promise.allSettled(Array.from({ length: opts.workers }, (_, w) => worker(w)));
  const seconds = (now() - start) / 1000;
  for (const s of settled) if (s.status === "rejected") errors.push(String(s.reason?.message ?? s.reason));
  const verified = await target.verify();
  return {
    target: target.name,
    items: opts.items,
    workers: opts.workers,
    batch: opts.batch,
    completed,
    seconds,
    jobsPerSecond: completed / seconds,
    duplicates,
    claimCalls,
    emptyClaims,
    truncated,
    verified,
    errors,
  };
}
