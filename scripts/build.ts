/**
 * `npm run build`: bundles every Lambda (the four contexts, the jobs, the migrator) the way
 * the deploy does — same entries, same externals (infra/bundling.ts) — into
 * `dist/functions/<name>/index.mjs`, proves what each bundle does not contain, and prints
 * their sizes; then builds the console's static site into `dist/console` (what
 * infra/console.ts deploys). The benchmark reuses `buildFunctions()`.
 *
 * A bundle fails the build when esbuild's metafile shows PGlite, drizzle-kit, vitest, the
 * console or our test code among its inputs, when it imports a local-only module (PGlite) other than
 * lazily, or when it pulls in another context's HTTP app.
 */

import { existsSync } from "node:fs";
import { cp, mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type BuildOptions as BuildOptions_, build, type Metafile } from "esbuild";
import { buildConsole, consoleBytes, consoleOutdir } from "../console/build";
import {
  contextFunctions,
  docsAsset,
  esmRequireBanner,
  forbiddenBundleInputs,
  type Handler,
  lambdaExternals,
  lambdaFunctions,
  lambdaMainFields,
  localOnlyModules,
  migrationsDir,
} from "../infra/bundling";
import lambdaPlugins from "../infra/esbuild-plugins.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

export interface BundleSize {
  name: string;
  entry: string;
  /** Bytes loaded at cold start: the entry and the chunks it imports statically. */
  bytes: number;
  /** The files counted in `bytes`, relative to the bundle's folder, the entry first. */
  coldFiles: string[];
  /** Every chunk, those loaded at first use (`import()`) included. */
  totalBytes: number;
  kib: number;
  /** Source files and modules that went into the bundle. */
  inputs: number;
}

export interface BuildOptions {
  /** Where `<name>/index.mjs` go; default `dist/functions`. */
  outdir?: string;
  /** Build only these functions (names from infra/bundling.ts); default all. */
  only?: string[];
  /** Print the size table; default true when run as a script. */
  log?: boolean;
}

/** `functions/jobs/tiering.handler` -> `functions/jobs/tiering.ts` (whichever extension exists). */
export function entryFile(handler: Handler): string {
  const base = handler.slice(0, handler.lastIndexOf("."));
  for (const extension of [".ts", ".mts", ".js", ".mjs"]) {
    if (existsSync(join(root, base + extension))) return base + extension;
  }
  throw new Error(`No entry file for handler ${handler} (looked for ${base}.ts)`);
}

const wildcard = (pattern: string) =>
  new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\/]/g, "\\$&").replace(/\*/g, ".*")}$`);
const localOnly = localOnlyModules.map(wildcard);

/** Another context's HTTP layer: sharing domain code is fine, bundling its app is not. */
function otherContextApps(name: string): RegExp[] {
  if (!(name in contextFunctions)) return [];
  return Object.entries(contextFunctions)
    .filter(([other]) => other !== name)
    .map(([, handler]) => {
      const folder = dirname(handler);
      // handler.ts, app.ts, routes.ts, memory-routes.ts, routes/…
      return new RegExp(`^${folder}/(([^/]*-)?routes|handler|app)\\.[cm]?[jt]s$|^${folder}/routes/`);
    });
}

/** Everything wrong with one bundle, as sentences; empty when it is fine. */
export function bundleProblems(name: string, metafile: Metafile): string[] {
  const problems: string[] = [];
  const inputs = Object.keys(metafile.inputs);
  for (const { reason, pattern } of forbiddenBundleInputs) {
    const hits = inputs.filter((input) => pattern.test(input));
    if (hits.length) problems.push(`${reason}: ${hits.slice(0, 3).join(", ")}${hits.length > 3 ? ", …" : ""}`);
  }
  for (const pattern of otherContextApps(name)) {
    const hits = inputs.filter((input) => pattern.test(input));
    if (hits.length) problems.push(`another context's HTTP app: ${hits.join(", ")}`);
  }
  for (const output of Object.values(metafile.outputs)) {
    for (const imported of output.imports) {
      if (imported.external && imported.kind !== "dynamic-import" && localOnly.some((p) => p.test(imported.path))) {
        problems.push(
          `imports ${imported.path} eagerly (${imported.kind}); it is absent in Lambda and must load via import()`,
        );
      }
    }
  }
  return problems;
}

/**
 * The database driver a deployed function connects with (Neon): `db/client.ts` loads it with
 * `import()`, so it is a chunk of its own, but the first request needs it — it counts as cold.
 */
const deployedDriver = /(^|\/)node_modules\/(@neondatabase\/serverless|drizzle-orm\/neon-serverless)\//;

/**
 * What a cold request loads: the entry, the chunks holding the deployed database driver, and
 * every chunk those import statically, transitively. Chunks reached only by `import()` (code
 * split off to load at first use: the node-postgres driver, the OpenAPI document, …) are not counted.
 */
export function coldOutputs(metafile: Metafile, entryKey: string): { bytes: number; files: string[] } {
  const seen = new Set<string>();
  const visit = (path: string) => {
    const output = metafile.outputs[path];
    if (!output || seen.has(path)) return;
    seen.add(path);
    for (const imported of output.imports)
      if (!imported.external && imported.kind === "import-statement") visit(imported.path);
  };
  visit(entryKey);
  for (const [path, output] of Object.entries(metafile.outputs)) {
    if (Object.keys(output.inputs).some((input) => deployedDriver.test(input))) visit(path);
  }
  return {
    bytes: [...seen].reduce((sum, path) => sum + (metafile.outputs[path]?.bytes ?? 0), 0),
    files: [...seen],
  };
}

/** How every Lambda is bundled (as the deploy does); the benchmark's baseline bundle uses it too. */
export const lambdaBuildOptions = {
  bundle: true,
  platform: "node",
  target: "node22",
  format: "esm",
  // `import()` becomes a chunk of its own, loaded at first use instead of at cold start.
  splitting: true,
  outExtension: { ".js": ".mjs" },
  chunkNames: "chunks/[name]-[hash]",
  minify: true,
  mainFields: lambdaMainFields,
  banner: { js: esmRequireBanner },
  external: lambdaExternals,
  legalComments: "none",
  logLevel: "error",
  plugins: lambdaPlugins,
} as const satisfies BuildOptions_;

async function buildOne(name: string, handler: Handler, outdir: string): Promise<BundleSize & { problems: string[] }> {
  const entry = entryFile(handler);
  const dir = join(outdir, name);
  await rm(dir, { recursive: true, force: true });
  const outfile = join(dir, "index.mjs");
  const result = await build({
    ...lambdaBuildOptions,
    absWorkingDir: root,
    entryPoints: { index: entry },
    outdir: dir,
    metafile: true,
  });
  const metafile = result.metafile;
  await writeFile(join(dir, "meta.json"), JSON.stringify(metafile));
  if (name === "platform") {
    // Same layout as the Lambda package (copyFiles in infra/api.ts): /docs serves it from there.
    await mkdir(join(dir, dirname(docsAsset.to)), { recursive: true });
    await cp(join(root, docsAsset.from), join(dir, docsAsset.to));
  }
  if (name === "migrator" && existsSync(join(root, migrationsDir))) {
    // Same layout as the Lambda package (copyFiles in infra/database.ts).
    await cp(join(root, migrationsDir), join(dir, migrationsDir), { recursive: true });
  }
  const key = relative(root, outfile).split("\\").join("/");
  const cold = coldOutputs(metafile, key);
  const bytes = cold.bytes;
  const totalBytes = Object.entries(metafile.outputs)
    .filter(([path]) => path.endsWith(".mjs"))
    .reduce((sum, [, output]) => sum + output.bytes, 0);
  return {
    name,
    entry,
    bytes,
    coldFiles: cold.files.map((path) => relative(dir, join(root, path)).split("\\").join("/")),
    totalBytes,
    kib: Math.round((bytes / 1024) * 10) / 10,
    inputs: Object.keys(metafile.inputs).length,
    problems: bundleProblems(name, metafile),
  };
}

/** Builds the functions, throws if any bundle is wrong, and returns their sizes. */
export async function buildFunctions(options: BuildOptions = {}): Promise<BundleSize[]> {
  const outdir = options.outdir ?? join(root, "dist", "functions");
  const selected = Object.entries(lambdaFunctions).filter(([name]) => !options.only || options.only.includes(name));
  const missing = selected.flatMap(([, handler]) => {
    try {
      entryFile(handler);
      return [];
    } catch (error) {
      return [(error as Error).message];
    }
  });
  if (missing.length) throw new Error(missing.join("\n"));

  await mkdir(outdir, { recursive: true });
  const built = await Promise.all(selected.map(([name, handler]) => buildOne(name, handler, outdir)));
  const failures = built.filter((bundle) => bundle.problems.length);
  if (failures.length) {
    const lines = failures.flatMap((bundle) => bundle.problems.map((problem) => `  ${bundle.name}: ${problem}`));
    throw new Error(`Lambda bundles contain what they must not:\n${lines.join("\n")}`);
  }
  const sizes = built.map(({ problems: _problems, ...size }) => size);
  if (options.log) printSizes(sizes);
  return sizes;
}

export function printSizes(sizes: BundleSize[]): void {
  const header = ["function", "cold bytes", "KiB", "all KiB", "inputs"];
  const rows = sizes.map((size) => [
    size.name,
    String(size.bytes),
    size.kib.toFixed(1),
    (size.totalBytes / 1024).toFixed(1),
    String(size.inputs),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)));
  const format = (row: string[]) =>
    row
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0)))
      .join("  ");
  console.log(format(header));
  console.log(widths.map((width) => "-".repeat(width)).join("  "));
  for (const row of rows) console.log(format(row));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  buildFunctions({ log: true })
    .then(async () => {
      const files = await buildConsole({ outdir: consoleOutdir });
      const kib = (bytes: number) => (bytes / 1024).toFixed(1);
      const entry = files.filter((file) => !file.lazy);
      console.log(
        `\nconsole (static site) -> ${relative(root, consoleOutdir)}: ${files.length} files, ${kib(consoleBytes(files))} KiB ` +
          `(${kib(consoleBytes(entry))} KiB at first load; the payload-schema validator loads on demand)`,
      );
    })
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    });
}
