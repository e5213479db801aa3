/**
 * The retry policy: exponential backoff as data, computed by one TypeScript function and
 * one SQL expression builder that give the same delay.
 *
 * After the n-th failed attempt (n ≥ 1) the delay before the next one is
 *   ceiling = min(capMs, baseMs × factor^(n − 1))
 * and, by `jitter`:
 *   "full"  → random(0, ceiling)                 the default: spreads the retries of many workers
 *   "equal" → ceiling / 2 + random(0, ceiling / 2)  a floor of half the delay (see where it is used)
 *   "none"  → ceiling                            deterministic (a time a person reads and plans on)
 */
import { type SQL, sql } from "drizzle-orm";

export type Jitter = "full" | "equal" | "none";

export interface RetryPolicy {
  baseMs: number;
  capMs: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  jitter: Jitter;
}

/** Beyond this many doublings every delay is at its cap; it keeps `factor^n` finite. */
const MAX_EXPONENT = 60;

export function retryDelayMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), MAX_EXPONENT);
  const ceiling = Math.min(policy.capMs, policy.baseMs * (policy.factor ?? 2) ** exponent);
  switch (policy.jitter) {
    case "full":
      return Math.round(random() * ceiling);
    case "equal":
      return Math.round(ceiling / 2 + random() * (ceiling / 2));
    case "none":
      return Math.round(ceiling);
  }
}

/** The policy with base and cap that may be SQL (an order's own columns, say). */
export interface SqlRetryPolicy {
  baseMs: number | SQL;
  capMs: number | SQL;
  factor?: number;
  jitter: Jitter;
}

const float = (value: number | SQL): SQL =>
  typeof value === "number" ? sql`${value}::float8` : sql`(${value})::float8`;

/** `retryDelayMs` in SQL: an `interval` after the `attempt`-th failure (an integer SQL expression). */
export function retryDelaySql(policy: SqlRetryPolicy, attempt: SQL): SQL {
  const exponent = sql`least(greatest((${attempt}) - 1, 0), ${MAX_EXPONENT})`;
  const ceiling = sql`least(${float(policy.capMs)}, ${float(policy.baseMs)} * power(${policy.factor ?? 2}::float8, ${exponent}))`;
  const ms =
    policy.jitter === "full"
      ? sql`random() * ${ceiling}`
      : policy.jitter === "equal"
        ? sql`${ceiling} / 2 + random() * (${ceiling} / 2)`
        : ceiling;
  return sql`(round(${ms}) * interval '1 millisecond')`;
}
