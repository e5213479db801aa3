/// <reference path="./.sst/platform/config.d.ts" />

/**
 * Cairn on AWS, one stage per `--stage`: an HTTP API with one Lambda per bounded context,
 * scheduled and queue-driven jobs, a Neon Postgres branch per stage (production owns the
 * project and its default branch), and the console: a static site behind one router with the
 * API. See docs/deploy.md.
 *
 * Each concern lives in `infra/<concern>.ts` and exports what it creates. They are imported
 * inside `run()` because SST's globals (`sst`, `aws`, `neon`, `$app`) exist only there.
 */
export default $config({
  app(input) {
    const production = input?.stage === "production";
    return {
      name: "cairn",
      home: "aws",
      // Production keeps its data (and refuses `sst remove`); any other stage is disposable.
      removal: production ? "retain" : "remove",
      protect: production,
      providers: {
        // Pinned: `sst install` fetches them from the npm registry. aws matches the version
        // SST's own components are built against.
        aws: { version: "7.20.0" },
        neon: { version: "0.13.0" },
        // The database logins' passwords (infra/database.ts); the version SST's own components use.
        random: { version: "4.16.6" },
      },
    };
  },
  async run() {
    await import("./infra/secrets");
    const database = await import("./infra/database");
    const jobs = await import("./infra/jobs");
    const { api } = await import("./infra/api");
    const { router, consoleSite } = await import("./infra/console");
    return {
      api: api.url,
      // The console and, behind the same router, the API again (what the console calls).
      console: consoleSite.url,
      router: router.url,
      neonProjectId: database.neonProjectId,
      neonBranchId: database.databaseBranchId,
      ingestQueue: jobs.ingestQueue.url,
      deadLetterQueue: jobs.deadLetterQueue.url,
    };
  },
});
