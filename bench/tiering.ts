import { runTiering } from "../functions/memory/tiering.js";
import { corpusSize } from "./cairn-adapter.js";
import { fmt } from "./lib/results.js";
import type { Section } from "./lib/section.js";
import { now } from "./lib/stats.js";

/**
 * 7. Tiering: one `runTiering` pass over the search corpus (100,000 + 1% memories with
 * 768-dim embeddings; quick: 20,000), in batches of 1,000 as the scheduled job runs it. The
 * clock is set 40 days ahead, so every memory (importance 0.5, never pinned) is due to move
 * from hot to cold — no set-up writes are needed to age them. The pass gets most of the
 * section's budget; if it runs out, the rate so far is reported (partial). The baseline
 * moves up to 20,000 of those rows back with ONE raw UPDATE statement (the lower bound for
 * rewriting rows of this table with its indexes). Runs last: it changes the corpus's tiers.
 *
 * Before the pass it also reads the update counters (`n_tup_upd`, `n_tup_hot_upd`) of
 * `memories` and `memory_access` accumulated by the run's searches (the vector, hybrid and api
 * sections): searches count accesses in memory_access only, so memories should show no update
 * at all and memory_access HOT updates.
 */
export const tieringSection: Section = {
  name: "tiering",
  title: "Tiering the search corpus",
  budgetSeconds: { quick: 60, full: 240 },
  async run(ctx) {
    const cairn = ctx.cairn;
    const size = corpusSize(ctx.options.quick);
    const corpus = await cairn.corpus(size.rows, size.queries);
    const count = corpus.rows + corpus.smallRows;
    const before = await hotUpdates(cairn.owner);
    const access = await hotUpdates(cairn.owner, "memory_access");
    const percent = (c: { upd: number; hot: number }) => (c.upd > 0 ? `${fmt((100 * c.hot) / c.upd)}%` : "n/a");
    console.log(
      `  during the run's searches: memories ${before.upd} updates (${before.hot} HOT), memory_access ${access.upd} updates (${access.hot} HOT, ${percent(access)}), ${access.ins} inserts`,
    );
    ctx.recorder.row({
      section: "tiering",
      scenario: "access counting during the run's searches: memory-row updates (n_tup_upd of memories)",
      cairn: { value: before.upd, unit: "updates", label: `${before.hot} HOT` },
      baseline: null,
      better: "lower",
      notes: `memory_access: ${access.upd} updates, n_tup_hot_upd / n_tup_upd = ${access.hot} / ${access.upd} (${percent(access)}), ${access.ins} first accesses inserted`,
    });
    const t0 = now();
    // Most of the budget for Cairn's pass (the baseline moves at most 20,000 rows back).
    const budgetMs = Math.max(10_000, (ctx.deadline - now()) * 0.7);
    const result = await runTiering(cairn.database, {
      now: new Date(Date.now() + 40 * 86_400_000),
      batchSize: 1000,
      timeBudgetMs: budgetMs,
    });
    const seconds = (now() - t0) / 1000;
    const afterCairn = await hotUpdates(cairn.owner);
    console.log(
      `  runTiering: ${result.total} moved in ${seconds.toFixed(1)} s (${result.batches} batches, complete ${result.complete})`,
    );
    if (!result.complete) {
      ctx.partial = true;
      ctx.messages.push(`tiering pass cut at ${fmt(budgetMs / 1000)} s after ${result.total} of ${count} memories`);
    }

    // Baseline: the same rows back to hot in one statement.
    const tb = now();
    const { rowCount } = await cairn.owner.query(
      "update memories set tier = 'hot', updated_at = now() where id in (select id from memories where tier = 'cold' limit 20000)",
    );
    const rawSeconds = (now() - tb) / 1000;
    const afterRaw = await hotUpdates(cairn.owner);
    console.log(`  raw UPDATE: ${rowCount} moved back in ${rawSeconds.toFixed(1)} s`);
    const hotShare = (a: { upd: number; hot: number }, b: { upd: number; hot: number }) =>
      b.upd - a.upd > 0 ? (b.hot - a.hot) / (b.upd - a.upd) : NaN;
    ctx.recorder.row({
      section: "tiering",
      scenario: `tier ${fmt(count)} memories hot→cold (runTiering, batches of 1,000)`,
      cairn: { value: result.total / seconds, unit: "memories/s", label: `${fmt(result.total)} in ${fmt(seconds)} s` },
      baseline: {
        value: (rowCount ?? 0) / rawSeconds,
        unit: "memories/s",
        label: `one raw UPDATE, ${fmt(rowCount ?? 0)} in ${fmt(rawSeconds)} s`,
      },
      notes: `HOT updates (n_tup_hot_upd / n_tup_upd of memories): ${fmt(100 * hotShare(before, afterCairn))}% (Cairn, ${afterCairn.hot - before.hot} / ${afterCairn.upd - before.upd}), ${fmt(100 * hotShare(afterCairn, afterRaw))}% (raw): tier is in no index, so a move rewrites no index entry where the page has room`,
    });
    return {
      count,
      result,
      seconds,
      raw: { rows: rowCount, seconds: rawSeconds },
      hotUpdateShare: { cairn: hotShare(before, afterCairn), raw: hotShare(afterCairn, afterRaw) },
      searches: { memories: before, memoryAccess: access },
    };
  },
};

async function hotUpdates(
  owner: import("pg").Pool,
  table = "memories",
): Promise<{ upd: number; hot: number; ins: number }> {
  // The statistics collector lags a little; force the counters out first.
  await new Promise((r) => setTimeout(r, 1500));
  await owner.query("select pg_stat_force_next_flush()").catch(() => {});
  const { rows } = await owner.query<{ upd: string; hot: string; ins: string }>(
    "select n_tup_upd as upd, n_tup_hot_upd as hot, n_tup_ins as ins from pg_stat_user_tables where relname = $1",
    [table],
  );
  return { upd: Number(rows[0]?.upd ?? 0), hot: Number(rows[0]?.hot ?? 0), ins: Number(rows[0]?.ins ?? 0) };
}
