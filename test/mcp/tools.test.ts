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
import { mcpScenarios, unique } from "./scenarios";
import { addPerson, callTool, type ErrorBody, inProcessTarget, type Target } from "./support";

interface RequestedApproval {
  approvalRequestId: string;
  workItemId: string;
  workOrderId: string;
  requiredApprovals: number;
  approverRoles: string[];
  policyId: string | null;
  created: boolean;
}

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

  describe("request_approval under the workspace's approval policies", () => {
    it("lets a matching BEFORE policy apply as it is: an agent cannot ask for less than the policy", async () => {
      const client = await target.connect(adminKey);
      const action = unique("deploy_production");
      const policy = await target.api<{ id: string }>("POST", "/v1/approval-policies", adminKey, {
        name: "Production deploys need two",
        itemType: action,
        conditions: [{ field: "payload.env", operator: "equals", value: "prod" }],
        gate: "BEFORE",
        requiredApprovals: 2,
        approverRoles: ["OWNER", "ADMIN"],
      });
      expect(policy.status).toBe(201);

      const strict = await callTool<RequestedApproval>(client, "request_approval", {
        action,
        reason: "Release 1.2",
        payload: { env: "prod" },
      });
      expect(strict.body).toMatchObject({
        requiredApprovals: 2,
        approverRoles: ["OWNER", "ADMIN"],
        policyId: policy.body.id,
      });

      // The policy's condition does not hold: the default gate (one approval from the usual roles).
      const relaxed = await callTool<RequestedApproval>(client, "request_approval", {
        action,
        reason: "Staging first",
        payload: { env: "staging" },
      });
      expect(relaxed.body).toMatchObject({
        requiredApprovals: 1,
        approverRoles: ["OWNER", "ADMIN", "APPROVER"],
        policyId: null,
      });
    });

    it("moves an AFTER policy's review before the action, with its approvers and quorum", async () => {
      const client = await target.connect(adminKey);
      const action = unique("publish_post");
      const policy = await target.api("POST", "/v1/approval-policies", adminKey, {
        name: "Posts are reviewed",
        itemType: action,
        gate: "AFTER",
        requiredApprovals: 2,
        approverRoles: ["ADMIN"],
      });
      expect(policy.status).toBe(201);
      const requested = await callTool<RequestedApproval>(client, "request_approval", {
        action,
        reason: "Announce the release",
        payload: { title: "1.2 is out" },
      });
      expect(requested.body).toMatchObject({ requiredApprovals: 2, approverRoles: ["ADMIN"] });
      const order = await callTool<{ items: Array<{ status: string; approval: { gate: string } }> }>(
        client,
        "get_work_order",
        { id: requested.body.workOrderId },
      );
      expect(order.body.items).toEqual([
        expect.objectContaining({ status: "AWAITING_APPROVAL", approval: expect.objectContaining({ gate: "BEFORE" }) }),
      ]);
    });

    it("lets an agent whose key has only work:write ask, under the policy, and never decide its own request", async () => {
      const agent = await addPerson(target.api, adminKey, "MEMBER", ["work:read", "work:write"]);
      const client = await target.connect(agent.key);
      const action = unique("send_invoice");
      const policy = await target.api<{ id: string }>("POST", "/v1/approval-policies", adminKey, {
        name: "Invoices need an owner",
        itemType: action,
        gate: "BEFORE",
        approverRoles: ["OWNER"],
      });
      expect(policy.status).toBe(201);
      const requested = await callTool<RequestedApproval>(client, "request_approval", {
        action,
        reason: "Month end",
        payload: { amount: 90 },
      });
      expect(requested.body).toMatchObject({
        requiredApprovals: 1,
        approverRoles: ["OWNER"],
        policyId: policy.body.id,
      });
      // Without a policy: the default gate, still before the action.
      const unruled = await callTool<RequestedApproval>(client, "request_approval", {
        action: unique("send_reminder"),
        reason: "Overdue",
        payload: { days: 30 },
      });
      expect(unruled.body).toMatchObject({ requiredApprovals: 1, approverRoles: ["OWNER", "ADMIN", "APPROVER"] });
      // The agent's key cannot decide (no approvals:decide), through the API either.
      const decided = await target.api(
        "POST",
        `/v1/approvals/${requested.body.approvalRequestId}/decisions`,
        agent.key,
        {
          decision: "APPROVED",
          reason: "mine",
        },
      );
      expect(decided.status).toBe(403);
      const stored = await target.api<{ status: string }>(
        "GET",
        `/v1/approvals/${requested.body.approvalRequestId}`,
        adminKey,
      );
      expect(stored.body.status).toBe("PENDING");
    });

    it("returns the same request for a repeated idempotency key, and a conflict for a changed request", async () => {
      const client = await target.connect(adminKey);
      const args = {
        action: unique("refund"),
        reason: "Damaged parcel",
        payload: { amount: 40 },
        idempotencyKey: unique("k"),
      };
      const first = await callTool<RequestedApproval>(client, "request_approval", args);
      const again = await callTool<RequestedApproval>(client, "request_approval", args);
      expect(first.body.created).toBe(true);
      expect(again.body).toMatchObject({
        created: false,
        approvalRequestId: first.body.approvalRequestId,
        workItemId: first.body.workItemId,
      });
      const changed = await callTool<ErrorBody>(client, "request_approval", { ...args, payload: { amount: 400 } });
      expect(changed.body.error.code).toBe("conflict");
    });
  });

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
