/**
 * Timestamps a request writes come from one clock, the database's: equal to the microsecond to the
 * activity row written in the same transaction (`now()`), which a JavaScript `new Date()`
 * (milliseconds, another clock) practically never is. `updated_at` columns keep milliseconds
 * (timestamptz(3)), so they are compared at that precision.
 */
import { sql } from "drizzle-orm";
import { expect, it } from "vitest";
import { rows } from "../db/client";
import { INVITATION_TTL_MS } from "../functions/platform/invitations";
import { describeEachDatabase } from "./support/databases";
import { call, seedWorkspace, testApp } from "./support/http";
import { invitePerson } from "./support/people";

describeEachDatabase("one clock in request paths", (db) => {
  it("invitations, revocations, approval deadlines and a dead letter's next retry take the database's time", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey, workspaceId } = await seedWorkspace(database);
    const same = async (query: ReturnType<typeof sql>) => {
      const found = await rows<{ same: boolean }>(database.db, query);
      expect(found.length).toBeGreaterThan(0);
      return found.map((row) => row.same);
    };

    // An invitation expires 7 days after it was issued (the activity row of the same transaction), to the microsecond.
    const invited = await call(app, "POST", "/v1/members", {
      key: adminKey,
      body: { email: `clock-${Math.random().toString(36).slice(2)}@example.test`, role: "VIEWER" },
    });
    expect(invited.status).toBe(201);
    expect(INVITATION_TTL_MS).toBe(7 * 24 * 3600 * 1000);
    expect(
      await same(sql`select i.expires_at = a.at + interval '7 days' as same from invitations i
                     join activity_log a on a.entity_id = i.user_id and a.action = 'member.invited'
                     where i.id = ${invited.body.invitation.id}::uuid`),
    ).toEqual([true]);
    expect(new Date(invited.body.invitation.expiresAt).toISOString()).toBe(invited.body.invitation.expiresAt);

    // Revoking a key, and removing a member (which revokes theirs): at the time of the activity row.
    const person = await invitePerson(app, adminKey, { role: "MEMBER", scopes: ["work:read"] });
    const second = await invitePerson(app, adminKey, { role: "MEMBER", scopes: ["work:read"] });
    expect((await call(app, "POST", `/v1/api-keys/${person.keyId}/revoke`, { key: adminKey })).status).toBe(200);
    expect(
      await same(sql`select k.revoked_at = a.at and k.updated_at = a.at::timestamptz(3) as same from api_keys k
                     join activity_log a on a.entity_id = k.id and a.action = 'api_key.revoked'
                     where k.id = ${person.keyId}::uuid`),
    ).toEqual([true]);
    expect((await call(app, "DELETE", `/v1/members/${second.userId}`, { key: adminKey })).status).toBe(204);
    expect(
      await same(sql`select k.revoked_at = a.at as same from api_keys k
                     join activity_log a on a.entity_id = k.user_id and a.action = 'member.removed'
                     where k.id = ${second.keyId}::uuid`),
    ).toEqual([true]);

    // An approval request's deadline counts from its creation.
    const order = await call(app, "POST", "/v1/work-orders", {
      key: adminKey,
      body: {
        title: "gated",
        items: [{ type: "T", payload: {}, approval: { gate: "BEFORE", approverRoles: ["ADMIN"], timeoutSeconds: 90 } }],
      },
    });
    expect(order.status).toBe(201);
    expect(
      await same(sql`select deadline = created_at + interval '90 seconds' as same from approval_requests
                     where id = ${order.body.approvalRequestIds[0]}::uuid`),
    ).toEqual([true]);

    // A dead letter marked for automatic retry with no time given: due now, on the database's clock.
    const failing = await call(app, "POST", "/v1/work-orders", {
      key: adminKey,
      body: { title: "fails", items: [{ type: "F", payload: {}, maxAttempts: 1 }] },
    });
    expect(failing.status).toBe(201);
    const claimed = await call(app, "POST", "/v1/work-items/claim", {
      key: adminKey,
      body: { workerId: "w", types: ["F"], limit: 1, leaseSeconds: 60 },
    });
    const [item] = claimed.body.items;
    const failed = await call(app, "POST", `/v1/work-items/${item.id}/fail`, {
      key: adminKey,
      body: { attemptId: item.attemptId, fencingToken: item.fencingToken, error: "no", retryable: false },
    });
    const letterId = failed.body.deadLetterId;
    const marked = await call(app, "PATCH", `/v1/dead-letters/${letterId}`, {
      key: adminKey,
      body: { autoRetry: true },
    });
    expect(marked.status).toBe(200);
    expect(
      await same(sql`select next_retry_at = updated_at as same from dead_letters
                     where id = ${letterId}::uuid and workspace_id = ${workspaceId}::uuid`),
    ).toEqual([true]);
  });
});
