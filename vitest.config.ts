import { defineConfig } from "vitest/config";

export default defineConfig(({ mode }) => ({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    // Each file opens its own databases (PGlite in-process, a fresh Postgres database).
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 120_000,
    env: {
      LOG_LEVEL: process.env.LOG_LEVEL ?? "silent",
      // `npm run test:full` (vitest --mode full), which CI runs: the large data sets too
      // (test/memory/search-recall.test.ts); everyday `npm test` uses smaller ones.
      CAIRN_TEST_FULL: mode === "full" ? "1" : (process.env.CAIRN_TEST_FULL ?? ""),
    },
  },
}));
