import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, rm, stat } from "node:fs/promises";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";
import { contexts } from "../functions/contexts.js";
import { fmt } from "./lib/results.js";
import type { Section } from "./lib/section.js";
import { percentile } from "./lib/stats.js";

/**
 * 5. Cold start, per Lambda function: bundle size and module init time (a fresh Node
 * process importing the bundle), against a bare Hono + Drizzle + Neon bundle built with
 * the same esbuild settings. Cairn's handlers come from functions/contexts.ts; a handler
 * whose file does not exist yet is reported as not wired.
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
      const baseline = await measureEntry(join(repoRoot, "bench/baselines/lambda-baseline.ts"), join(outDir, "baseline"), samples);
      details.baseline = baseline;
      console.log(`  baseline (Hono + Drizzle + Neon): ${fmt(baseline.bytes / 1024)} KiB, init p50 ${fmt(baseline.initP50)} ms`);

      for (const [name, ctxRoutes] of Object.entries(contexts)) {
        // "functions/memory/handler.handler" → functions/memory/handler.ts
        const modulePath = ctxRoutes.handler.replace(/\.[^.]+$/, "");
        const entry = [".ts", ".js"].map((ext) => join(repoRoot, modulePath + ext)).find((p) => existsSync(p));
        let m: Measured | null = null;
        let note = "";
        if (!entry) {
          note = `${modulePath}.ts not written yet`;
          ctx.partial = true;
        } else {
          try {
            m = await measureEntry(entry, join(outDir, name), samples);
          } catch (err) {
            note = `build/import failed: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`;
            ctx.partial = true;
          }
        }
        details[name] = m ?? { note };
        ctx.recorder.row({
          section: "coldstart",
          scenario: `${name} Lambda: bundle size`,
          cairn: m ? { value: m.bytes / 1024, unit: "KiB" } : null,
          baseline: { value: baseline.bytes / 1024, unit: "KiB", label: "Hono + Drizzle + Neon" },
          better: "lower",
          notes: note || "esbuild, minified ESM, same settings for both",
        });
        ctx.recorder.row({
          section: "coldstart",
          scenario: `${name} Lambda: module init p50`,
          cairn: m ? { value: m.initP50, unit: "ms" } : null,
          baseline: { value: baseline.initP50, unit: "ms", label: "Hono + Drizzle + Neon" },
          better: "lower",
          notes: note || `fresh node process per sample, ${samples} samples; p95 ${fmt(m!.initP95)} vs ${fmt(baseline.initP95)} ms`,
        });
      }
      if (ctx.partial) ctx.messages.push("some Cairn handlers not written yet");
      return details;
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  },
};

interface Measured {
  bytes: number;
  initP50: number;
  initP95: number;
  samplesMs: number[];
}

async function measureEntry(entry: string, outBase: string, samples: number): Promise<Measured> {
  const outfile = `${outBase}.mjs`;
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    minify: true,
    // The Lambda runtime provides the AWS SDK; ws's native speed-ups are optional.
    external: ["@aws-sdk/*", "bufferutil", "utf-8-validate", "pg-native"],
    // Bundled CommonJS dependencies call require() for Node built-ins.
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: "silent",
  });
  const bytes = (await stat(outfile)).size;
  const url = pathToFileURL(outfile).href;
  const script = `const t0 = performance.now(); await import(${JSON.stringify(url)}); process.stdout.write(String(performance.now() - t0));`;
  const times: number[] = [];
  // One untimed run warms the OS file cache, as a Lambda's code is on local disk by init.
  for (let i = 0; i <= samples; i++) {
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], {
      env: { PATH: process.env.PATH ?? "", NODE_ENV: "production", DATABASE_URL: "postgres://bench@127.0.0.1:5432/none" },
    });
    if (i > 0) times.push(Number(stdout));
  }
  times.sort((a, b) => a - b);
  return { bytes, initP50: percentile(times, 50), initP95: percentile(times, 95), samplesMs: times };
}
