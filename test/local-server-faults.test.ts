import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { adminQuery, databaseUrl } from "./support/postgres-admin";
import { freePort, type Spawned, spawnScript, stopProcess, waitForOutput } from "./support/processes";

/**
 * `npm start` on PostgreSQL while the database kills its connections: workers claim and
 * complete items over HTTP and the server's backends are terminated three times under that
 * load. Every answer is a 2xx, a 409 (a stale or repeated fenced call) or a 503 (retry); the
 * process stays up; when the run is finished afterwards, every item is COMPLETED by exactly
 * one attempt. Once per driver: node-postgres, and the Neon driver through the WebSocket proxy.
 */
const KEY = "cairn_00112233aabb_abcdefghijklmnopqrstuvwxyz012345";
const ITEMS = 120;
const WORKERS = 6;
const ALLOWED = new Set([200, 201, 409, 503]);

const drivers = ["pg", "neon"] as const;

for (const driver of drivers) {
  describe.skipIf(!process.env.TEST_DATABASE_URL)(
    `npm start survives its database's connections being terminated, ${driver} driver [postgres]`,
    () => {
      const server = process.env.TEST_DATABASE_URL ?? "";
      const name = `cairn_faults_${randomBytes(5).toString("hex")}`;
      let spawned: Spawned;
      let base: string;
      /** Sees and terminates the server's connections; excluded from the terminations itself. */
      let admin: pg.Client;

      beforeAll(async () => {
        const url = databaseUrl(server, name);
        await adminQuery(server, `create database ${name} template ${inject("templateDatabase")}`);
        admin = new pg.Client({ connectionString: url });
        await admin.connect();
        const port = await freePort();
        base = `http://127.0.0.1:${port}`;
        spawned = spawnScript("functions/local.ts", [], {
          DATABASE_URL: url,
          CAIRN_DB_DRIVER: driver,
          CAIRN_NEON_PROXY: driver === "neon" ? `127.0.0.1:${inject("wsProxyPort")}` : undefined,
          CAIRN_API_KEY: KEY,
          PORT: String(port),
          LOG_LEVEL: "info",
          // Claims whose answer was lost are reaped soon and claimed again.
          CAIRN_SCHEDULE_SWEEPER_MS: "500",
          CAIRN_SCHEDULE_EVENTS_MS: "0",
          CAIRN_SCHEDULE_DEAD_LETTERS_MS: "0",
          CAIRN_SCHEDULE_TIERING_MS: "0",
        });
        await waitForOutput(spawned, "cairn listening");
      });
      afterAll(async () => {
        if (spawned) await stopProcess(spawned);
        await admin?.end().catch(() => {});
        await adminQuery(server, `drop database if exists ${name} with (force)`);
        // The login roles npm start made for this database (db/login-roles.ts).
        for (const kind of ["runtime", "jobs"]) await adminQuery(server, `drop role if exists ${name}_${kind}`);
      });

      it("answers 2xx/409/503, loses no item, completes none twice, and stays healthy", {
        timeout: 120_000,
      }, async () => {
        const statuses = new Map<number, number>();
        const api = async (method: string, path: string, body?: unknown) => {
          const response = await fetch(`${base}${path}`, {
            method,
            headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
            body: body === undefined ? undefined : JSON.stringify(body),
          });
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          const text = await response.text();
          const json = text ? JSON.parse(text) : undefined;
          if (response.status === 503) {
            expect(json.error.code).toBe("database_unavailable");
            expect(response.headers.get("retry-after")).toBe("1");
          }
          return { status: response.status, body: json };
        };

        const created = await api("POST", "/v1/work-orders", {
          title: "survive the database",
          retry: { baseMs: 10, capMs: 100 },
          items: Array.from({ length: ITEMS }, (_, i) => ({ type: "FAULTS", payload: { i }, maxAttempts: 50 })),
        });
        expect(created.status).toBe(201);

        const remaining = async () => {
          const { rows } = await admin.query<{ n: number }>(
            "select count(*)::int as n from work_items where status <> 'COMPLETED'",
          );
          return rows[0]?.n ?? ITEMS;
        };
        let finished = false;
        let failure: unknown;
        const deadline = Date.now() + 60_000;
        const running = () => !finished && failure === undefined && Date.now() < deadline;
        const worker = async (id: number) => {
          while (running()) {
            const claim = await api("POST", "/v1/work-items/claim", {
              workerId: `worker-${id}`,
              types: ["FAULTS"],
              leaseSeconds: 2,
            });
            const item = claim.status === 200 ? claim.body.items[0] : undefined;
            if (!item) {
              await sleep(claim.status === 200 ? 50 : 20);
              continue;
            }
            await sleep(20); // the work
            for (let retry = 0; retry < 20; retry++) {
              const done = await api("POST", `/v1/work-items/${item.id}/complete`, {
                attemptId: item.attemptId,
                fencingToken: item.fencingToken,
                result: { worker: id },
              });
              if (done.status !== 503) break;
              await sleep(50);
            }
          }
        };
        // A worker that fails (a refused connection: the process died) stops the run at once.
        const workers = Array.from({ length: WORKERS }, (_, id) =>
          worker(id).catch((error: unknown) => {
            failure ??= error;
          }),
        );

        // Three terminations of every server connection, while items are still being worked on.
        let terminated = 0;
        for (const left of [0.85, 0.6, 0.35].map((share) => Math.round(ITEMS * share))) {
          while (running() && (await remaining()) > left) await sleep(10);
          const { rows } = await admin.query<{ n: number }>(
            `select count(*)::int as n from (select pg_terminate_backend(pid) from pg_stat_activity
           where datname = current_database() and pid <> pg_backend_pid()) t`,
          );
          terminated += rows[0]?.n ?? 0;
        }
        // Then the run is finished: claims whose answer was lost come back when their lease is reaped.
        while (running() && (await remaining()) > 0) await sleep(100);
        finished = true;
        await Promise.all(workers);
        if (failure !== undefined) throw failure;

        expect(terminated).toBeGreaterThan(0);
        expect(
          [...statuses.keys()].filter((status) => !ALLOWED.has(status)),
          JSON.stringify([...statuses]),
        ).toEqual([]);
        const { rows: items } = await admin.query<{ status: string; completed_attempts: number }>(
          `select i.status, (select count(*)::int from attempts a where a.work_item_id = i.id and a.status = 'COMPLETED')
                  as completed_attempts
         from work_items i`,
        );
        expect(items).toHaveLength(ITEMS);
        expect(items.filter((item) => item.status !== "COMPLETED")).toEqual([]);
        expect(items.filter((item) => item.completed_attempts !== 1)).toEqual([]);
        const { rows: orders } = await admin.query<{ status: string }>("select status from work_orders");
        expect(orders).toEqual([{ status: "COMPLETED" }]);

        expect(spawned.child.exitCode).toBeNull();
        const health = await fetch(`${base}/health`);
        expect(health.status).toBe(200);
      });
    },
  );
}
