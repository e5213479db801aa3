import { availableParallelism } from "node:os";
import { configDefaults, defineConfig } from "vitest/config";

/**
 * Suites that run whole processes — `npm start`, the CLI, the admin script, a second PGlite
 * holder, a killed server — or a real browser, or a code generator and tsc. Each takes tens of
 * seconds on 2 cores; together they are most of the suite's time. The everyday `npm test` leaves
 * them out; `npm run test:full` (and CI, `CAIRN_TEST_FULL=1 npm test`) runs them with the rest.
 * The behaviour they check is also covered in-process by the everyday suites wherever it can be
 * (the MCP tools through the official client in test/mcp/tools.test.ts, the SDK client and worker,
 * the API contract); what they add is the real process boundary.
 */
export const endToEndSuites = [
  "test/console/console.test.ts",
  "test/db/pglite-lock.test.ts",
  "test/docs/docs.test.ts",
  "test/local-listen.test.ts",
  "test/local-server.test.ts",
  "test/local-server-faults.test.ts",
  "test/local-server-postgres.test.ts",
  "test/mcp/server.test.ts",
  "test/migrator.test.ts",
  "test/sdk/cli.test.ts",
  "test/sdk/generated-client.test.ts",
  "test/sdk/readme.test.ts",
  "test/trust/recovery.test.ts",
];

export default defineConfig(({ mode }) => {
  // `npm run test:full` (vitest --mode full), or CAIRN_TEST_FULL=1 as CI sets it.
  const full = mode === "full" || Boolean(process.env.CAIRN_TEST_FULL);
  return {
    test: {
      include: ["test/**/*.test.ts"],
      exclude: full ? configDefaults.exclude : [...configDefaults.exclude, ...endToEndSuites],
      globalSetup: ["test/support/global-setup.ts"],
      // Each file opens its own databases (PGlite in-process, a fresh Postgres database).
      pool: "forks",
      // Everyday: one fork per core (vitest's default leaves one core free: a single fork on 2
      // cores). Full mode keeps that default, leaving a core to the processes the end-to-end
      // suites start (`npm start`, Chromium, the CLI).
      maxWorkers: full ? undefined : availableParallelism(),
      // Everyday: a fork runs file after file, so each file does not pay again for loading the
      // app's modules and compiling PGlite's WebAssembly (5:44 → about 2 minutes on 2 cores). Files
      // clean up what they set (environment variables, mocks) and open their own databases. Full
      // mode, which CI runs, keeps every file in a fresh process.
      isolate: full,
      testTimeout: 60_000,
      hookTimeout: 120_000,
      env: {
        LOG_LEVEL: process.env.LOG_LEVEL ?? "silent",
        // Full mode also uses the large data sets (test/memory/search-recall.test.ts: 20,000
        // vectors instead of 4,000).
        CAIRN_TEST_FULL: full ? "1" : "",
      },
    },
  };
});
