import { Pool } from "@neondatabase/serverless";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { configureNeonForProxy } from "../db/neon-local";
import { startWsProxy, type WsProxy } from "../scripts/ws-proxy";

const databaseUrl = process.env.TEST_DATABASE_URL;

describe.skipIf(!databaseUrl)("[postgres] ws-proxy + Neon serverless driver", () => {
  let proxy: WsProxy;
  let pool: Pool;

  beforeAll(async () => {
    proxy = await startWsProxy({ port: 0 });
    configureNeonForProxy(proxy.port);
    pool = new Pool({ connectionString: databaseUrl, max: 2 });
  });

  afterAll(async () => {
    await pool?.end();
    await proxy?.close();
  });

  it("runs a query through the proxy", async () => {
    const { rows } = await pool.query<{ one: number }>("select 1 as one");
    expect(rows).toEqual([{ one: 1 }]);
  });

  it("runs an interactive transaction and binds parameters", async () => {
    const client = await pool.connect();
    try {
      await client.query("begin");
      await client.query("create temp table proxy_probe (n int) on commit drop");
      await client.query("insert into proxy_probe values ($1), ($2)", [2, 3]);
      const { rows } = await client.query<{ total: number }>("select sum(n)::int as total from proxy_probe");
      expect(rows[0]!.total).toBe(5);
      await client.query("commit");
    } finally {
      client.release();
    }
  });

  it("refuses a non-loopback target at the upgrade", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const socket = new WebSocket(`ws://127.0.0.1:${proxy.port}/v1?address=10.255.255.1:5432`);
      socket.on("unexpected-response", (_req, res) => {
        resolve(res.statusCode ?? 0);
        socket.terminate();
      });
      socket.on("open", () => {
        socket.terminate();
        reject(new Error("proxy accepted a non-loopback target"));
      });
      socket.on("error", () => undefined);
    });
    expect(status).toBe(403);
  });

  it("makes the driver fail for a non-loopback host", async () => {
    const remote = new Pool({ connectionString: "postgres://postgres@192.0.2.10:5432/postgres", max: 1 });
    try {
      await expect(remote.query("select 1")).rejects.toThrow();
    } finally {
      await remote.end().catch(() => undefined);
    }
  });
});
