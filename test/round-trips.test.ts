/**
 * Round trips per API call, authentication included, counted by a wrapper around each driver's
 * client (every `query` call is one exchange with the server: a statement, or a pipeline of them
 * closed by one Sync). node-postgres and the Neon driver (through the repository's WebSocket
 * proxy) need TEST_DATABASE_URL; PGlite runs in-process and is counted too.
 */
import { randomBytes } from "node:crypto";
import { Client as NeonClient } from "@neondatabase/serverless";
import { sql } from "drizzle-orm";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { connect, type Database, type DriverKind } from "../db/client";
import { configureNeonForProxy } from "../db/neon-local";
import { openTestDatabase } from "./support/databases";
import { call, seedWorkspace, testApp } from "./support/http";
import { adminQuery, databaseUrl } from "./support/postgres-admin";

let roundTrips = 0;
function countQueries(prototype: { query: (...args: unknown[]) => unknown }) {
  const original = prototype.query;
  prototype.query = function (this: unknown, ...args: unknown[]) {
    roundTrips += 1;
    return original.apply(this, args);
  };
}
countQueries(pg.Client.prototype as never);
countQueries(NeonClient.prototype as never);

async function counted<T>(fn: () => Promise<T>): Promise<{ result: T; roundTrips: number }> {
  const before = roundTrips;
  const result = await fn();
  return { result, roundTrips: roundTrips - before };
}

async function serverDatabase(driver: DriverKind) {
  const server = process.env.TEST_DATABASE_URL as string;
  const name = `cairn_rt_${randomBytes(6).toString("hex")}`;
  await adminQuery(server, `create database ${name} template ${inject("templateDatabase")}`);
  if (driver === "neon") configureNeonForProxy(inject("wsProxyPort"));
  const database = await connect(databaseUrl(server, name), { driver, max: 4 });
  return {
    database,
    url: databaseUrl(server, name),
    close: async () => {
      await database.close();
      await adminQuery(server, `drop database if exists ${name} with (force)`);
    },
  };
}

const drivers: DriverKind[] = process.env.TEST_DATABASE_URL ? ["pg", "neon"] : [];

for (const driver of drivers) {
  describe(`round trips per API call [postgres] (${driver})`, () => {
    let database: Database;
    let url: string;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ database, url, close } = await serverDatabase(driver));
    });
    afterAll(() => close());

    it("claim and search cost 1 round trip, create and complete 2, authentication included", async () => {
      const app = testApp(database);
      const { adminKey: key } = await seedWorkspace(database);
      // The first request of a key in a process authenticates it on its own; later ones do not.
      expect((await call(app, "GET", "/v1/work-orders", { key })).status).toBe(200);

      const create = await counted(() =>
        call(app, "POST", "/v1/work-orders", {
          key,
          body: {
            title: "t",
            items: [
              { type: "x", payload: { n: 1 } },
              { type: "x", payload: { n: 2 } },
            ],
          },
        }),
      );
      expect(create.result.status).toBe(201);

      const claim = await counted(() => call(app, "POST", "/v1/work-items/claim", { key, body: { workerId: "w" } }));
      expect(claim.result.status).toBe(200);
      const [claimed] = claim.result.body.items;

      const complete = await counted(() =>
        call(app, "POST", `/v1/work-items/${claimed.id}/complete`, {
          key,
          body: { attemptId: claimed.attemptId, fencingToken: claimed.fencingToken, result: { ok: true } },
        }),
      );
      expect(complete.result.status).toBe(200);

      await call(app, "POST", "/v1/memories", { key, body: { content: "the invoices are paid on Fridays" } });
      const search = await counted(() =>
        call(app, "POST", "/v1/memories/search", { key, body: { query: "invoices", mode: "vector" } }),
      );
      expect(search.result.status).toBe(200);
      const measured = {
        create: create.roundTrips,
        claim: claim.roundTrips,
        complete: complete.roundTrips,
        search: search.roundTrips,
      };
      // Claim and search are one statement each, sent with BEGIN, the set-up and COMMIT. Complete
      // stays 2: its follow-up statements (refreshing a finished order, opening an after-gate's
      // review) depend on what its first statement found, so COMMIT cannot go with that one.
      expect(measured).toEqual({ create: 2, claim: 1, complete: 2, search: 1 });
    });

    it("create costs 2 round trips with an Idempotency-Key too (its replay costs 2 as well)", async () => {
      const app = testApp(database);
      const { adminKey: key } = await seedWorkspace(database);
      expect((await call(app, "GET", "/v1/work-orders", { key })).status).toBe(200);
      const body = { title: "keyed", items: [{ type: "x", payload: { n: 1 }, dedupKey: "k-1" }] };
      const headers = { "Idempotency-Key": "rt-1" };
      const create = await counted(() => call(app, "POST", "/v1/work-orders", { key, body, headers }));
      expect(create.result.status).toBe(201);
      expect(create.roundTrips).toBe(2);
      // The reads and BEGIN + set-up, then COMMIT: the replay reads the order and its items in one.
      const again = await counted(() => call(app, "POST", "/v1/work-orders", { key, body, headers }));
      expect(again.result.status).toBe(200);
      expect(again.result.body.items).toHaveLength(1);
      expect(again.roundTrips).toBe(2);
    });

    it("create with a BEFORE approval gate (the request, its webhook jobs, their audit) costs 2 round trips", async () => {
      const app = testApp(database);
      const { adminKey: key } = await seedWorkspace(database);
      const policy = await call(app, "POST", "/v1/approval-policies", {
        key,
        body: { name: "gate x", itemType: "x", gate: "BEFORE" },
      });
      expect(policy.status).toBe(201);
      const create = await counted(() =>
        call(app, "POST", "/v1/work-orders", {
          key,
          body: {
            title: "gated",
            items: [
              { type: "x", payload: { n: 1 } },
              { type: "y", payload: { n: 2 } },
            ],
          },
        }),
      );
      expect(create.result.status).toBe(201);
      expect(create.result.body.approvalRequestIds).toHaveLength(1);
      expect(create.result.body.items.map((item: { status: string }) => item.status)).toEqual([
        "AWAITING_APPROVAL",
        "QUEUED",
      ]);
      // The reads with BEGIN + set-up, then the order, items, request, webhook-job statement and
      // audit with COMMIT. With an active API connector the webhook's delivery follows the commit
      // in transactions of its own (not part of the creation's).
      expect(create.roundTrips).toBe(2);
    });

    it("create from a template costs 3 round trips: the template decides which types to read for", async () => {
      const app = testApp(database);
      const { adminKey: key } = await seedWorkspace(database);
      const template = await call(app, "POST", "/v1/workflow-templates", {
        key,
        body: { name: "two", steps: [{ type: "a" }, { type: "b", payloadDefaults: { n: 1 } }] },
      });
      expect(template.status).toBe(201);
      const create = await counted(() =>
        call(app, "POST", "/v1/work-orders", { key, body: { title: "t", templateId: template.body.id } }),
      );
      expect(create.result.status).toBe(201);
      expect(create.roundTrips).toBe(3);
    });

    it("a claim under queue limits (concurrency and rate) still costs 1 round trip", async () => {
      const app = testApp(database);
      const { adminKey: key } = await seedWorkspace(database);
      for (const body of [
        { concurrencyKey: "tenant:a", maxInFlight: 1 },
        { type: "x", rate: { limit: 10, intervalSeconds: 60 } },
      ]) {
        expect((await call(app, "PUT", "/v1/queue-limits", { key, body })).status).toBe(200);
      }
      const created = await call(app, "POST", "/v1/work-orders", {
        key,
        body: {
          title: "t",
          items: [
            { type: "x", payload: { n: 1 }, concurrencyKey: "tenant:a" },
            { type: "x", payload: { n: 2 }, concurrencyKey: "tenant:a" },
          ],
        },
      });
      expect(created.status).toBe(201);
      const claim = await counted(() =>
        call(app, "POST", "/v1/work-items/claim", { key, body: { workerId: "w", limit: 2 } }),
      );
      expect(claim.result.status).toBe(200);
      // The key's limit admits one of the two; the admission runs inside the claim statement.
      expect(claim.result.body.items).toHaveLength(1);
      expect(claim.roundTrips).toBe(1);
    });

    it("a revoked key fails on its very next request, with nothing done", async () => {
      const app = testApp(database);
      const { adminKey } = await seedWorkspace(database);
      const made = await call(app, "POST", "/v1/api-keys", {
        key: adminKey,
        body: { name: "worker", scopes: ["work:write", "work:read"], service: true },
      });
      expect(made.status).toBe(201);
      const worker = made.body.key as string;
      await call(app, "POST", "/v1/work-orders", {
        key: adminKey,
        body: { title: "t", items: [{ type: "x", payload: {} }] },
      });
      // Known to this process: its next request sends no authentication statement of its own.
      expect((await call(app, "GET", "/v1/work-orders", { key: worker })).status).toBe(200);
      expect((await call(app, "POST", `/v1/api-keys/${made.body.id}/revoke`, { key: adminKey })).status).toBe(200);
      const refused = await call(app, "POST", "/v1/work-items/claim", { key: worker, body: { workerId: "w" } });
      expect(refused.status).toBe(401);
      expect(refused.body.error.message).toMatch(/revoked/);
      const stillQueued = await call(app, "GET", "/v1/work-orders", { key: adminKey });
      expect(stillQueued.body.items[0].status).toBe("PENDING");
    });

    it("the claim statement is prepared once per connection and shape, also after a claim whose Parse the server skipped", async () => {
      // One connection, so every request below runs on it and its prepared statements can be read.
      const single = await connect(url, { driver, max: 1 });
      try {
        const app = testApp(single);
        const { adminKey } = await seedWorkspace(single);
        const made = await call(app, "POST", "/v1/api-keys", {
          key: adminKey,
          body: { name: "worker", scopes: ["work:write", "work:read"], service: true },
        });
        expect(made.status).toBe(201);
        const worker = made.body.key as string;
        const items = Array.from({ length: 6 }, (_, n) => ({ type: "x", payload: { n } }));
        expect(
          (await call(app, "POST", "/v1/work-orders", { key: adminKey, body: { title: "t", items } })).status,
        ).toBe(201);
        expect((await call(app, "GET", "/v1/work-orders", { key: worker })).status).toBe(200);
        expect((await call(app, "POST", `/v1/api-keys/${made.body.id}/revoke`, { key: adminKey })).status).toBe(200);
        // The connection's first claim fails in its set-up (revoked key): the server skips the
        // claim's Parse, so the next claim must parse it again.
        const refused = await call(app, "POST", "/v1/work-items/claim", { key: worker, body: { workerId: "w" } });
        expect(refused.status).toBe(401);
        for (let n = 0; n < 5; n++) {
          const claim = await call(app, "POST", "/v1/work-items/claim", { key: adminKey, body: { workerId: `w${n}` } });
          expect(claim.status).toBe(200);
          expect(claim.body.items).toHaveLength(1);
        }
        // A type filter is another shape of the statement: another name.
        const typed = await call(app, "POST", "/v1/work-items/claim", {
          key: adminKey,
          body: { workerId: "typed", types: ["x"], limit: 2 },
        });
        expect(typed.status).toBe(200);
        expect(typed.body.items).toHaveLength(1);
        const prepared = (await single.db.execute(
          sql`select generic_plans + custom_plans as plans from pg_prepared_statements
              where starts_with(name, 'cairn_') order by plans`,
        )) as unknown as { rows: Array<{ plans: string | number }> };
        expect(prepared.rows.map((row) => Number(row.plans))).toEqual([1, 5]);
      } finally {
        await single.close();
      }
    });
  });
}

describe("round trips per API call [pglite]", () => {
  it("claim and complete run as one transaction of the set-up and one statement", async () => {
    const { database, close } = await openTestDatabase("pglite");
    try {
      const app = testApp(database);
      const { adminKey: key } = await seedWorkspace(database);
      await call(app, "POST", "/v1/work-orders", { key, body: { title: "t", items: [{ type: "x", payload: {} }] } });
      // PGlite runs in this process: a "round trip" is a call into it. Drizzle's transaction sends
      // BEGIN, the set-up (which checks the key), the statement and COMMIT one by one.
      const client = (database.db as unknown as { $client: { query: (...a: unknown[]) => unknown } }).$client;
      const calls = { n: 0 };
      for (const method of ["query", "exec"] as const) {
        const target = client as unknown as Record<string, (...a: unknown[]) => unknown>;
        const original = target[method]?.bind(client);
        if (!original) continue;
        target[method] = (...args: unknown[]) => {
          calls.n += 1;
          return original(...args);
        };
      }
      const before = calls.n;
      const claim = await call(app, "POST", "/v1/work-items/claim", { key, body: { workerId: "w" } });
      expect(claim.status).toBe(200);
      expect(claim.body.items).toHaveLength(1);
      expect(calls.n - before).toBeLessThanOrEqual(4);
    } finally {
      await close();
    }
  });
});
