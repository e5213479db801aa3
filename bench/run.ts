/**
 * `npm run bench [-- --quick] [-- --only claims,vector]`
 *
 * Measures what Cairn exists for and prints each figure next to a baseline measured in
 * the same run. Writes bench/results/latest.json and bench/results/latest.md.
 * Exits non-zero if any acceptance rule breaks (duplicate claims, lost items).
 */

import { execSync } from "node:child_process";
import os from "node:os";
import { apiSection } from "./api.js";
import { createCairnAdapter } from "./cairn-adapter.js";
import { claimsSection } from "./claims.js";
import { coldStartSection } from "./coldstart.js";
import { hybridSection } from "./hybrid.js";
import { ingestSection } from "./ingest.js";
import { parseArgs } from "./lib/cli.js";
import { ensureDatabase, ensureVector, serverVersion } from "./lib/db.js";
import { Recorder } from "./lib/results.js";
import type { Section, SectionContext } from "./lib/section.js";
import { now } from "./lib/stats.js";
import { sdkSection } from "./sdk.js";
import { tieringSection } from "./tiering.js";
import { vectorSection } from "./vector.js";

// Ingest runs before the search corpus is loaded, so Cairn's inserts and the plain-table
// baseline's both go into an empty table with its indexes; tiering runs last because it
// moves the corpus's memories to another tier.
const sections: Section[] = [
  claimsSection,
  ingestSection,
  vectorSection,
  hybridSection,
  apiSection,
  sdkSection,
  coldStartSection,
  tieringSection,
];

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const started = now();
  const redacted = options.databaseUrl.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
  console.log(`Cairn benchmark (${options.quick ? "quick" : "full"}) against ${redacted}`);

  await ensureDatabase(options.databaseUrl);
  const pgvector = await ensureVector(options.databaseUrl);
  const postgres = await serverVersion(options.databaseUrl);
  const recorder = new Recorder({
    startedAt: new Date().toISOString(),
    quick: options.quick,
    only: [...options.only],
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    postgres: `PostgreSQL ${postgres}, pgvector ${pgvector}`,
    commit: gitCommit(),
  });

  // Request logs (one JSON line per app.request) would drown the benchmark's output.
  process.env.LOG_LEVEL ??= "warn";
  const cairn = await createCairnAdapter(options.databaseUrl);

  // The whole run must finish within 15 minutes on a 2-core machine: no section's deadline
  // goes past this mark (sections cut short report what they measured, as partial).
  const runDeadline = started + (options.quick ? 9 : 14) * 60_000;
  let failed = false;
  for (const section of sections) {
    if (!options.only.has(section.name)) continue;
    const budget = options.quick ? section.budgetSeconds.quick : section.budgetSeconds.full;
    console.log(`\n== ${section.name}: ${section.title} (budget ${budget} s)`);
    const t0 = now();
    const ctx: SectionContext = {
      options,
      recorder,
      cairn,
      deadline: Math.min(t0 + budget * 1000, Math.max(runDeadline, t0 + 10_000)),
      messages: [],
      partial: false,
      failed: false,
    };
    let details: Record<string, unknown> = {};
    let error: string | undefined;
    try {
      details = await section.run(ctx);
    } catch (err) {
      error = err instanceof Error ? (err.stack ?? err.message) : String(err);
      console.error(`  section ${section.name} failed: ${error}`);
    }
    const seconds = (now() - t0) / 1000;
    if (seconds > budget * 1.2) ctx.messages.push(`over budget (${budget} s)`);
    const status = error || ctx.failed ? "failed" : ctx.partial ? "partial" : "ok";
    if (status === "failed") failed = true;
    recorder.section({
      name: section.name,
      status,
      seconds,
      message: [...ctx.messages, error?.split("\n")[0]].filter(Boolean).join("; ") || undefined,
      details,
    });
    console.log(`  -- ${section.name} ${status} in ${seconds.toFixed(1)} s`);
  }
  await cairn.teardown();

  recorder.meta.totalSeconds = (now() - started) / 1000;
  recorder.printTable();
  const { json, md } = await recorder.write();
  console.log(`\nTotal ${(recorder.meta.totalSeconds as number).toFixed(1)} s. Wrote ${json} and ${md}`);
  return failed ? 1 : 0;
}

function gitCommit(): string | undefined {
  try {
    return execSync("git rev-parse --short HEAD", { stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim();
  } catch {
    return undefined;
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
