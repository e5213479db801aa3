import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "drizzle-orm";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Database, type DriverKind } from "../../db/client";
import { allRouters } from "../../functions/routers";
import { createApp, createRouter, inTenant } from "../../functions/shared/app";
import { openTestDatabase, type TestDatabase } from "../support/databases";
import { call, seedWorkspace } from "../support/http";

/**
 * A database connection that dies under a request (a server restart, a failover, Neon
 * restarting a compute, an operator's pg_terminate_backend): the request fails with a
 * retryable 503 and the process stays up — a checked-out client's "error" event used to
 * have no listener and crash it. Real PostgreSQL only (PGlite has no connections to lose).
 */
const drivers: DriverKind[] = ["pg", "neon"];

/** Requests that hold a connection: one mid-query, one idle in its transaction between two statements. */
const holdRoutes = createRouter();
holdRoutes.get("/v1/test/in-query", async (c) => {
  await inTenant(c, (tx) => tx.execute(sql`select pg_sleep(30)`));
  return c.json({ ok: true });
});
holdRoutes.get("/v1/test/between-statements", async (c) => {
  await inTenant(c, async (tx) => {
    await tx.execute(sql`select 1`);
    await sleep(5_000);
    await tx.execute(sql`select 1`);
  });
  return c.json({ ok: true });
});

/** The admin connection: to the server's maintenance database, so it is not among those terminated. */
async function admin<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

const databaseName = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));

for (const driver of drivers) {
  describe.skipIf(!process.env.TEST_DATABASE_URL)(
    `a connection terminated under a request, ${driver} driver [postgres]`,
    () => {
      let test: TestDatabase;
      let database: Database;
      beforeAll(async () => {
        test = await openTestDatabase("postgres");
        database = driver === "neon" ? test.database : await connect(test.url, { driver, max: 10 });
      });
      afterAll(async () => {
        if (database !== test?.database) await database?.close();
        await test?.close();
      });

      it("answers 503 database_unavailable with Retry-After, stays up, and serves the next request", async () => {
        const { adminKey } = await seedWorkspace(database);
        const app = createApp({ database: async () => database, routers: [...Object.values(allRouters), holdRoutes] });
        const name = databaseName(test.url);

        const inFlight = [
          ...Array.from({ length: 4 }, () => call(app, "GET", "/v1/test/in-query", { key: adminKey })),
          ...Array.from({ length: 4 }, () => call(app, "GET", "/v1/test/between-statements", { key: adminKey })),
        ];
        // All eight hold their connection: four in pg_sleep, four idle in their transaction.
        for (let i = 0; ; i++) {
          const [held] = await admin<{ sleeping: number; idle: number }>(
            `select count(*) filter (where query like '%pg_sleep%' and state = 'active')::int as sleeping,
                  count(*) filter (where state = 'idle in transaction')::int as idle
           from pg_stat_activity where datname = $1`,
            [name],
          );
          if (held && held.sleeping === 4 && held.idle === 4) break;
          if (i > 200) throw new Error(`the requests did not all hold a connection: ${JSON.stringify(held)}`);
          await sleep(20);
        }
        const [killed] = await admin<{ n: number }>(
          `select count(*)::int as n from (select pg_terminate_backend(pid) from pg_stat_activity
         where datname = $1 and pid <> pg_backend_pid()) t`,
          [name],
        );
        expect(killed?.n).toBeGreaterThanOrEqual(8);

        const responses = await Promise.all(inFlight);
        for (const response of responses) {
          expect(response.status).toBe(503);
          expect(response.body.error.code).toBe("database_unavailable");
          expect(response.headers.get("retry-after")).toBe("1");
        }

        // Still here, on fresh connections.
        const next = await call(app, "GET", "/v1/workspaces", { key: adminKey });
        expect(next.status).toBe(200);
        const health = await app.request("/health");
        expect(health.status).toBe(200);
      });
    },
  );
}
