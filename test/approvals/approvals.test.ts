import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { and, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Database, rows } from "../../db/client";
import { approvalEvents, approvalRequests, connectors, deadLetters, processingJobs } from "../../db/schema";
import { sweepApprovalDeadlines } from "../../functions/approvals/deadlines";
import { resolveApprovalRequirements } from "../../functions/approvals/gates";
import {
  deliverPendingNotifications,
  WEBHOOK_MAX_ATTEMPTS,
  webhookDeliveryHandler,
} from "../../functions/approvals/webhook-delivery";
import { redriveJobDeadLetter } from "../../functions/jobs/runtime/redrive";
import { systemActor } from "../../functions/shared/actor";
import type { Router } from "../../functions/shared/app";
import { PRIVATE_ADDRESSES_ENV } from "../../functions/shared/outbound";
import { describeEachDatabase } from "../support/databases";
import { databaseError } from "../support/errors";
import { call, type ResponseBody, seedWorkspace, testApp } from "../support/http";
import { invitePerson } from "../support/people";

type Role = "OWNER" | "ADMIN" | "MEMBER" | "APPROVER" | "VIEWER";

/** A member with a role and their own API key (invited, the invitation redeemed). */
async function member(
  app: Router,
  adminKey: string,
  role: Role,
  scopes = ["approvals:read", "approvals:decide", "work:read"],
) {
  const person = await invitePerson(app, adminKey, { role, scopes });
  return { userId: person.userId, key: person.key };
}

/**
 * A workspace with a requester (an ADMIN, so an approver by default and allowed to set an item's
 * own approval requirement — `approvals:write` — to prove four-eyes), approvers and an admin.
 */
async function team(app: Router, database: Database) {
  const ws = await seedWorkspace(database, "approvals");
  const requester = await member(app, ws.adminKey, "ADMIN", [
    "work:read",
    "work:write",
    "approvals:read",
    "approvals:write",
    "approvals:decide",
  ]);
  const a = await member(app, ws.adminKey, "APPROVER");
  const b = await member(app, ws.adminKey, "APPROVER");
  const admin = await member(app, ws.adminKey, "ADMIN");
  const viewer = await member(app, ws.adminKey, "VIEWER", ["approvals:read", "work:read"]);
  return { ...ws, requester, a, b, admin, viewer };
}

async function createOrder(app: Router, key: string, items: unknown[], title = "Pay invoices") {
  const created = await call(app, "POST", "/v1/work-orders", { key, body: { title, items } });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body as {
    id: string;
    status: string;
    items: Array<{ id: string; status: string }>;
    approvalRequestIds: string[];
  };
}

const decide = (app: Router, key: string, id: string, decision: string, reason?: string) =>
  call(app, "POST", `/v1/approvals/${id}/decisions`, {
    key,
    body: reason === undefined ? { decision } : { decision, reason },
  });

async function claimAll(app: Router, key: string) {
  const claimed = await call(app, "POST", "/v1/work-items/claim", { key, body: { workerId: "w", limit: 50 } });
  expect(claimed.status).toBe(200);
  return claimed.body.items as Array<{ id: string; attemptId: string; fencingToken: string }>;
}

async function itemStatus(app: Router, key: string, orderId: string) {
  const order = await call(app, "GET", `/v1/work-orders/${orderId}`, { key });
  expect(order.status).toBe(200);
  return order.body as { status: string; items: Array<{ id: string; status: string }> };
}

function expectError(response: { status: number; body: ResponseBody }, status: number) {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  expect(response.body.error).toEqual(
    expect.objectContaining({ code: expect.any(String), message: expect.any(String) }),
  );
}

const INVOICE_POLICY = {
  name: "Large invoices",
  itemType: "INVOICE",
  conditions: [{ field: "payload.amount", operator: "greater_than", value: 1000 }],
  gate: "BEFORE",
  requiredApprovals: 2,
  approverRoles: ["APPROVER"],
  timeoutSeconds: 86400,
  timeoutAction: "ESCALATE",
  escalateToRoles: ["ADMIN"],
  escalationTimeoutSeconds: 3600,
};

describeEachDatabase("approvals", (db) => {
  it("validates policies when saved (422 for a regex that does not compile) and versions them on edit", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey } = await seedWorkspace(database);
    const bad = await call(app, "POST", "/v1/approval-policies", {
      key: adminKey,
      body: { name: "bad", conditions: [{ field: "payload.ref", operator: "regex", value: "([A-Z" }] },
    });
    expectError(bad, 422);
    expect(JSON.stringify(bad.body.error.details)).toMatch(/does not compile/);
    expectError(
      await call(app, "POST", "/v1/approval-policies", {
        key: adminKey,
        body: { name: "x", conditions: [{ field: "payload.amount", operator: "greater_than", value: "a lot" }] },
      }),
      422,
    );
    expectError(
      await call(app, "POST", "/v1/approval-policies", {
        key: adminKey,
        body: { name: "x", timeoutSeconds: 60, timeoutAction: "ESCALATE" },
      }),
      422,
    );
    expectError(
      await call(app, "POST", "/v1/approval-policies", {
        key: adminKey,
        body: { name: "x", approverUserIds: [crypto.randomUUID()] },
      }),
      422,
    );
    expectError(
      await call(app, "POST", "/v1/approval-policies", { key: adminKey, body: { name: "x", colour: "red" } }),
      400,
    );
    expectError(
      await call(app, "POST", "/v1/approval-policies", {
        key: adminKey,
        body: { name: "x", conditions: [{ field: "amount", operator: "equals", value: 1 }] },
      }),
      400,
    );
    expectError(
      await call(app, "POST", "/v1/approval-policies", {
        key: adminKey,
        body: { name: "x", conditions: [{ field: "type", operator: "like", value: 1 }] },
      }),
      400,
    );
    expectError(await call(app, "POST", "/v1/approval-policies", { key: adminKey, raw: "{nope" }), 400);

    const created = await call(app, "POST", "/v1/approval-policies", { key: adminKey, body: INVOICE_POLICY });
    expect(created.status).toBe(201);
    expect(created.headers.get("location")).toBe(`/v1/approval-policies/${created.body.id}`);
    expect(created.body).toMatchObject({
      version: 1,
      isCurrent: true,
      requiredApprovals: 2,
      escalateToRoles: ["ADMIN"],
    });
    const key = created.body.policyKey;
    expectError(await call(app, "PATCH", `/v1/approval-policies/${key}`, { key: adminKey, body: {} }), 400);
    expectError(
      await call(app, "PATCH", `/v1/approval-policies/${key}`, {
        key: adminKey,
        body: { conditions: [{ field: "payload.ref", operator: "regex", value: "(" }] },
      }),
      422,
    );
    const edited = await call(app, "PATCH", `/v1/approval-policies/${key}`, {
      key: adminKey,
      body: { requiredApprovals: 3 },
    });
    // A new version is created: 201 with its own path, as for a workflow template's edit.
    expect(edited.status).toBe(201);
    expect(edited.headers.get("location")).toBe(`/v1/approval-policies/${edited.body.id}`);
    expect(edited.body).toMatchObject({ policyKey: key, version: 2, requiredApprovals: 3, name: "Large invoices" });
    expect(edited.body.id).not.toBe(created.body.id);
    // Addressed by what the responses return: a version's id reads that version, the policyKey the current one.
    const byId = async (id: string) => (await call(app, "GET", `/v1/approval-policies/${id}`, { key: adminKey })).body;
    expect(await byId(created.body.id)).toMatchObject({ id: created.body.id, version: 1, isCurrent: false });
    expect(await byId(edited.body.id)).toMatchObject({ id: edited.body.id, version: 2, isCurrent: true });
    expect(await byId(key)).toMatchObject({ id: edited.body.id, version: 2 });
    // Only the current version is edited (an old version's id is a 409, as for templates), by its id or the key.
    const stale = await call(app, "PATCH", `/v1/approval-policies/${created.body.id}`, {
      key: adminKey,
      body: { requiredApprovals: 1 },
    });
    expectError(stale, 409);
    expect(stale.body.error.message).toMatch(/current version/);
    const byVersionId = await call(app, "GET", `/v1/approval-policies/${created.body.id}/versions`, { key: adminKey });
    expect(byVersionId.body.items.map((v: ResponseBody) => v.version)).toEqual([2, 1]);
    const versions = await call(app, "GET", `/v1/approval-policies/${key}/versions`, { key: adminKey });
    expect(versions.body.items.map((v: ResponseBody) => [v.version, v.isCurrent, v.requiredApprovals])).toEqual([
      [2, true, 3],
      [1, false, 2],
    ]);
    const later = await call(app, "POST", "/v1/approval-policies", {
      key: adminKey,
      body: { name: "Later", itemType: "INVOICE" },
    });
    await call(app, "PATCH", `/v1/approval-policies/${key}`, { key: adminKey, body: { description: "v3" } });
    // Listed in matching order: by first creation, so an edit does not move a policy back.
    const list = await call(app, "GET", "/v1/approval-policies", { key: adminKey });
    expect(list.body.items.map((p: ResponseBody) => [p.policyKey, p.version])).toEqual([
      [key, 3],
      [later.body.policyKey, 1],
    ]);
    const disabled = await call(app, "PATCH", `/v1/approval-policies/${later.body.policyKey}`, {
      key: adminKey,
      body: { enabled: false },
    });
    expect(disabled.body).toMatchObject({ version: 2, enabled: false });
    expect(
      (await call(app, "GET", "/v1/approval-policies?includeDisabled=false", { key: adminKey })).body.items,
    ).toHaveLength(1);
    expect((await call(app, "GET", `/v1/approval-policies/${key}`, { key: adminKey })).body.version).toBe(3);
    expectError(await call(app, "GET", `/v1/approval-policies/${crypto.randomUUID()}`, { key: adminKey }), 404);
  });

  it("resolves requirements: the first current enabled policy that matches, which an item's own can only tighten", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey, workspaceId } = await seedWorkspace(database);
    const first = await call(app, "POST", "/v1/approval-policies", {
      key: adminKey,
      body: {
        name: "first",
        conditions: [{ field: "payload.region", operator: "regex", value: "^EU-" }],
        requiredApprovals: 2,
      },
    });
    const second = await call(app, "POST", "/v1/approval-policies", {
      key: adminKey,
      body: { name: "second", itemType: "INVOICE", gate: "AFTER" },
    });
    const edited = await call(app, "PATCH", `/v1/approval-policies/${first.body.policyKey}`, {
      key: adminKey,
      body: { requiredApprovals: 3 },
    });
    const resolve = () =>
      database.withTenant({ workspaceId }, (tx) =>
        resolveApprovalRequirements(tx, workspaceId, [
          { type: "INVOICE", payload: { region: "EU-West" } },
          { type: "INVOICE", payload: { region: "US" } },
          { type: "OTHER", payload: { region: "US" } },
          { type: "INVOICE", payload: { region: "EU-West" }, approval: { gate: "BEFORE", requiredApprovals: 1 } },
          { type: "OTHER", payload: { region: "US" }, approval: { gate: "BEFORE", requiredApprovals: 1 } },
        ]),
      );
    const resolved = await resolve();
    expect(resolved[0]).toMatchObject({
      policyId: edited.body.id,
      policyVersion: 2,
      requiredApprovals: 3,
      gate: "BEFORE",
    });
    expect(resolved[1]).toMatchObject({ policyId: second.body.id, policyVersion: 1, gate: "AFTER" });
    expect(resolved[2]).toBeNull();
    // A policy is a floor: the item asked for one approval, the policy's three stand.
    expect(resolved[3]).toMatchObject({
      policyId: edited.body.id,
      policyVersion: 2,
      requiredApprovals: 3,
      gate: "BEFORE",
    });
    // With no matching policy, the item's own requirement applies as it is.
    expect(resolved[4]).toEqual({ gate: "BEFORE", requiredApprovals: 1 });
    await call(app, "PATCH", `/v1/approval-policies/${first.body.policyKey}`, {
      key: adminKey,
      body: { enabled: false },
    });
    expect((await resolve())[0]).toMatchObject({ policyId: second.body.id });
  });

  it("gates matching items before they run: quorum of two, four-eyes, one decision per approver, inbox", async () => {
    const { database } = db();
    const app = testApp(database);
    const t = await team(app, database);
    const policy = await call(app, "POST", "/v1/approval-policies", { key: t.adminKey, body: INVOICE_POLICY });
    const order = await createOrder(app, t.requester.key, [
      { type: "INVOICE", payload: { amount: 1500, vendor: "ACME", lines: [1, 2] } },
      { type: "INVOICE", payload: { amount: 10 } },
    ]);
    const [gated, free] = order.items;
    expect(gated!.status).toBe("AWAITING_APPROVAL");
    expect(free!.status).toBe("QUEUED");
    expect(order.approvalRequestIds).toHaveLength(1);
    const requestId = order.approvalRequestIds[0]!;

    // Only the ungated item is claimable.
    expect((await claimAll(app, t.requester.key)).map((c) => c.id)).toEqual([free!.id]);

    const request = await call(app, "GET", `/v1/approvals/${requestId}`, { key: t.a.key });
    expect(request.body).toMatchObject({
      status: "PENDING",
      gate: "BEFORE",
      requiredApprovals: 2,
      approvalsCount: 0,
      approverRoles: ["APPROVER"],
      requestedBy: t.requester.userId,
      policyId: policy.body.id,
      policyVersion: 1,
      timeoutAction: "ESCALATE",
      item: {
        type: "INVOICE",
        orderTitle: "Pay invoices",
        payloadSummary: { amount: 1500, vendor: "ACME", lines: "[2 items]" },
      },
      decisions: [],
    });

    // Inbox: approvers see it, the requester (four-eyes) and a viewer do not.
    const inbox = await call(app, "GET", "/v1/approvals?status=PENDING&mine=true", { key: t.a.key });
    expect(inbox.status).toBe(200);
    expect(inbox.body.items.map((r: ResponseBody) => r.id)).toEqual([requestId]);
    expect(inbox.body.items[0].item.orderTitle).toBe("Pay invoices");
    expect(
      (await call(app, "GET", "/v1/approvals?status=PENDING&mine=true", { key: t.requester.key })).body.items,
    ).toEqual([]);
    expect(
      (await call(app, "GET", "/v1/approvals?status=PENDING&mine=true", { key: t.viewer.key })).body.items,
    ).toEqual([]);

    expectError(await decide(app, t.requester.key, requestId, "APPROVED"), 403);
    expectError(await decide(app, t.viewer.key, requestId, "APPROVED"), 403);
    expectError(await decide(app, t.admin.key, requestId, "APPROVED"), 403); // not an allowed role (yet)

    const first = await decide(app, t.a.key, requestId, "APPROVED", "looks right");
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ status: "PENDING", approvalsCount: 1 });
    expectError(await decide(app, t.a.key, requestId, "APPROVED"), 409);
    expectError(await decide(app, t.a.key, requestId, "REJECTED", "changed my mind"), 409);
    expect((await call(app, "GET", "/v1/approvals?status=PENDING&mine=true", { key: t.a.key })).body.items).toEqual([]);
    expect(await claimAll(app, t.requester.key)).toEqual([]);

    const second = await decide(app, t.b.key, requestId, "APPROVED");
    expect(second.status).toBe(201);
    expect(second.body).toMatchObject({ status: "APPROVED", approvalsCount: 2 });
    expect(second.body.decidedAt).not.toBeNull();
    expect(
      second.body.decisions.map((d: ResponseBody) => [
        d.actorUserId,
        d.decision,
        d.actorType,
        d.policyId,
        d.policyVersion,
      ]),
    ).toEqual([
      [t.a.userId, "APPROVED", "USER", policy.body.id, 1],
      [t.b.userId, "APPROVED", "USER", policy.body.id, 1],
    ]);
    // A decision on a closed request is refused and not recorded.
    expectError(await decide(app, t.admin.key, requestId, "REJECTED", "too late"), 409);
    expect((await call(app, "GET", `/v1/approvals/${requestId}`, { key: t.a.key })).body.decisions).toHaveLength(2);

    expect((await claimAll(app, t.requester.key)).map((c) => c.id)).toEqual([gated!.id]);
    const approved = await call(app, "GET", "/v1/approvals?status=APPROVED", { key: t.a.key });
    expect(approved.body.items.map((r: ResponseBody) => r.id)).toEqual([requestId]);

    // Editing the policy: old requests keep version 1, new ones get version 2.
    await call(app, "PATCH", `/v1/approval-policies/${policy.body.policyKey}`, {
      key: t.adminKey,
      body: { requiredApprovals: 1 },
    });
    const next = await createOrder(app, t.requester.key, [{ type: "INVOICE", payload: { amount: 5000 } }]);
    const nextRequest = await call(app, "GET", `/v1/approvals/${next.approvalRequestIds[0]}`, { key: t.a.key });
    expect(nextRequest.body).toMatchObject({ policyVersion: 2, requiredApprovals: 1 });
    expect((await call(app, "GET", `/v1/approvals/${requestId}`, { key: t.a.key })).body.policyVersion).toBe(1);
  });

  it("rejecting a before-gate cancels the item and the order follows", async () => {
    const { database } = db();
    const app = testApp(database);
    const t = await team(app, database);
    const order = await createOrder(app, t.requester.key, [
      { type: "WIRE", payload: { to: "x" }, approval: { gate: "BEFORE" } },
    ]);
    const requestId = order.approvalRequestIds[0]!;
    const detail = await call(app, "GET", `/v1/approvals/${requestId}`, { key: t.a.key });
    expect(detail.body).toMatchObject({
      policyId: null,
      approverRoles: ["OWNER", "ADMIN", "APPROVER"],
      deadline: null,
    });
    expectError(await decide(app, t.a.key, requestId, "REJECTED"), 400); // a rejection needs a reason
    const rejected = await decide(app, t.a.key, requestId, "REJECTED", "unknown payee");
    expect(rejected.body.status).toBe("REJECTED");
    const after = await itemStatus(app, t.requester.key, order.id);
    expect(after.items[0]!.status).toBe("CANCELLED");
    expect(after.status).toBe("CANCELLED");
    expect(await claimAll(app, t.requester.key)).toEqual([]);
  });

  it("after-gates: approval completes, rejection fails to a dead letter or requeues for rework", async () => {
    const { database } = db();
    const app = testApp(database);
    const t = await team(app, database);
    const order = await createOrder(app, t.requester.key, [
      { type: "REPORT", payload: { n: 1 }, approval: { gate: "AFTER", approverUserIds: [t.b.userId] } },
      { type: "REPORT", payload: { n: 2 }, approval: { gate: "AFTER", onReject: "FAIL" } },
      { type: "REPORT", payload: { n: 3 }, approval: { gate: "AFTER", onReject: "REWORK" } },
    ]);
    expect(order.items.map((i) => i.status)).toEqual(["QUEUED", "QUEUED", "QUEUED"]);
    expect(order.approvalRequestIds).toEqual([]);
    const claimed = await claimAll(app, t.requester.key);
    expect(claimed).toHaveLength(3);
    const requestOf = new Map<string, string>();
    for (const c of claimed) {
      const done = await call(app, "POST", `/v1/work-items/${c.id}/complete`, {
        key: t.requester.key,
        body: { attemptId: c.attemptId, fencingToken: c.fencingToken, result: { ok: c.id } },
      });
      expect(done.status, JSON.stringify(done.body)).toBe(200);
      const list = await call(app, "GET", `/v1/approvals?workItemId=${c.id}`, { key: t.a.key });
      expect(list.body.items).toHaveLength(1);
      expect(list.body.items[0]).toMatchObject({
        gate: "AFTER",
        status: "PENDING",
        item: { status: "AWAITING_APPROVAL" },
      });
      requestOf.set(c.id, list.body.items[0].id);
    }
    const [one, two, three] = order.items.map((i) => requestOf.get(i.id)!);

    // Only the named user may decide the first.
    expectError(await decide(app, t.a.key, one!, "APPROVED"), 403);
    expect((await decide(app, t.b.key, one!, "APPROVED")).body.status).toBe("APPROVED");
    expect((await decide(app, t.a.key, two!, "REJECTED", "wrong numbers")).body.status).toBe("REJECTED");
    expect((await decide(app, t.a.key, three!, "REJECTED", "redo the chart")).body.status).toBe("REJECTED");

    const after = await itemStatus(app, t.requester.key, order.id);
    expect(after.items.map((i) => i.status)).toEqual(["COMPLETED", "FAILED", "QUEUED"]);
    const dead = await database.withTenant({ workspaceId: t.workspaceId }, (tx) =>
      tx.select().from(deadLetters).where(eq(deadLetters.workItemId, order.items[1]!.id)),
    );
    expect(dead).toHaveLength(1);
    expect(dead[0]!.reason).toMatch(/wrong numbers/);

    // Rework: claimed again, completed again, a new review request.
    const again = await claimAll(app, t.requester.key);
    expect(again.map((c) => c.id)).toEqual([order.items[2]!.id]);
    await call(app, "POST", `/v1/work-items/${again[0]!.id}/complete`, {
      key: t.requester.key,
      body: { attemptId: again[0]!.attemptId, fencingToken: again[0]!.fencingToken, result: { redone: true } },
    });
    const reviews = await call(app, "GET", `/v1/approvals?workItemId=${order.items[2]!.id}&status=PENDING`, {
      key: t.a.key,
    });
    expect(reviews.body.items).toHaveLength(1);
    expect((await decide(app, t.a.key, reviews.body.items[0].id, "APPROVED")).body.status).toBe("APPROVED");
    const finished = await itemStatus(app, t.requester.key, order.id);
    expect(finished.items.map((i) => i.status)).toEqual(["COMPLETED", "FAILED", "COMPLETED"]);
    expect(finished.status).toBe("FAILED");
  });

  it("deadlines: soft approves, hard rejects, escalation hands over with a new deadline", async () => {
    const { database } = db();
    const app = testApp(database);
    const t = await team(app, database);
    const order = await createOrder(app, t.requester.key, [
      { type: "SOFT", payload: {}, approval: { gate: "BEFORE", timeoutSeconds: 60, timeoutAction: "APPROVE" } },
      { type: "HARD", payload: {}, approval: { gate: "BEFORE", timeoutSeconds: 60, timeoutAction: "REJECT" } },
      {
        type: "ESC",
        payload: {},
        approval: {
          gate: "BEFORE",
          approverRoles: ["APPROVER"],
          timeoutSeconds: 60,
          timeoutAction: "ESCALATE",
          escalateToRoles: ["ADMIN"],
          escalationTimeoutSeconds: 600,
        },
      },
    ]);
    const [soft, hard, esc] = order.approvalRequestIds as [string, string, string];

    // Nothing is due yet.
    await sweepApprovalDeadlines(database, new Date());
    for (const id of [soft, hard, esc])
      expect((await call(app, "GET", `/v1/approvals/${id}`, { key: t.a.key })).body.status).toBe("PENDING");

    const later = new Date(Date.now() + 120_000);
    const counts = await sweepApprovalDeadlines(database, later);
    expect(counts.approved).toBeGreaterThanOrEqual(1);
    expect(counts.rejected).toBeGreaterThanOrEqual(1);
    expect(counts.escalated).toBeGreaterThanOrEqual(1);

    const softView = (await call(app, "GET", `/v1/approvals/${soft}`, { key: t.a.key })).body;
    expect(softView.status).toBe("APPROVED");
    expect(softView.decisions).toEqual([
      expect.objectContaining({ actorType: "SYSTEM", actorUserId: null, decision: "APPROVED" }),
    ]);
    expect((await call(app, "GET", `/v1/approvals/${hard}`, { key: t.a.key })).body.status).toBe("REJECTED");
    const escView = (await call(app, "GET", `/v1/approvals/${esc}`, { key: t.a.key })).body;
    expect(escView).toMatchObject({
      status: "PENDING",
      approverRoles: ["ADMIN"],
      escalationLevel: 1,
      timeoutAction: "REJECT",
    });
    expect(new Date(escView.deadline).getTime()).toBe(later.getTime() + 600_000);
    expect(escView.decisions).toEqual([expect.objectContaining({ actorType: "SYSTEM", decision: "ESCALATED" })]);

    const items = await itemStatus(app, t.requester.key, order.id);
    expect(items.items.map((i) => i.status)).toEqual(["QUEUED", "CANCELLED", "AWAITING_APPROVAL"]);

    // After escalation the approvers are the admins; the admin's inbox has it.
    expectError(await decide(app, t.a.key, esc, "APPROVED"), 403);
    expect(
      (await call(app, "GET", "/v1/approvals?mine=true", { key: t.admin.key })).body.items.map(
        (r: ResponseBody) => r.id,
      ),
    ).toEqual([esc]);

    // Ignored again past the new deadline: rejected; a late decision is a 409.
    await sweepApprovalDeadlines(database, new Date(later.getTime() + 601_000));
    const final = (await call(app, "GET", `/v1/approvals/${esc}`, { key: t.a.key })).body;
    expect(final.status).toBe("REJECTED");
    expect(final.decisions.map((d: ResponseBody) => d.decision)).toEqual(["ESCALATED", "REJECTED"]);
    expectError(await decide(app, t.admin.key, esc, "APPROVED"), 409);
    expect((await itemStatus(app, t.requester.key, order.id)).items[2]!.status).toBe("CANCELLED");
  });

  it("one clock: a request's decidedAt is its closing decision's createdAt, for people and for deadlines", async () => {
    const { database } = db();
    const app = testApp(database);
    const t = await team(app, database);
    const order = await createOrder(app, t.requester.key, [
      { type: "OK", payload: {}, approval: { gate: "BEFORE", approverRoles: ["APPROVER"] } },
      { type: "NO", payload: {}, approval: { gate: "BEFORE", approverRoles: ["APPROVER"] } },
      { type: "LATE", payload: {}, approval: { gate: "BEFORE", timeoutSeconds: 60, timeoutAction: "REJECT" } },
      {
        type: "ESC",
        payload: {},
        approval: {
          gate: "BEFORE",
          approverRoles: ["APPROVER"],
          escalateToRoles: ["ADMIN"],
          escalationTimeoutSeconds: 600,
        },
      },
    ]);
    const [ok, no, late, esc] = order.approvalRequestIds as [string, string, string, string];
    const approved = await decide(app, t.a.key, ok, "APPROVED");
    const rejected = await decide(app, t.a.key, no, "REJECTED", "not this one");
    await sweepApprovalDeadlines(database, new Date(Date.now() + 120_000));
    const timedOut = await call(app, "GET", `/v1/approvals/${late}`, { key: t.a.key });
    for (const [view, status] of [
      [approved, "APPROVED"],
      [rejected, "REJECTED"],
      [timedOut, "REJECTED"],
    ] as const) {
      expect(view.body.status).toBe(status);
      expect(view.body.decidedAt).toBe(view.body.decisions.at(-1).createdAt);
    }
    // To the microsecond, in the database: both come from its clock, in the same transaction.
    const closed = await rows<{ id: string; same: boolean }>(
      database.db,
      sql`select r.id, r.decided_at = (select max(e.created_at) from approval_events e where e.request_id = r.id) as same
          from approval_requests r where r.id in (${ok}::uuid, ${no}::uuid, ${late}::uuid)`,
    );
    expect(closed.map((row) => row.same)).toEqual([true, true, true]);

    // An escalation's new deadline counts from the escalating decision.
    const escalated = await decide(app, t.a.key, esc, "ESCALATED", "above my limit");
    expect(escalated.body.status).toBe("PENDING");
    expect(new Date(escalated.body.deadline).getTime()).toBe(
      new Date(escalated.body.decisions[0].createdAt).getTime() + 600_000,
    );
  });

  it("a manual escalation hands the request to the escalation roles", async () => {
    const { database } = db();
    const app = testApp(database);
    const t = await team(app, database);
    const order = await createOrder(app, t.requester.key, [
      {
        type: "ESC",
        payload: {},
        approval: { gate: "BEFORE", approverRoles: ["APPROVER"], escalateToRoles: ["ADMIN"] },
      },
      { type: "NOESC", payload: {}, approval: { gate: "BEFORE", approverRoles: ["APPROVER"] } },
    ]);
    const [esc, noesc] = order.approvalRequestIds as [string, string];
    expectError(await decide(app, t.a.key, noesc, "ESCALATED", "not mine"), 422);
    const escalated = await decide(app, t.a.key, esc, "ESCALATED", "above my limit");
    expect(escalated.body).toMatchObject({ status: "PENDING", approverRoles: ["ADMIN"], escalationLevel: 1 });
    expectError(await decide(app, t.b.key, esc, "APPROVED"), 403);
    const done = await decide(app, t.admin.key, esc, "APPROVED");
    expect(done.body.status).toBe("APPROVED");
    expect(done.body.decisions.map((d: ResponseBody) => [d.actorUserId, d.decision])).toEqual([
      [t.a.userId, "ESCALATED"],
      [t.admin.userId, "APPROVED"],
    ]);
  });

  it("concurrent decisions: one outcome, no lost votes, the log in order", async () => {
    const { database } = db();
    const app = testApp(database);
    const t = await team(app, database);
    const rounds = 4;
    const order = await createOrder(app, t.requester.key, [
      ...Array.from({ length: rounds }, (_, n) => ({
        type: "Q1",
        payload: { n },
        approval: { gate: "BEFORE", approverRoles: ["APPROVER"] },
      })),
      ...Array.from({ length: rounds }, (_, n) => ({
        type: "Q2",
        payload: { n },
        approval: { gate: "BEFORE", requiredApprovals: 2, approverRoles: ["APPROVER"] },
      })),
    ]);
    const ids = order.approvalRequestIds;
    const q1 = ids.slice(0, rounds);
    const q2 = ids.slice(rounds);

    // Quorum 1, approve and reject at once: exactly one wins; the loser is a 409 and not logged.
    await Promise.all(
      q1.map(async (id) => {
        const [approve, reject] = await Promise.all([
          decide(app, t.a.key, id, "APPROVED"),
          decide(app, t.b.key, id, "REJECTED", "no"),
        ]);
        expect([approve.status, reject.status].sort()).toEqual([201, 409]);
        const view = (await call(app, "GET", `/v1/approvals/${id}`, { key: t.a.key })).body;
        const winner = approve.status === 201 ? "APPROVED" : "REJECTED";
        expect(view.status).toBe(winner);
        expect(view.decisions.map((d: ResponseBody) => d.decision)).toEqual([winner]);
      }),
    );

    // Quorum 2, approve and reject at once: always REJECTED; the approval is logged (before the
    // rejection) if it came first, and refused with 409 if it came second.
    await Promise.all(
      q2.map(async (id) => {
        const [approve, reject] = await Promise.all([
          decide(app, t.a.key, id, "APPROVED"),
          decide(app, t.b.key, id, "REJECTED", "no"),
        ]);
        expect(reject.status).toBe(201);
        const view = (await call(app, "GET", `/v1/approvals/${id}`, { key: t.a.key })).body;
        expect(view.status).toBe("REJECTED");
        expect(view.decisions.map((d: ResponseBody) => d.decision)).toEqual(
          approve.status === 201 ? ["APPROVED", "REJECTED"] : ["REJECTED"],
        );
        if (approve.status !== 201) expect(approve.status).toBe(409);
        const times = view.decisions.map((d: ResponseBody) => new Date(d.createdAt).getTime());
        expect([...times].sort((x, y) => x - y)).toEqual(times);
      }),
    );

    // Quorum 2, two approvals at once: both count, approved exactly once.
    const both = await createOrder(app, t.requester.key, [
      { type: "Q2", payload: {}, approval: { gate: "BEFORE", requiredApprovals: 2, approverRoles: ["APPROVER"] } },
    ]);
    const id = both.approvalRequestIds[0]!;
    const results = await Promise.all([decide(app, t.a.key, id, "APPROVED"), decide(app, t.b.key, id, "APPROVED")]);
    expect(results.map((r) => r.status)).toEqual([201, 201]);
    const view = (await call(app, "GET", `/v1/approvals/${id}`, { key: t.a.key })).body;
    expect(view).toMatchObject({ status: "APPROVED", approvalsCount: 2 });
    expect(view.decisions).toHaveLength(2);
    const activity = await database.withTenant({ workspaceId: t.workspaceId }, (tx) =>
      rows<{ n: number }>(
        tx,
        sql`select count(*)::int as n from activity_log where entity_id = ${both.items[0]!.id} and action = 'work_item.requeued'`,
      ),
    );
    expect(activity[0]!.n).toBe(1); // the item was released once

    // The same approver twice at once: one vote.
    const twice = await createOrder(app, t.requester.key, [
      { type: "Q2", payload: {}, approval: { gate: "BEFORE", requiredApprovals: 2, approverRoles: ["APPROVER"] } },
    ]);
    const tid = twice.approvalRequestIds[0]!;
    const dup = await Promise.all([decide(app, t.a.key, tid, "APPROVED"), decide(app, t.a.key, tid, "APPROVED")]);
    expect(dup.map((r) => r.status).sort()).toEqual([201, 409]);
    expect((await call(app, "GET", `/v1/approvals/${tid}`, { key: t.a.key })).body).toMatchObject({
      status: "PENDING",
      approvalsCount: 1,
    });
  });

  it("keeps approval_events append-only for cairn_app", async () => {
    const { database } = db();
    const app = testApp(database);
    const t = await team(app, database);
    const order = await createOrder(app, t.requester.key, [{ type: "X", payload: {}, approval: { gate: "BEFORE" } }]);
    await decide(app, t.a.key, order.approvalRequestIds[0]!, "APPROVED", "fine");
    const [event] = await database.withTenant({ workspaceId: t.workspaceId }, (tx) =>
      tx.select().from(approvalEvents).where(eq(approvalEvents.requestId, order.approvalRequestIds[0]!)),
    );
    expect(event).toBeDefined();
    expect(
      await databaseError(
        database.withTenant({ workspaceId: t.workspaceId }, (tx) =>
          tx.update(approvalEvents).set({ decision: "REJECTED" }).where(eq(approvalEvents.id, event!.id)),
        ),
      ),
    ).toMatch(/permission denied|append-only/);
    expect(
      await databaseError(
        database.withTenant({ workspaceId: t.workspaceId }, (tx) =>
          tx.delete(approvalEvents).where(eq(approvalEvents.id, event!.id)),
        ),
      ),
    ).toMatch(/permission denied|append-only/);
    const [kept] = await database.db.select().from(approvalEvents).where(eq(approvalEvents.id, event!.id));
    expect(kept).toMatchObject({ decision: "APPROVED", reason: "fine" });
  });

  it("another workspace's ids are 404; bad input is a 4xx with the error shape; scopes are enforced", async () => {
    const { database } = db();
    const app = testApp(database);
    const t = await team(app, database);
    const other = await seedWorkspace(database, "other");
    const order = await createOrder(app, t.requester.key, [{ type: "X", payload: {}, approval: { gate: "BEFORE" } }]);
    const id = order.approvalRequestIds[0]!;
    const policy = await call(app, "POST", "/v1/approval-policies", { key: t.adminKey, body: { name: "p" } });

    expectError(await call(app, "GET", `/v1/approvals/${id}`, { key: other.adminKey }), 404);
    expectError(await decide(app, other.adminKey, id, "APPROVED"), 404);
    expectError(await call(app, "GET", `/v1/approval-policies/${policy.body.policyKey}`, { key: other.adminKey }), 404);
    expectError(
      await call(app, "PATCH", `/v1/approval-policies/${policy.body.policyKey}`, {
        key: other.adminKey,
        body: { name: "mine" },
      }),
      404,
    );
    expect((await call(app, "GET", "/v1/approvals", { key: other.adminKey })).body.items).toEqual([]);

    expectError(await call(app, "GET", "/v1/approvals/not-a-uuid", { key: t.a.key }), 400);
    expectError(await decide(app, t.a.key, id, "MAYBE"), 400);
    expectError(
      await call(app, "POST", `/v1/approvals/${id}/decisions`, {
        key: t.a.key,
        body: { decision: "APPROVED", extra: 1 },
      }),
      400,
    );
    expectError(await call(app, "POST", `/v1/approvals/${id}/decisions`, { key: t.a.key, raw: "{" }), 400);
    expectError(await call(app, "GET", "/v1/approvals?status=OPEN", { key: t.a.key }), 400);
    expectError(await call(app, "GET", "/v1/approvals?cursor=garbage", { key: t.a.key }), 400);
    expectError(await decide(app, t.a.key, crypto.randomUUID(), "APPROVED"), 404);

    const readOnly = await member(app, t.adminKey, "APPROVER", ["approvals:read"]);
    expectError(await decide(app, readOnly.key, id, "APPROVED"), 403);
    expectError(await call(app, "POST", "/v1/approval-policies", { key: readOnly.key, body: { name: "p" } }), 403);
    expectError(
      await call(app, "GET", "/v1/approvals", { key: (await member(app, t.adminKey, "APPROVER", ["work:read"])).key }),
      403,
    );
  });

  it("inbox pages by deadline, oldest first, with no deadline last", async () => {
    const { database } = db();
    const app = testApp(database);
    const t = await team(app, database);
    const order = await createOrder(app, t.requester.key, [
      { type: "A", payload: {}, approval: { gate: "BEFORE", timeoutSeconds: 3000 } },
      { type: "B", payload: {}, approval: { gate: "BEFORE" } },
      { type: "C", payload: {}, approval: { gate: "BEFORE", timeoutSeconds: 1000 } },
      { type: "D", payload: {}, approval: { gate: "BEFORE", timeoutSeconds: 2000 } },
    ]);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: Array<{ item: { type: string } }>; nextCursor: string | null } } = await call(
        app,
        "GET",
        `/v1/approvals?mine=true&status=PENDING&limit=1${cursor ? `&cursor=${cursor}` : ""}`,
        { key: t.a.key },
      );
      seen.push(...page.body.items.map((r) => r.item.type));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(["C", "D", "A", "B"]);
    expect(order.approvalRequestIds).toHaveLength(4);
  });

  describeWebhooks(db);
});

/** Webhook notifications against a local receiver (a private address, allowed here as `npm start` does). */
function describeWebhooks(db: () => { database: Database }) {
  let server: Server;
  let url = "";
  let failing = false;
  const received: Array<{ headers: IncomingMessage["headers"]; body: string }> = [];
  beforeAll(async () => {
    process.env[PRIVATE_ADDRESSES_ENV] = "allow";
    server = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk) => (body += chunk));
      request.on("end", () => {
        received.push({ headers: request.headers, body });
        response.statusCode = failing ? 500 : 204;
        response.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/cairn`;
  });
  afterAll(async () => {
    delete process.env[PRIVATE_ADDRESSES_ENV];
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function hooked(database: Database, app: Router) {
    const t = await team(app, database);
    const secret = `whsec_${Math.random().toString(36).slice(2)}`;
    const [connector] = await database.withTenant({ workspaceId: t.workspaceId }, (tx) =>
      tx
        .insert(connectors)
        .values({
          workspaceId: t.workspaceId,
          name: "approvals hook",
          type: "API",
          webhookUrl: url,
          signingSecret: secret,
        })
        .returning(),
    );
    return { t, secret, connectorId: connector!.id };
  }

  /** The workspace's one approval-webhook job. */
  async function webhookJob(database: Database, workspaceId: string) {
    const jobs = await database.withTenant({ workspaceId }, (tx) =>
      tx
        .select()
        .from(processingJobs)
        .where(and(eq(processingJobs.workspaceId, workspaceId), eq(processingJobs.jobType, "approval_webhook"))),
    );
    return jobs[0]!;
  }

  it("notifies an API connector's webhook, signed, after the request commits", async () => {
    const { database } = db();
    const app = testApp(database);
    const { t, secret, connectorId } = await hooked(database, app);
    failing = false;
    received.length = 0;
    const order = await createOrder(app, t.requester.key, [
      { type: "INVOICE", payload: { amount: 42 }, approval: { gate: "BEFORE", timeoutSeconds: 600 } },
    ]);
    const requestId = order.approvalRequestIds[0]!;
    expect(received).toHaveLength(1);
    const { headers, body } = received[0]!;
    const timestamp = headers["x-cairn-timestamp"] as string;
    const expected = `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
    expect(headers["x-cairn-signature"]).toBe(expected);
    expect(Math.abs(Date.now() / 1000 - Number(timestamp))).toBeLessThan(60);
    const payload = JSON.parse(body);
    expect(payload).toMatchObject({
      type: "approval.requested",
      workspaceId: t.workspaceId,
      request: { id: requestId, gate: "BEFORE", status: "PENDING", requestedBy: t.requester.userId },
      item: { id: order.items[0]!.id, type: "INVOICE", orderTitle: "Pay invoices", payloadSummary: { amount: 42 } },
    });
    const jobs = await database.withTenant({ workspaceId: t.workspaceId }, (tx) =>
      tx.select().from(processingJobs).where(eq(processingJobs.workspaceId, t.workspaceId)),
    );
    expect(jobs).toEqual([
      expect.objectContaining({
        jobType: "approval_webhook",
        status: "COMPLETED",
        attempts: 1,
        inputData: { requestId, connectorId },
      }),
    ]);
    // A tampered body does not verify.
    expect(
      createHmac("sha256", secret)
        .update(`${timestamp}.${body.replace("42", "43")}`)
        .digest("hex"),
    ).not.toBe(expected.slice(7));
  });

  it("refuses a receiver at a private address unless the deployment allows it", async () => {
    const { database } = db();
    const app = testApp(database);
    const { t } = await hooked(database, app);
    failing = false;
    received.length = 0;
    delete process.env[PRIVATE_ADDRESSES_ENV];
    try {
      await createOrder(app, t.requester.key, [{ type: "INVOICE", payload: {}, approval: { gate: "BEFORE" } }]);
    } finally {
      process.env[PRIVATE_ADDRESSES_ENV] = "allow";
    }
    expect(received).toEqual([]);
    const job = await webhookJob(database, t.workspaceId);
    // A failed attempt like any other: kept, retried later, the reason recorded.
    expect(job).toMatchObject({
      status: "PENDING",
      attempts: 1,
      error: expect.stringMatching(/127\.0\.0\.1 is not a public address/),
    });
    // Allowed, the retry reaches the receiver.
    await deliverPendingNotifications(database, new Date(Date.now() + 2 * 3600_000));
    expect(received).toHaveLength(1);
  });

  it("retries a failing receiver with backoff and ends in a dead letter, never losing the request", async () => {
    const { database } = db();
    const app = testApp(database);
    const { t } = await hooked(database, app);
    failing = true;
    received.length = 0;
    const order = await createOrder(app, t.requester.key, [
      { type: "INVOICE", payload: {}, approval: { gate: "BEFORE" } },
    ]);
    const requestId = order.approvalRequestIds[0]!;
    expect(received).toHaveLength(1);
    const job = () => webhookJob(database, t.workspaceId);
    let current = await job();
    expect(current).toMatchObject({ status: "PENDING", attempts: 1, error: "HTTP 500" });
    expect(current.availableAt.getTime()).toBeGreaterThan(Date.now());

    // Not due yet: nothing is sent.
    await deliverPendingNotifications(database, new Date());
    expect(received).toHaveLength(1);

    let now = Date.now();
    for (let attempt = 2; attempt <= WEBHOOK_MAX_ATTEMPTS; attempt++) {
      now += 2 * 3600_000;
      await deliverPendingNotifications(database, new Date(now));
      current = await job();
      expect(current.attempts).toBe(attempt);
    }
    expect(received).toHaveLength(WEBHOOK_MAX_ATTEMPTS);
    expect(current).toMatchObject({ status: "FAILED" });
    expect((current.outputData as { errors: unknown[] }).errors).toHaveLength(WEBHOOK_MAX_ATTEMPTS);
    const dead = await database.withTenant({ workspaceId: t.workspaceId }, (tx) =>
      tx
        .select()
        .from(deadLetters)
        .where(and(eq(deadLetters.workspaceId, t.workspaceId), eq(deadLetters.source, "webhook"))),
    );
    expect(dead).toHaveLength(1);
    expect(dead[0]!.payload).toMatchObject({ jobId: current.id, requestId });
    expect(dead[0]!.errors).toHaveLength(WEBHOOK_MAX_ATTEMPTS);
    // Exhausted: further runs send nothing more.
    await deliverPendingNotifications(database, new Date(now + 24 * 3600_000));
    expect(received).toHaveLength(WEBHOOK_MAX_ATTEMPTS);

    // A redrive gives the notification a fresh budget; a healthy receiver then gets it.
    failing = false;
    const redriven = await database.withTenant({ workspaceId: t.workspaceId }, (tx) =>
      redriveJobDeadLetter(tx, systemActor(t.workspaceId, "test"), dead[0]!.id, [webhookDeliveryHandler]),
    );
    expect(redriven?.jobId).toBe(current.id);
    await deliverPendingNotifications(database, new Date(now + 25 * 3600_000));
    expect(received).toHaveLength(WEBHOOK_MAX_ATTEMPTS + 1);
    expect(await job()).toMatchObject({ status: "COMPLETED", attempts: 1 });

    // The request itself is untouched by the delivery failures.
    const [request] = await database.withTenant({ workspaceId: t.workspaceId }, (tx) =>
      tx.select().from(approvalRequests).where(eq(approvalRequests.id, requestId)),
    );
    expect(request!.status).toBe("PENDING");
    failing = false;
  });
}
