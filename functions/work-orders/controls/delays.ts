/**
 * Delayed items: `runAt` (a time) or `delaySeconds` (from creation) set the item's
 * `available_at`, which the claim already requires to have passed (`available_at <= now()`),
 * so a delay adds nothing to the claim statement.
 */
import { type SQL, sql } from "drizzle-orm";

/** When an item given `runAt` or `delaySeconds` becomes claimable (the database's clock for a delay). */
export function runAt(spec: { runAt?: Date; delaySeconds?: number }): Date | SQL {
  if (spec.runAt !== undefined) return spec.runAt;
  return sql`now() + make_interval(secs => ${spec.delaySeconds ?? 0})`;
}
