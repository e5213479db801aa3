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
