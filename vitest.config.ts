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
