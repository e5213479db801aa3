/** Latency summaries. Percentiles use the nearest-rank method on the sorted samples. */
export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  mean: number;
  min: number;
  max: number;
  /** Operations per second over the measured wall time (one client, so ≈ 1000 / mean). */
  qps: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function summarise(samplesMs: number[], wallMs?: number): LatencySummary {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const total = sorted.reduce((s, x) => s + x, 0);
  const wall = wallMs ?? total;
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    mean: sorted.length ? total / sorted.length : NaN,
    min: sorted[0] ?? NaN,
    max: sorted[sorted.length - 1] ?? NaN,
    qps: wall > 0 ? (sorted.length * 1000) / wall : NaN,
  };
}

export const now = (): number => performance.now();

/**
 * Times `fn` once per input, sequentially, after `warmup` untimed calls on the first
 * inputs, and stops early at `deadline` (a performance.now() value) so a slow case
 * cannot eat the whole run's budget. Returns the summary and each call's result.
 */
export async function timeEach<I, R>(
  inputs: I[],
  fn: (input: I, index: number) => Promise<R>,
  opts: { warmup?: number; deadline?: number } = {},
): Promise<{ summary: LatencySummary; results: R[]; truncated: boolean }> {
  const warmup = Math.min(opts.warmup ?? 0, inputs.length);
  for (let i = 0; i < warmup; i++) await fn(inputs[i], i);
  const samples: number[] = [];
  const results: R[] = [];
  const start = now();
  let truncated = false;
  for (let i = 0; i < inputs.length; i++) {
    if (opts.deadline !== undefined && now() > opts.deadline && samples.length >= 5) {
      truncated = true;
      break;
    }
    const t0 = now();
    results.push(await fn(inputs[i], i));
    samples.push(now() - t0);
  }
  return { summary: summarise(samples, now() - start), results, truncated };
}

/**
 * Times two calls side by side: for each input both run, one after the other, the first going
 * first on even inputs and second on odd ones, after `warmup` untimed pairs. On a shared machine
 * the load, the caches and the data (a queue both drain) then change under both alike, which
 * timing one loop after the other does not give. Stops early at `deadline`, like `timeEach`.
 */
export async function timePairs<I, A, B>(
  inputs: I[],
  first: (input: I, index: number) => Promise<A>,
  second: (input: I, index: number) => Promise<B>,
  opts: { warmup?: number; deadline?: number } = {},
): Promise<{
  first: { summary: LatencySummary; results: A[] };
  second: { summary: LatencySummary; results: B[] };
  truncated: boolean;
}> {
  const warmup = Math.min(opts.warmup ?? 0, inputs.length);
  for (let i = 0; i < warmup; i++) {
    await first(inputs[i], i);
    await second(inputs[i], i);
  }
  const samples = { first: [] as number[], second: [] as number[] };
  const results = { first: [] as A[], second: [] as B[] };
  const spent = { first: 0, second: 0 };
  let truncated = false;
  const timeFirst = async (i: number) => {
    const t0 = now();
    results.first.push(await first(inputs[i], i));
    const ms = now() - t0;
    samples.first.push(ms);
    spent.first += ms;
  };
  const timeSecond = async (i: number) => {
    const t0 = now();
    results.second.push(await second(inputs[i], i));
    const ms = now() - t0;
    samples.second.push(ms);
    spent.second += ms;
  };
  for (let i = 0; i < inputs.length; i++) {
    if (opts.deadline !== undefined && now() > opts.deadline && samples.first.length >= 5) {
      truncated = true;
      break;
    }
    if (i % 2 === 0) {
      await timeFirst(i);
      await timeSecond(i);
    } else {
      await timeSecond(i);
      await timeFirst(i);
    }
  }
  return {
    first: { summary: summarise(samples.first, spent.first), results: results.first },
    second: { summary: summarise(samples.second, spent.second), results: results.second },
    truncated,
  };
}

/** recall@k: the share of the true top-k that the candidate top-k found. */
export function recallAtK(truth: string[], found: string[], k: number): number {
  const want = new Set(truth.slice(0, k));
  if (want.size === 0) return NaN;
  let hit = 0;
  for (const id of found.slice(0, k)) if (want.has(id)) hit++;
  return hit / want.size;
}

export function mean(xs: number[]): number {
  const ok = xs.filter((x) => !Number.isNaN(x));
  return ok.length ? ok.reduce((s, x) => s + x, 0) / ok.length : NaN;
}
