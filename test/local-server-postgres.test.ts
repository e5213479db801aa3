import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { signBody } from "../functions/shared/signatures";
import type { ResponseBody } from "./support/http";
import { adminQuery, databaseUrl } from "./support/postgres-admin";
import { freePort, spawnScript, stopProcess, waitForOutput } from "./support/processes";

/**
 * `npm start` with DATABASE_URL pointing at a PostgreSQL server, as its owner: it migrates an
 * empty database, creates the first workspace, then serves requests and runs its jobs through
 * login roles that are members of cairn_app (requests) or cairn_maintenance (jobs) only —
 * never as the owner that migrated.
 */
const KEY = "cairn_0a1b2c3d4e5f_abcdefghijklmnopqrstuvwxyz012345";

describe.skipIf(!process.env.TEST_DATABASE_URL)("npm start on PostgreSQL [postgres]", () => {
  const server = process.env.TEST_DATABASE_URL ?? "";
  const name = `cairn_start_${randomBytes(5).toString("hex")}`;
  afterAll(async () => {
    await adminQuery(server, `drop database if exists ${name} with (force)`);
    // The login roles npm start made for this database (db/login-roles.ts).
    for (const kind of ["runtime", "jobs"]) await adminQuery(server, `drop role if exists ${name}_${kind}`);
  });

  it("migrates, bootstraps and serves as login roles of cairn_app and cairn_maintenance, not as the owner", async () => {
    await adminQuery(server, `create database ${name}`);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const spawned = spawnScript("functions/local.ts", [], {
      DATABASE_URL: databaseUrl(server, name),
      CAIRN_DB_DRIVER: undefined,
      CAIRN_API_KEY: KEY,
      PORT: String(port),
      LOG_LEVEL: "info",
      CAIRN_SCHEDULE_SWEEPER_MS: "300",
    });
    try {
      await waitForOutput(spawned, "cairn listening");
      const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
        const response = await fetch(`${base}${path}`, {
          method,
          headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", ...headers },
          body: typeof body === "string" ? body : body === undefined ? undefined : JSON.stringify(body),
        });
        const json: ResponseBody = await response.json();
        return { status: response.status, body: json };
      };

      expect((await fetch(`${base}/health`)).status).toBe(200);
      const workspaces = await api("GET", "/v1/workspaces");
      expect(workspaces.status).toBe(200);
      expect(workspaces.body.items).toHaveLength(1);

      const order = await api("POST", "/v1/work-orders", { title: "as cairn_app", items: [{ type: "T" }] });
      expect(order.status).toBe(201);
      const claimed = await api("POST", "/v1/work-items/claim", { workerId: "w", types: ["T"] });
      const [item] = claimed.body.items;
      const completed = await api("POST", `/v1/work-items/${item.id}/complete`, {
        attemptId: item.attemptId,
        fencingToken: item.fencingToken,
        result: { ok: true },
      });
      expect(completed.status).toBe(200);

      // A connector's signed delivery: found before its workspace is known, without the maintenance role.
      const connector = await api("POST", "/v1/connectors", { name: "hooks", type: "API" });
      expect(connector.status).toBe(201);
      const delivery = JSON.stringify({
        events: [{ source: "hooks", eventType: "message.posted", externalId: "e1", payload: { text: "hi" } }],
      });
      const timestamp = Math.floor(Date.now() / 1000);
      const received = await api("POST", `/v1/connectors/${connector.body.id}/events`, delivery, {
        "X-Cairn-Signature": signBody(connector.body.signingSecret, timestamp, delivery),
        "X-Cairn-Timestamp": String(timestamp),
      });
      expect(received.status, JSON.stringify(received.body)).toBeLessThan(300);

      // Who the server's connections are: the scheduler's sweeper runs every 300 ms on its own pool.
      await sleep(1_000);
      const client = new pg.Client({ connectionString: server });
      await client.connect();
      let sessions: { usename: string; superuser: boolean; inherit: boolean; member_of: string[] }[];
      try {
        ({ rows: sessions } = await client.query(
          `select distinct a.usename, r.rolsuper or r.rolbypassrls or r.rolcreaterole as superuser,
                  r.rolinherit as inherit,
                  array(select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid
                        where m.member = r.oid order by 1)::text[] as member_of
           from pg_stat_activity a join pg_roles r on r.rolname = a.usename
           where a.datname = $1 order by 1`,
          [name],
        ));
      } finally {
        await client.end();
      }
      // By name: <database>_jobs, then <database>_runtime.
      expect(sessions.map((s) => s.member_of)).toEqual([["cairn_maintenance"], ["cairn_app"]]);
      for (const session of sessions) {
        expect(session.usename).not.toBe("postgres");
        expect(session.superuser).toBe(false);
        expect(session.inherit).toBe(false);
      }
      // Their passwords are nowhere in the output.
      expect(spawned.stdout() + spawned.stderr()).not.toMatch(/password|:\/\/[^/\s]*:[^@\s]+@/i);
    } finally {
      await stopProcess(spawned);
    }
  });
});
