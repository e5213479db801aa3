/**
 * The MCP server in-process, on each test database: the SDK's client over Streamable HTTP,
 * with the app's own fetch (no network), so the tools, their scopes and errors are checked on
 * PGlite and, with TEST_DATABASE_URL, on PostgreSQL through the Neon driver.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMcpRoutes } from "../../functions/mcp/routes";
import { allRouters } from "../../functions/routers";
import type { Router } from "../../functions/shared/app";
import { describeEachDatabase } from "../support/databases";
import { seedWorkspace, testApp } from "../support/http";
import { mcpScenarios } from "./scenarios";
import { type ErrorBody, inProcessTarget, type Target } from "./support";

describeEachDatabase("MCP server in-process", (db) => {
  let app: Router;
  let target: Target;
  let adminKey: string;

  beforeAll(async () => {
    // Polls every 100 ms instead of every second, so waits end soon after a decision.
    const { mcp: _default, ...others } = allRouters;
    app = testApp(db().database, [...Object.values(others), createMcpRoutes({ pollIntervalMs: 100 })]);
    target = inProcessTarget(app);
    adminKey = (await seedWorkspace(db().database)).adminKey;
  });
  afterAll(async () => {
    await target?.close();
  });

  mcpScenarios(
    () => target,
    () => adminKey,
  );

  describe("over HTTP", () => {
    it("needs an API key, like /v1", async () => {
      const response = await app.request("/mcp", {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      });
      expect(response.status).toBe(401);
      expect(((await response.json()) as ErrorBody).error.code).toBe("unauthorized");
    });

    it("answers only POST (stateless: no GET stream, no session to DELETE)", async () => {
      for (const method of ["GET", "DELETE"]) {
        const response = await app.request("/mcp", { method, headers: { authorization: `Bearer ${adminKey}` } });
        expect(response.status, method).toBe(405);
        expect(response.headers.get("allow")).toBe("POST");
        expect(((await response.json()) as ErrorBody).error.code).toBe("method_not_allowed");
      }
    });

    it("serves a request without a session: no mcp-session-id, any request on its own", async () => {
      const response = await app.request("/mcp", {
        method: "POST",
        headers: {
          authorization: `Bearer ${adminKey}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/list" }),
      });
      expect(response.status).toBe(200);
      expect(response.headers.get("mcp-session-id")).toBeNull();
      expect(response.headers.get("content-type")).toContain("text/event-stream");
      const text = await response.text();
      expect(text).toContain('"id":7');
      expect(text).toContain('"name":"wait_for_approval"');
    });
  });
});
