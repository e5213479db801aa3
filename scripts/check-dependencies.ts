/**
 * `npm run lint` part 2: the module graph keeps its layers. Fails (exit 1) on
 * - any import cycle among the project's modules, and
 * - any import that crosses layers the wrong way: db/ depends on nothing in functions/; each
 *   bounded context depends only on the units listed for it below (one way: work-orders may use
 *   approvals, approvals never reaches into work-orders); the SDK depends on nothing of the server;
 *   the console (a browser app) depends on the SDK only, and nothing of the server depends on it.
 * Type-only imports count too: a type import is still a dependency a reader must follow.
 *
 * Usage: `tsx scripts/check-dependencies.ts` (add `--verbose` to print the graph's size).
 */
import path from "node:path";
import { parseCircular, parseDependencyTree } from "dpdm";

const root = path.resolve(import.meta.dirname, "..");

/**
 * A module's unit: the most specific prefix below that matches it. Order matters (first match).
 * Units not listed here (tests, benchmarks, scripts) may depend on anything but are still checked for cycles.
 */
const UNITS: Array<[unit: string, prefix: string]> = [
  ["db", "db/"],
  ["runtime", "functions/jobs/runtime/"],
  ["jobs", "functions/jobs/"],
  ["shared", "functions/shared/"],
  ["lifecycle", "functions/lifecycle/"],
  ["platform", "functions/platform/"],
  ["approvals", "functions/approvals/"],
  ["memory", "functions/memory/"],
  ["work-orders", "functions/work-orders/"],
  ["mcp", "functions/mcp/"],
  ["migrator", "functions/migrator/"],
  ["composition", "functions/"],
  ["sdk", "sdk/"],
  ["console", "console/"],
];

/** What each unit may import (besides itself). Composition roots (jobs entries, local server) take anything. */
const ALLOWED: Record<string, string[] | "any"> = {
  db: [],
  shared: ["db"],
  runtime: ["db", "shared"],
  lifecycle: ["db", "shared"],
  platform: ["db", "shared", "runtime"],
  approvals: ["db", "shared", "runtime", "lifecycle", "platform"],
  memory: ["db", "shared", "runtime", "platform"],
  "work-orders": ["db", "shared", "runtime", "lifecycle", "platform", "approvals"],
  mcp: ["db", "shared", "platform", "approvals", "memory", "work-orders"],
  migrator: ["db", "shared"],
  jobs: "any",
  composition: "any",
  sdk: [],
  console: ["sdk"],
};

/** A context's Lambda entry (`handler.ts`) composes it with what its app needs, like the local server. */
function unitOf(file: string): string | undefined {
  if (file.startsWith("functions/") && file.endsWith("/handler.ts")) return "composition";
  return UNITS.find(([, prefix]) => file.startsWith(prefix))?.[0];
}

const tree = await parseDependencyTree(
  [
    "functions/**/*.ts",
    "db/**/*.ts",
    "scripts/**/*.ts",
    "sdk/src/**/*.ts",
    "bench/**/*.ts",
    "infra/**/*.ts",
    "console/**/*.ts",
    "console/**/*.tsx",
  ],
  { context: root, tsconfig: path.join(root, "tsconfig.json"), transform: false, skipDynamicImports: false },
);

const problems: string[] = [];
let edges = 0;
for (const [file, dependencies] of Object.entries(tree)) {
  const from = unitOf(file);
  for (const dependency of dependencies ?? []) {
    if (!dependency.id || dependency.id.includes("node_modules")) continue;
    edges += 1;
    const to = unitOf(dependency.id);
    if (!from || !to || from === to) continue;
    const allowed = ALLOWED[from];
    if (allowed !== "any" && !allowed?.includes(to)) {
      problems.push(
        `layer: ${file} (${from}) imports ${dependency.id} (${to}); ${from} may import ${allowed?.join(", ") || "nothing"}`,
      );
    }
  }
}
for (const cycle of parseCircular(tree)) problems.push(`cycle: ${[...cycle, cycle[0]].join(" -> ")}`);

if (process.argv.includes("--verbose")) console.log(`${Object.keys(tree).length} modules, ${edges} project imports`);
if (problems.length > 0) {
  console.error(problems.join("\n"));
  console.error(`\n${problems.length} dependency problem(s): see scripts/check-dependencies.ts for the layers.`);
  process.exit(1);
}
console.log("dependencies: no cycles, every import within its layers");
