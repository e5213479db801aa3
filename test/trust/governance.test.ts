/**
 * The trust findings (governance), each tried the way an attacker holding ordinary keys would:
 * 1 a policy is a floor; 2 redrive re-runs the gates; 3 a decision is a person's; 4 roles bind
 * keys on every request; 5 no self-lockout; 6 no cross-tenant directory.
 */
import { sql } from "drizzle-orm";
import { expect, it } from "vitest";
import { type Database, rows } from "../../db/client";
import { sweepApprovalDeadlines } from "../../functions/approvals/deadlines";
import type { Router } from "../../functions/shared/app";
import { describeEachDatabase } from "../support/databases";
import { call, type ResponseBody, seedWorkspace, testApp } from "../support/http";
import { invitePerson } from "../support/people";

/** "Payments over 1,000 need 2 OWNER approvals." */
const PAYMENT_POLICY = {
  name: "Large payments",
  itemType: "PAYMENT",
  conditions: [{ field: "payload.amount", operator: "greater_than", value: 1000 }],
  requiredApprovals: 2,
  approverRoles: ["OWNER"],
};

const WORKER = ["work:read", "work:write"];

async function workspaceWithPolicy(database: Database, app: Router) {
  const ws = await seedWorkspace(database, "trust");
  const policy = await call(app, "POST", "/v1/approval-policies", { key: ws.adminKey, body: PAYMENT_POLICY });
  expect(policy.status).toBe(201);
  const worker = await invitePerson(app, ws.adminKey, { role: "MEMBER", scopes: WORKER });
  return { ...ws, policy: policy.body, worker };
}

async function createOrder(app: Router, key: string, items: unknown[]) {
  return call(app, "POST", "/v1/work-orders", { key, body: { title: "payments", items } });
}

async function claimAll(app: Router, key: string) {
  const claimed = await call(app, "POST", "/v1/work-items/claim", { key, body: { workerId: "w", limit: 50 } });
  expect(claimed.status).toBe(200);
  return claimed.body.items as Array<{ id: string; attemptId: string; fencingToken: string; payload: ResponseBody }>;
}

/** A PAYMENT item that ran once and failed for good: its dead letter. */
async function deadPayment(app: Router, key: string, amount: number) {
  const order = await createOrder(app, key, [{ type: "PAYMENT", payload: { amount }, maxAttempts: 1 }]);
  expect(order.status, JSON.stringify(order.body)).toBe(201);
  const [claimed] = await claimAll(app, key);
  expect(claimed?.id).toBe(order.body.items[0].id);
  const failed = await call(app, "POST", `/v1/work-items/${claimed?.id}/fail`, {
    key,
    body: { attemptId: claimed?.attemptId, fencingToken: claimed?.fencingToken, error: "bank said no" },
  });
  expect(failed.body.status).toBe("FAILED");
  return { itemId: order.body.items[0].id as string, deadLetterId: failed.body.deadLetterId as string };
}

describeEachDatabase("trust: governance that cannot be walked around", (db) => {
  it("1. a policy is a floor: an item's own requirement can only tighten it, and setting one needs approvals:write", async () => {
    const { database } = db();
    const app = testApp(database);
    const ws = await workspaceWithPolicy(database, app);
    const attack = {
      type: "PAYMENT",
      payload: { amount: 5000 },
      approval: { gate: "BEFORE", approverRoles: ["VIEWER"], timeoutSeconds: 1, timeoutAction: "APPROVE" },
    };
    // With only work:write, no own requirement at all.
    const byWorker = await createOrder(app, ws.worker.key, [attack]);
    expect(byWorker.status).toBe(403);
    expect(byWorker.body.error.message).toMatch(/approvals:write/);
    // A template step is the same requirement: setting it needs approvals:write too.
    const template = await call(app, "POST", "/v1/workflow-templates", {
      key: ws.worker.key,
      body: { name: "sneaky", steps: [{ type: attack.type, approval: attack.approval }] },
    });
    expect(template.status).toBe(403);
    // Even with approvals:write, approvers outside the policy are refused.
    const byAdmin = await createOrder(app, ws.adminKey, [attack]);
    expect(byAdmin.status).toBe(422);
    expect(JSON.stringify(byAdmin.body.error.details)).toMatch(/VIEWER/);
    // An auto-APPROVE the policy does not have never applies: the stricter action (REJECT) does,
    // with the policy's quorum and approvers.
    const tightened = await createOrder(app, ws.adminKey, [
      {
        type: "PAYMENT",
        payload: { amount: 5000 },
        approval: { gate: "BEFORE", requiredApprovals: 3, timeoutSeconds: 1, timeoutAction: "APPROVE" },
      },
    ]);
    expect(tightened.status).toBe(201);
    const item = tightened.body.items[0];
    expect(item.status).toBe("AWAITING_APPROVAL");
    expect(item.approval).toMatchObject({
      policyId: ws.policy.id,
      requiredApprovals: 3,
      approverRoles: ["OWNER"],
      timeoutAction: "REJECT",
    });
    // The deadline passes: the sweeper rejects it; it never runs.
    await sweepApprovalDeadlines(database, new Date(Date.now() + 60_000));
    const after = await call(app, "GET", `/v1/work-items/${item.id}`, { key: ws.adminKey });
    expect(after.body.status).toBe("CANCELLED");
    expect(await claimAll(app, ws.adminKey)).toEqual([]);
  });

  it("1b. a policy whose stored pattern can no longer run fails closed: its items wait for approval", async () => {
    const { database } = db();
    const app = testApp(database);
    const ws = await seedWorkspace(database, "trust");
    const policy = await call(app, "POST", "/v1/approval-policies", {
      key: ws.adminKey,
      body: {
        name: "Sanctioned countries",
        itemType: "WIRE",
        conditions: [{ field: "payload.country", operator: "regex", value: "^(KP|IR)$" }],
      },
    });
    expect(policy.status).toBe(201);
    // Saved before the linear-time engine, with a lookahead it refuses now (only SQL can write this).
    await database.withTenant({ workspaceId: ws.workspaceId }, (tx) =>
      tx.execute(
        sql`update approval_policies set conditions = ${JSON.stringify([
          { field: "payload.country", operator: "regex", value: "^(?=K)KP$" },
        ])}::jsonb where id = ${policy.body.id}`,
      ),
    );
    const order = await createOrder(app, ws.adminKey, [{ type: "WIRE", payload: { country: "FR" } }]);
    expect(order.status).toBe(201);
    expect(order.body.items[0]).toMatchObject({ status: "AWAITING_APPROVAL", approval: { policyId: policy.body.id } });
  });

  it("2. a redrive re-runs the gates: an edited payload is gated like a new item's; an old approval never covers it", async () => {
    const { database } = db();
    const app = testApp(database);
    const ws = await workspaceWithPolicy(database, app);
    // 10 needs no approval; it fails; the worker redrives it as 5,000,000.
    const { itemId, deadLetterId } = await deadPayment(app, ws.worker.key, 10);
    const redriven = await call(app, "POST", `/v1/dead-letters/${deadLetterId}/redrive`, {
      key: ws.worker.key,
      body: { payload: { amount: 5_000_000 } },
    });
    expect(redriven.status).toBe(200);
    expect(redriven.body).toMatchObject({ itemStatus: "AWAITING_APPROVAL", approvalRequestId: expect.any(String) });
    expect(await claimAll(app, ws.worker.key)).toEqual([]);
    const request = await call(app, "GET", `/v1/approvals/${redriven.body.approvalRequestId}`, { key: ws.adminKey });
    expect(request.body).toMatchObject({ workItemId: itemId, requiredApprovals: 2, policyId: ws.policy.id });
    // The person who redrove it asked for it: four-eyes applies to them.
    expect(request.body.requestedBy).toBe(ws.worker.userId);

    // Approved for one payload, the item runs and fails again; a redrive with the same payload
    // needs no new approval, a redrive with another does.
    const owners = await Promise.all(
      [1, 2].map(() =>
        invitePerson(app, ws.adminKey, { role: "OWNER", scopes: ["approvals:read", "approvals:decide"] }),
      ),
    );
    for (const owner of owners) {
      const decided = await call(app, "POST", `/v1/approvals/${redriven.body.approvalRequestId}/decisions`, {
        key: owner.key,
        body: { decision: "APPROVED" },
      });
      expect(decided.status, JSON.stringify(decided.body)).toBe(201);
    }
    const [claimed] = await claimAll(app, ws.worker.key);
    expect(claimed?.payload).toEqual({ amount: 5_000_000 });
    const failedAgain = await call(app, "POST", `/v1/work-items/${itemId}/fail`, {
      key: ws.worker.key,
      body: { attemptId: claimed?.attemptId, fencingToken: claimed?.fencingToken, error: "again", retryable: false },
    });
    const same = await call(app, "POST", `/v1/dead-letters/${failedAgain.body.deadLetterId}/redrive`, {
      key: ws.worker.key,
    });
    expect(same.body).toMatchObject({ itemStatus: "QUEUED", approvalRequestId: null });
    const [again] = await claimAll(app, ws.worker.key);
    const thirdFailure = await call(app, "POST", `/v1/work-items/${itemId}/fail`, {
      key: ws.worker.key,
      body: { attemptId: again?.attemptId, fencingToken: again?.fencingToken, error: "third", retryable: false },
    });
    const edited = await call(app, "POST", `/v1/dead-letters/${thirdFailure.body.deadLetterId}/redrive`, {
      key: ws.worker.key,
      body: { payload: { amount: 5_000_001 } },
    });
    expect(edited.body).toMatchObject({ itemStatus: "AWAITING_APPROVAL", approvalRequestId: expect.any(String) });
    expect(await claimAll(app, ws.worker.key)).toEqual([]);
  });

  it("3. a decision is a person's: nobody mints a key for someone else, service keys never decide, four-eyes compares people", async () => {
    const { database } = db();
    const app = testApp(database);
    const ws = await workspaceWithPolicy(database, app);
    const approver = await invitePerson(app, ws.adminKey, {
      role: "APPROVER",
      scopes: ["approvals:read", "approvals:decide", "work:write"],
    });
    // The admin cannot create a key that acts as the approver.
    const minted = await call(app, "POST", "/v1/api-keys", {
      key: ws.adminKey,
      body: { name: "as-approver", scopes: ["approvals:decide"], userId: approver.userId },
    });
    expect(minted.status).toBe(400);
    // A service key can hold approvals:decide but never decides.
    const service = await call(app, "POST", "/v1/api-keys", {
      key: ws.adminKey,
      body: { name: "bot", scopes: ["approvals:read", "approvals:decide", "work:write"], service: true },
    });
    expect(service.status).toBe(201);
    expect(service.body.userId).toBeNull();
    const order = await createOrder(app, approver.key, [{ type: "PAYMENT", payload: { amount: 5000 } }]);
    const requestId = order.body.approvalRequestIds[0];
    const byService = await call(app, "POST", `/v1/approvals/${requestId}/decisions`, {
      key: service.body.key,
      body: { decision: "APPROVED" },
    });
    expect(byService.status).toBe(403);
    expect(byService.body.error.message).toMatch(/service key/);
    // The requester is a person: another key of theirs is still them.
    const secondKey = await call(app, "POST", "/v1/invitations/accept", {
      body: { secret: "cairn_inv_not-a-real-one", name: "x", scopes: ["approvals:decide"] },
    });
    expect(secondKey.status).toBe(401);
    const owner = await invitePerson(app, ws.adminKey, { role: "OWNER", scopes: ["approvals:decide", "work:write"] });
    const ownOrder = await createOrder(app, owner.key, [{ type: "PAYMENT", payload: { amount: 5000 } }]);
    const ownRequest = ownOrder.body.approvalRequestIds[0];
    const reissued = await call(app, "POST", `/v1/members/${owner.userId}/invitations`, { key: ws.adminKey });
    const ownSecondKey = await call(app, "POST", "/v1/invitations/accept", {
      body: { secret: reissued.body.invitation.secret, name: "second", scopes: ["approvals:decide"] },
    });
    expect(ownSecondKey.status).toBe(201);
    const selfApproval = await call(app, "POST", `/v1/approvals/${ownRequest}/decisions`, {
      key: ownSecondKey.body.key,
      body: { decision: "APPROVED" },
    });
    expect(selfApproval.status).toBe(403);
    expect(selfApproval.body.error.message).toMatch(/four-eyes/);
    // The log names the person and the key they decided with.
    const decided = await call(app, "POST", `/v1/approvals/${ownRequest}/decisions`, {
      key: ws.adminKey,
      body: { decision: "APPROVED" },
    });
    expect(decided.status).toBe(201);
    expect(decided.body.decisions[0]).toMatchObject({ actorUserId: ws.userId, apiKeyId: expect.any(String) });
    // An invitation redeems once; the activity log says who invited whom and when it was redeemed.
    const twice = await call(app, "POST", "/v1/invitations/accept", {
      body: { secret: reissued.body.invitation.secret, name: "third", scopes: ["approvals:decide"] },
    });
    expect(twice.status).toBe(409);
    const activity = await database.withTenant({ workspaceId: ws.workspaceId }, (tx) =>
      rows<{ action: string; actor_id: string }>(
        tx,
        sql`select action, actor_id from activity_log where entity_id = ${owner.userId}::uuid order by at, created_at`,
      ),
    );
    expect(activity.map((row) => [row.action, row.actor_id])).toEqual([
      ["member.invited", ws.userId],
      ["invitation.redeemed", owner.userId],
      ["member.invited", ws.userId],
      ["invitation.redeemed", owner.userId],
    ]);
  });

  it("4. roles bind keys on every request: a demoted admin's admin key loses admin at once; nobody grants above their role", async () => {
    const { database } = db();
    const app = testApp(database);
    const ws = await seedWorkspace(database, "roles");
    const admin = await invitePerson(app, ws.adminKey, { role: "ADMIN", scopes: ["admin"] });
    // An ADMIN cannot make itself OWNER, nor demote the owner.
    const selfPromote = await call(app, "PATCH", `/v1/members/${admin.userId}`, {
      key: admin.key,
      body: { role: "OWNER" },
    });
    expect(selfPromote.status).toBe(403);
    const demoteOwner = await call(app, "PATCH", `/v1/members/${ws.userId}`, {
      key: admin.key,
      body: { role: "VIEWER" },
    });
    expect(demoteOwner.status).toBe(403);
    expect((await call(app, "GET", "/v1/api-keys", { key: admin.key })).status).toBe(200);
    // Demoted to MEMBER, the same admin key: no listing keys, no minting, no promotions.
    const demoted = await call(app, "PATCH", `/v1/members/${admin.userId}`, {
      key: ws.adminKey,
      body: { role: "MEMBER" },
    });
    expect(demoted.status).toBe(200);
    expect((await call(app, "GET", "/v1/api-keys", { key: admin.key })).status).toBe(403);
    const mint = await call(app, "POST", "/v1/api-keys", { key: admin.key, body: { name: "x", scopes: ["admin"] } });
    expect(mint.status).toBe(403);
    const promote = await call(app, "PATCH", `/v1/members/${admin.userId}`, {
      key: admin.key,
      body: { role: "OWNER" },
    });
    expect(promote.status).toBe(403);
    // What a MEMBER may do still works.
    expect((await call(app, "GET", "/v1/work-orders", { key: admin.key })).status).toBe(200);
    // An admin-scoped key cannot be made for a VIEWER, nor any scope beyond the creator's.
    const viewer = await call(app, "POST", "/v1/members", {
      key: ws.adminKey,
      body: { email: `viewer-${Date.now()}@example.test`, role: "VIEWER" },
    });
    const viewerAdmin = await call(app, "POST", "/v1/invitations/accept", {
      body: { secret: viewer.body.invitation.secret, name: "v", scopes: ["admin"] },
    });
    expect(viewerAdmin.status).toBe(403);
    const reader = await call(app, "POST", "/v1/api-keys", {
      key: ws.adminKey,
      body: { name: "reader", scopes: ["platform:read"] },
    });
    const beyond = await call(app, "POST", "/v1/api-keys", {
      key: reader.body.key,
      body: { name: "more", scopes: ["platform:write"] },
    });
    expect(beyond.status).toBe(403);
    // Only an OWNER grants OWNER: a second admin cannot invite one.
    const secondAdmin = await invitePerson(app, ws.adminKey, { role: "ADMIN", scopes: ["admin"] });
    const ownerInvite = await call(app, "POST", "/v1/members", {
      key: secondAdmin.key,
      body: { email: `owner-${Date.now()}@example.test`, role: "OWNER" },
    });
    expect(ownerInvite.status).toBe(403);
  });

  it("5. no self-lockout: the last key that can administer the workspace cannot be revoked or taken away", async () => {
    const { database } = db();
    const app = testApp(database);
    const ws = await seedWorkspace(database, "lockout");
    const keys = await call(app, "GET", "/v1/api-keys", { key: ws.adminKey });
    const onlyAdminKey = keys.body.items[0].id;
    const revoked = await call(app, "POST", `/v1/api-keys/${onlyAdminKey}/revoke`, { key: ws.adminKey });
    expect(revoked.status).toBe(409);
    expect((await call(app, "GET", "/v1/members", { key: ws.adminKey })).status).toBe(200);
    // With a second admin key, the first can go.
    const spare = await call(app, "POST", "/v1/api-keys", {
      key: ws.adminKey,
      body: { name: "spare", scopes: ["admin"] },
    });
    expect((await call(app, "POST", `/v1/api-keys/${onlyAdminKey}/revoke`, { key: spare.body.key })).status).toBe(200);
    expect((await call(app, "POST", `/v1/api-keys/${spare.body.id}/revoke`, { key: spare.body.key })).status).toBe(409);
    // When an ADMIN member holds the last admin key, removing or demoting them is refused too.
    const admin = await invitePerson(app, spare.body.key, { role: "ADMIN", scopes: ["admin"] });
    expect((await call(app, "POST", `/v1/api-keys/${spare.body.id}/revoke`, { key: admin.key })).status).toBe(200);
    const demote = await call(app, "PATCH", `/v1/members/${admin.userId}`, {
      key: admin.key,
      body: { role: "MEMBER" },
    });
    expect(demote.status).toBe(409);
    const remove = await call(app, "DELETE", `/v1/members/${admin.userId}`, { key: admin.key });
    expect(remove.status).toBe(409);
    expect((await call(app, "GET", "/v1/api-keys", { key: admin.key })).status).toBe(200);
  });

  it("6. no cross-tenant directory: adding a known address reveals nothing of its other workspaces", async () => {
    const { database } = db();
    const app = testApp(database);
    const a = await seedWorkspace(database, "A");
    const b = await seedWorkspace(database, "B");
    const email = `alice-${Date.now()}@example.test`;
    const alice = await invitePerson(app, a.adminKey, {
      role: "MEMBER",
      scopes: ["work:read"],
      email,
      name: "Alice of A",
    });
    // B adds the same address: the answer is what B wrote, shaped like any new member's.
    const known = await call(app, "POST", "/v1/members", { key: b.adminKey, body: { email, role: "MEMBER" } });
    const fresh = await call(app, "POST", "/v1/members", {
      key: b.adminKey,
      body: { email: `nobody-${Date.now()}@example.test`, role: "MEMBER" },
    });
    expect(known.status).toBe(201);
    expect(Object.keys(known.body.member).sort()).toEqual(Object.keys(fresh.body.member).sort());
    expect(known.body.member.name).toBeNull();
    expect(JSON.stringify(known.body)).not.toContain("Alice of A");
    expect(JSON.stringify(await call(app, "GET", "/v1/members", { key: b.adminKey }))).not.toContain("Alice of A");
    // B's admin cannot mint a key for her; redeeming her invitation gives a key that sees B only.
    const redeemed = await call(app, "POST", "/v1/invitations/accept", {
      body: { secret: known.body.invitation.secret, name: "taken", scopes: ["work:read"] },
    });
    expect(redeemed.status).toBe(201);
    expect(redeemed.body.identityVerified).toBe(false);
    const listed = await call(app, "GET", "/v1/workspaces", { key: redeemed.body.key });
    expect(listed.body.items.map((w: { id: string }) => w.id)).toEqual([b.workspaceId]);
    // Her own key lists her own workspaces: A (and not B, which someone else redeemed).
    const own = await call(app, "GET", "/v1/workspaces", { key: alice.key });
    expect(own.body.items.map((w: { id: string }) => w.id)).toEqual([a.workspaceId]);
    // Alice herself redeems a new B invitation with her own key as proof: B joins her workspaces.
    const again = await call(app, "POST", `/v1/members/${known.body.member.userId}/invitations`, { key: b.adminKey });
    const linked = await call(app, "POST", "/v1/invitations/accept", {
      key: alice.key,
      body: { secret: again.body.invitation.secret, name: "mine", scopes: ["work:read"] },
    });
    expect(linked.body.identityVerified).toBe(true);
    const both = await call(app, "GET", "/v1/workspaces", { key: alice.key });
    expect(both.body.items.map((w: { id: string }) => w.id).sort()).toEqual([a.workspaceId, b.workspaceId].sort());
    // At the database: a request's role without a workspace reads no one's address.
    const visible = await database.withSettings({}, (tx) =>
      rows<{ n: number }>(tx, sql`select count(*)::int as n from users`),
    );
    expect(visible[0]?.n).toBe(0);
    const throughA = await database.withTenant({ workspaceId: a.workspaceId }, (tx) =>
      rows<{ email: string }>(tx, sql`select email from users order by email`),
    );
    expect(throughA.map((row) => row.email)).toContain(email);
    expect(throughA.some((row) => row.email.startsWith("nobody-"))).toBe(false);
  });
});
