import { createPgBossTarget } from "./baselines/pgboss.js";
import { createRawClaimTarget } from "./baselines/raw-claim.js";
import { type ClaimRunResult, type ClaimTarget, runClaimWorkers } from "./lib/claim-harness.js";
import { fmt } from "./lib/results.js";
import type { Section, SectionContext } from "./lib/section.js";
import { now } from "./lib/stats.js";

/**
 * 1. Claim throughput: N items, W workers each looping claim → complete, for Cairn,
 * pg-boss and raw SQL, single claims and batches of 10. Duplicate claims must be zero:
 * the harness counts ids handed out twice, and for Cairn the database is checked too (as
 * many attempts as items, no item with a second attempt).
 *
 * Cairn: `claimWork` with `commit: true` (as `POST /v1/work-items/claim`: BEGIN, the set-up,
 * the claim and COMMIT in one round trip) then `completeWorkItems` (one batch completion per
 * claim, as `POST /v1/work-items:complete`), each inside `database.withTenant`, items created by
 * `createWorkOrder` in orders of 5,000 (the per-order maximum). Drivers are compared fairly:
 * Cairn on node-postgres against pg-boss and raw SQL on node-postgres, and Cairn on the Neon
 * driver (through the WebSocket proxy, which runs in its own process) against Cairn on
 * node-postgres. Each row names its target (issue 13).
 *
 * Then Cairn with queue controls in use: every item has one of 16 concurrency keys, each
 * limited to 4 in flight (a prefix limit), batches of 10, on node-postgres, against Cairn
 * without controls on node-postgres in the same run (batch 10 above).
 */
export const claimsSection: Section = {
  name: "claims",
  title: "Claim throughput",
  budgetSeconds: { quick: 120, full: 260 },
  async run(ctx) {
    const items = ctx.options.quick ? 2_000 : 10_000;
    const workers = 8;
    const details: Record<string, unknown> = { items, workers };
    let plain: ClaimRunResult | null = null;

    // Each run gets an equal share of what is left of the budget; a run cut short still
    // yields a steady-state rate (completed / elapsed) and is flagged as truncated.
    let runsLeft = 9;
    const runBudget = () => Math.max(5_000, (ctx.deadline - now()) / runsLeft--);
    const targets: Record<number, { pgboss: string; raw: string }> = {
      1: { pgboss: "target ≥ 3×", raw: "target ≥ 0.4×" },
      10: { pgboss: "target ≥ 1.5×", raw: "no target" },
    };
    for (const batch of [1, 10]) {
      const raw = await measure(
        ctx,
        () => createRawClaimTarget(ctx.options.databaseUrl, items, workers),
        items,
        workers,
        batch,
        runBudget(),
      );
      const boss = await measure(
        ctx,
        () => createPgBossTarget(ctx.options.databaseUrl, items, workers),
        items,
        workers,
        batch,
        runBudget(),
      );
      const cairn = await measure(
        ctx,
        () => ctx.cairn.claimTarget(items, workers, { driver: "pg", name: "Cairn (node-postgres)" }),
        items,
        workers,
        batch,
        runBudget(),
      );
      const neon = await measure(
        ctx,
        () => ctx.cairn.claimTarget(items, workers, { driver: "neon", name: "Cairn (Neon driver)" }),
        items,
        workers,
        batch,
        runBudget(),
      );
      for (const run of [cairn, neon]) {
        if (run?.verified.extra?.itemsWithMoreThanOneAttempt) {
          ctx.failed = true;
          ctx.messages.push(
            `${run.target} batch ${batch}: ${run.verified.extra.itemsWithMoreThanOneAttempt} items claimed more than once (database)`,
          );
        }
      }
      details[`batch${batch}`] = { raw, pgboss: boss, cairn, cairnNeon: neon };
      if (batch === 10) plain = cairn;

      const dbDup = (run: ClaimRunResult | null) => run?.verified.extra?.itemsWithMoreThanOneAttempt ?? "n/a";
      const dupNote = `duplicates: Cairn ${cairn?.duplicates ?? "n/a"} (db: ${dbDup(cairn)} items with >1 attempt), Cairn/Neon ${neon?.duplicates ?? "n/a"} (db: ${dbDup(neon)}), pg-boss ${boss?.duplicates ?? "n/a"}, raw ${raw?.duplicates ?? "n/a"}`;
      const cairnFig = cairn ? { value: cairn.jobsPerSecond, unit: "jobs/s" } : null;
      const goal = targets[batch] as { pgboss: string; raw: string };
      ctx.recorder.row({
        section: "claims",
        scenario: `claim+complete, batch ${batch}, ${workers} workers, node-postgres, vs pg-boss (${goal.pgboss})`,
        cairn: cairnFig,
        baseline: boss ? { value: boss.jobsPerSecond, unit: "jobs/s", label: "pg-boss" } : null,
        notes: [
          dupNote,
          batch > 1 ? "Cairn completes each claim's items in one batch completion" : "",
          raw && boss ? `raw/pg-boss ${fmt(raw.jobsPerSecond / boss.jobsPerSecond)}×` : "",
          boss?.truncated ? "pg-boss run cut at its time budget" : "",
        ]
          .filter(Boolean)
          .join("; "),
      });
      ctx.recorder.row({
        section: "claims",
        scenario: `claim+complete, batch ${batch}, ${workers} workers, node-postgres, vs raw SQL (${goal.raw})`,
        cairn: cairnFig,
        baseline: raw ? { value: raw.jobsPerSecond, unit: "jobs/s", label: "raw SQL" } : null,
        notes: [
          "raw SQL: bare SKIP LOCKED table over TCP, the bound Cairn is measured against",
          raw?.truncated ? "raw run cut at its time budget" : "",
          cairn?.truncated ? "Cairn run cut at its time budget" : "",
        ]
          .filter(Boolean)
          .join("; "),
      });
      ctx.recorder.row({
        section: "claims",
        scenario: `claim+complete, batch ${batch}, ${workers} workers, Neon driver vs node-postgres (target ≥ 0.67×, i.e. within 1.5×)`,
        cairn: neon ? { value: neon.jobsPerSecond, unit: "jobs/s" } : null,
        baseline: cairn ? { value: cairn.jobsPerSecond, unit: "jobs/s", label: "Cairn on node-postgres" } : null,
        notes: "the WebSocket-to-TCP proxy runs in its own process",
      });
    }
    const keys = { keys: 16, maxInFlight: 4 };
    const keyed = await measure(
      ctx,
      () =>
        ctx.cairn.claimTarget(items, workers, {
          driver: "pg",
          name: "Cairn (concurrency keys, node-postgres)",
          concurrencyKeys: keys,
        }),
      items,
      workers,
      10,
      runBudget(),
    );
    details.concurrencyKeys = { ...keys, cairn: keyed };
    ctx.recorder.row({
      section: "claims",
      scenario: `claim+complete, batch 10, ${workers} workers, ${keys.keys} concurrency keys of maxInFlight ${keys.maxInFlight}, node-postgres, vs no controls`,
      cairn: keyed ? { value: keyed.jobsPerSecond, unit: "jobs/s" } : null,
      baseline: plain ? { value: plain.jobsPerSecond, unit: "jobs/s", label: "Cairn, no controls" } : null,
      notes: [
        `duplicates: ${keyed ? keyed.duplicates : "n/a"}`,
        "each claim passes through cairn_admit_claims (per-key advisory locks, fresh counts)",
        keyed?.truncated ? "run cut at its time budget" : "",
      ]
        .filter(Boolean)
        .join("; "),
    });
    return details;
  },
};

async function measure(
  ctx: SectionContext,
  create: () => Promise<ClaimTarget>,
  items: number,
  workers: number,
  batch: number,
  budgetMs: number,
): Promise<ClaimRunResult | null> {
  const target = await create();
  try {
    const result = await runClaimWorkers(target, { items, workers, batch, budgetMs });
    console.log(
      `  ${result.target} batch ${batch}: ${fmt(result.jobsPerSecond)} jobs/s (${result.completed}/${items} in ${result.seconds.toFixed(2)} s), ` +
        `duplicates ${result.duplicates}, db done ${result.verified.done}, not done ${result.verified.notDone}` +
        (result.errors.length ? `, errors: ${result.errors.join("; ")}` : ""),
    );
    if (result.duplicates > 0) {
      ctx.failed = true;
      ctx.messages.push(`${result.target} batch ${batch}: ${result.duplicates} DUPLICATE CLAIMS`);
    }
    if (result.errors.length) {
      ctx.failed = true;
      ctx.messages.push(`${result.target} batch ${batch}: ${result.errors[0]}`);
    }
    // Every item completed, and the database agrees, unless the run was cut at its budget.
    if (!result.truncated && (result.completed !== items || result.verified.done !== items)) {
      ctx.failed = true;
      ctx.messages.push(
        `${result.target} batch ${batch}: completed ${result.completed}, db done ${result.verified.done} of ${items}`,
      );
    }
    if (result.truncated) ctx.partial = true;
    return result;
  } finally {
    await target.close();
  }
}
