import { execFile } from "node:child_process";
import { mkdir, rm, stat } from "node:fs/promises";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";
import { buildFunctions, lambdaBuildOptions } from "../scripts/build.js";
import { fmt } from "./lib/results.js";
import type { Section } from "./lib/section.js";
import { percentile } from "./lib/stats.js";

/**
 * 5. Cold start, per Lambda function: bundle size and module init time (a fresh Node
 * process importing the bundle, p50 over N processes), against a bare Hono + Drizzle + Neon
 * bundle. Cairn's bundles come from `buildFunctions()` (scripts/build.ts: the deploy's
 * entries, externals and esbuild options); the baseline is built with the same options.
 */
const run = promisify(execFile);
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export const coldStartSection: Section = {
  name: "coldstart",
  title: "Cold start: bundle size and module init time per Lambda",
  budgetSeconds: { quick: 60, full: 120 },
  async run(ctx) {
    const samples = ctx.options.quick ? 5 : 11;
    const outDir = join(os.tmpdir(), `cairn-bench-coldstart-${process.pid}`);
    await mkdir(outDir, { recursive: true });
    const details: Record<string, unknown> = { samples };
    try {
      const baselineFile = join(outDir, "baseline", "index.mjs");
      await build({
        ...lambdaBuildOptions,
        absWorkingDir: repoRoot,
        entryPoints: { index: join(repoRoot, "bench/baselines/lambda-baseline.ts") },
        outdir: dirname(baselineFile),
      });
      const baseline = { bytes: (await stat(baselineFile)).size, ...(await initTimes([baselineFile], samples)) };
      details.baseline = baseline;
      console.log(
        `  baseline (Hono + Drizzle + Neon): ${fmt(baseline.bytes / 1024)} KiB, init p50 ${fmt(baseline.initP50)} ms`,
      );

      const bundles = await buildFunctions({ outdir: join(outDir, "functions") });
      for (const b of bundles) {
        // The entry and the chunks a cold request loads (the Neon driver, split off by
        // `import()`), in that order: the baseline loads its driver at init too.
        const files = b.coldFiles.map((file) => join(outDir, "functions", b.name, file));
        let m: { initP50: number; initP95: number } | null = null;
        let note = "";
        try {
          m = await initTimes(files, samples);
        } catch (err) {
          note = `import failed: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`;
          ctx.partial = true;
        }
        details[b.name] = { bytes: b.bytes, inputs: b.inputs, ...(m ?? { note }) };
        ctx.recorder.row({
          section: "coldstart",
          scenario: `${b.name}: bundle size`,
          cairn: { value: b.bytes / 1024, unit: "KiB" },
          baseline: { value: baseline.bytes / 1024, unit: "KiB", label: "Hono + Drizzle + Neon" },
          better: "lower",
          notes: `what a cold request loads (entry + Neon driver chunk); ${fmt(b.totalBytes / 1024)} KiB with the chunks loaded at first use; ${b.inputs} inputs; buildFunctions() options for both`,
        });
        ctx.recorder.row({
          section: "coldstart",
          scenario: `${b.name}: module init p50`,
          cairn: m ? { value: m.initP50, unit: "ms" } : null,
          baseline: { value: baseline.initP50, unit: "ms", label: "Hono + Drizzle + Neon" },
          better: "lower",
          notes:
            note ||
            `fresh node process per sample, ${samples} samples; p95 ${m ? fmt(m.initP95) : "—"} vs ${fmt(baseline.initP95)} ms`,
        });
      }
      return details;
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  },
};

/** Module init: `await import(bundle)` in a fresh Node process, once untimed (warms the file cache), then `samples` times. */
async function initTimes(
  files: string[],
  samples: number,
): Promise<{ initP50: number; initP95: number; samplesMs: number[] }> {
  const imports = files.map((file) => `await import(${JSON.stringify(pathToFileURL(file).href)});`).join(" ");
  const script = `const t0 = performance.now(); ${imports} process.stdout.write(String(performance.now() - t0));`;
  const times: number[] = [];
  for (let i = 0; i <= samples; i++) {
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], {
      env: {
        PATH: process.env.PATH ?? "",
        NODE_ENV: "production",
        LOG_LEVEL: "warn",
        DATABASE_URL: "postgres://bench@127.0.0.1:5432/none",
      },
    });
    if (i > 0) times.push(Number(stdout));
  }
  times.sort((a, b) => a - b);
  return { initP50: percentile(times, 50), initP95: percentile(times, 95), samplesMs: times };
}
