/**
 * Which Lambda functions exist and how they are bundled — shared by the SST config
 * (which deploys them) and `scripts/build.ts` (which builds the same entries with the
 * same esbuild options, checks what went into each bundle and measures it).
 *
 * Plain data, no SST globals: `scripts/build.ts` imports it outside of SST.
 */
import { type ContextName, contexts } from "../functions/contexts";

/** SST-style handler (`<file without extension>.<export>`), relative to the repo root. */
export type Handler = `${string}.${string}`;

const contextFunctionNames: Record<ContextName, string> = {
  platform: "platform",
  workOrders: "work-orders",
  approvals: "approvals",
  memory: "memory",
  mcp: "mcp",
};

/** One entry per context, named after its folder: one Lambda per context. */
export const contextFunctions = Object.fromEntries(
  (Object.keys(contexts) as ContextName[]).map((context) => [
    contextFunctionNames[context],
    contexts[context].handler as Handler,
  ]),
) as Record<string, Handler>;

export const jobFunctions = {
  tiering: "functions/jobs/tiering.handler",
  sweeper: "functions/jobs/sweeper.handler",
  "dead-letters": "functions/jobs/dead-letters.handler",
  events: "functions/jobs/events.handler",
} as const satisfies Record<string, Handler>;

export const migratorFunction = "functions/migrator/handler.handler" satisfies Handler;

/** Every function the app deploys, by bundle name (`dist/functions/<name>/index.mjs`). */
export const lambdaFunctions: Record<string, Handler> = {
  ...contextFunctions,
  ...Object.fromEntries(Object.entries(jobFunctions).map(([name, handler]) => [`jobs-${name}`, handler])),
  migrator: migratorFunction,
};

/**
 * The API reference's script (Scalar's standalone bundle, 4.8 MB): copied next to the platform
 * function, which serves /docs, rather than bundled, so no function loads it at cold start.
 * `to` is DOCS_SCRIPT_BUNDLED in functions/shared/docs-page.ts.
 */
export const docsAsset = {
  from: "node_modules/@scalar/api-reference/dist/browser/standalone.js",
  to: "docs-assets/api-reference.js",
} as const;

/** Where `copyFiles` puts the migrations, relative to the function root (the Lambda's cwd). */
export const migrationsDir = "db/migrations";

/**
 * Left out of every bundle.
 * - PGlite (WASM Postgres) is only for laptops and tests; `db/client.ts` loads it, and
 *   Drizzle's PGlite driver, with a dynamic `import()` when the URL asks for it, which never
 *   happens in Lambda. Drizzle's PGlite modules must be external too: bundled, their static
 *   `import ... from "@electric-sql/pglite"` would be hoisted to the top of the bundle and
 *   fail at cold start. `npm run build` checks that every import of these stays dynamic.
 * - `@aws-sdk/*` ships with the nodejs22.x runtime.
 * - `pg-native` is an optional native binding that `pg` requires only when asked to.
 */
export const localOnlyModules = ["@electric-sql/pglite*", "drizzle-orm/pglite*"];
export const lambdaExternals = [...localOnlyModules, "@aws-sdk/*", "pg-native"];

/** Prefer ESM builds of dependencies: they tree-shake; CJS builds mostly do not. */
export const lambdaMainFields = ["module", "main"];

/**
 * Bundled CommonJS dependencies call `require` for Node built-ins, which an ES module lacks.
 * SST prepends this exact banner itself for `format: "esm"`, so only `scripts/build.ts`
 * adds it (twice would declare `require` twice).
 */
export const esmRequireBanner =
  "import { createRequire as topLevelCreateRequire } from 'module';const require = topLevelCreateRequire(import.meta.url);";

/** Inputs that must never end up in a Lambda bundle (paths as esbuild's metafile reports them). */
export const forbiddenBundleInputs: { reason: string; pattern: RegExp }[] = [
  { reason: "PGlite is for local use only", pattern: /(^|\/)node_modules\/@electric-sql\/pglite/ },
  { reason: "drizzle-kit is a development tool", pattern: /(^|\/)node_modules\/drizzle-kit\// },
  // infra/esbuild-plugins.mjs keeps zod's English messages only (~258 KiB of locales otherwise).
  {
    reason: "zod's non-English locales are never used",
    // Files only: the plugin's own English-only index is a virtual module (`zod-english-only:…`).
    pattern: /^[^:]*(^|\/)node_modules\/zod\/v4\/locales\/(?!en\.js$)/,
  },
  { reason: "vitest is a test runner", pattern: /(^|\/)node_modules\/(@vitest\/|vitest\/)/ },
  // The console is a static site (dist/console), served next to the API, never from a function.
  { reason: "the console belongs to the static site", pattern: /^console\/|(^|\/)node_modules\/preact\// },
  // Our own tests and benchmarks (paths are relative to the repository root).
  { reason: "test code", pattern: /^(test|bench)\/|^(?!node_modules\/).*\.(test|spec)\.[cm]?[jt]sx?$/ },
];
