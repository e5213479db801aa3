import { sql } from "drizzle-orm";
import { expect, it } from "vitest";

import { apiKeys } from "../db/schema";
import { describeEachDatabase } from "./support/databases";
import { call, seedWorkspace, testApp } from "./support/http";

describeEachDatabase("platform API", (db) => {
  it("serves health and the OpenAPI document", async () => {
    const app = testApp(db().database);
    const health = await call(app, "GET", "/health");
    expect(health.status).toBe(200);
    expect(health.body.database).toMatchObject({ status: "ok" });
    const doc = await call(app, "GET", "/openapi.json");
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe("3.1.0");
    expect(Object.keys(doc.body.paths)).toContain("/v1/api-keys");
    const docs = await app.request("/docs");
    expect(docs.status).toBe(200);
    // The reference UI renders /openapi.json in the browser (test/docs/docs.test.ts).
    expect(await docs.text()).toContain('data-url="/openapi.json"');
  });

  it("rejects missing, malformed, unknown, revoked and expired keys with 401", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey } = await seedWorkspace(database);
    expect((await call(app, "GET", "/v1/members")).status).toBe(401);
    expect((await call(app, "GET", "/v1/members", { key: "nope" })).status).toBe(401);
    expect(
      (await call(app, "GET", "/v1/members", { key: adminKey.slice(0, -1) + (adminKey.endsWith("A") ? "B" : "A") }))
        .status,
    ).toBe(401);

    const created = await call(app, "POST", "/v1/api-keys", {
      key: adminKey,
      body: { name: "worker", scopes: ["work:read"] },
    });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^cairn_/);
    expect((await call(app, "GET", "/v1/workspaces", { key: created.body.key })).status).toBe(200);
    const revoked = await call(app, "POST", `/v1/api-keys/${created.body.id}/revoke`, { key: adminKey });
    expect(revoked.status).toBe(200);
    const afterRevoke = await call(app, "GET", "/v1/workspaces", { key: created.body.key });
    expect(afterRevoke.status).toBe(401);
    expect(afterRevoke.body.error.message).toMatch(/revoked/);

    const expiring = await call(app, "POST", "/v1/api-keys", {
      key: adminKey,
      body: { name: "short", scopes: ["admin"], expiresAt: new Date(Date.now() + 1500).toISOString() },
    });
    expect(expiring.status).toBe(201);
    await database.db.execute(
      sql`update api_keys set expires_at = now() - interval '1 second' where id = ${expiring.body.id}`,
    );
    const expired = await call(app, "GET", "/v1/workspaces", { key: expiring.body.key });
    expect(expired.status).toBe(401);
    expect(expired.body.error.message).toMatch(/expired/);
  });

  it("requires admin for key management and never stores a key in plaintext", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey } = await seedWorkspace(database);
    const reader = await call(app, "POST", "/v1/api-keys", {
      key: adminKey,
      body: { name: "r", scopes: ["platform:read"] },
    });
    for (const [method, path, body] of [
      ["GET", "/v1/api-keys", undefined],
      ["POST", "/v1/api-keys", { name: "x", scopes: ["admin"] }],
      ["POST", `/v1/api-keys/${reader.body.id}/revoke`, undefined],
    ] as const) {
      const response = await call(app, method, path, { key: reader.body.key, body });
      expect(response.status).toBe(403);
      expect(response.body.error.code).toBe("forbidden");
    }
    const stored = await database.db.select().from(apiKeys);
    for (const row of stored) {
      expect(JSON.stringify(row)).not.toContain(reader.body.key);
      expect(JSON.stringify(row)).not.toContain(adminKey);
      expect(row.keyHash).toMatch(/^[0-9a-f]{64}$/);
    }
    const listed = await call(app, "GET", "/v1/api-keys", { key: adminKey });
    expect(listed.body.items.length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(listed.body)).not.toContain("keyHash");
  });

  it("manages members and roles, keeping one owner", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey, userId } = await seedWorkspace(database);
    const added = await call(app, "POST", "/v1/members", {
      key: adminKey,
      body: { email: "Ann@Example.test", role: "APPROVER" },
    });
    expect(added.status).toBe(201);
    expect(added.body.member).toMatchObject({ email: "ann@example.test", role: "APPROVER" });
    expect(
      (await call(app, "POST", "/v1/members", { key: adminKey, body: { email: "ann@example.test" } })).status,
    ).toBe(409);
    expect(
      (await call(app, "PATCH", `/v1/members/${added.body.member.userId}`, { key: adminKey, body: { role: "ADMIN" } }))
        .body.role,
    ).toBe("ADMIN");
    const demoteOwner = await call(app, "PATCH", `/v1/members/${userId}`, { key: adminKey, body: { role: "MEMBER" } });
    expect(demoteOwner.status).toBe(409);
    const memberKey = await call(app, "POST", "/v1/invitations/accept", {
      body: { secret: added.body.invitation.secret, name: "ann", scopes: ["admin"] },
    });
    expect(memberKey.status).toBe(201);
    expect((await call(app, "GET", "/v1/members", { key: memberKey.body.key })).status).toBe(200);
    expect((await call(app, "DELETE", `/v1/members/${added.body.member.userId}`, { key: adminKey })).status).toBe(204);
    const members = await call(app, "GET", "/v1/members", { key: adminKey });
    expect(members.body.items.map((m: { userId: string }) => m.userId)).toEqual([userId]);
    // A removed member's keys stop working with them.
    expect((await call(app, "GET", "/v1/members", { key: memberKey.body.key })).status).toBe(401);
    const keys = await call(app, "GET", "/v1/api-keys", { key: adminKey });
    expect(keys.body.items.find((k: { id: string }) => k.id === memberKey.body.id).revokedAt).not.toBeNull();
  });

  it("keeps one owner when the last two owners are demoted at once", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey, userId } = await seedWorkspace(database);
    const second = await call(app, "POST", "/v1/members", {
      key: adminKey,
      body: { email: `second-${Date.now()}@example.test`, role: "OWNER" },
    });
    expect(second.status).toBe(201);
    const statuses = await Promise.all(
      [userId, second.body.member.userId].map(
        async (id) =>
          (await call(app, "PATCH", `/v1/members/${id}`, { key: adminKey, body: { role: "MEMBER" } })).status,
      ),
    );
    expect(statuses.sort()).toEqual([200, 409]);
    const members = await call(app, "GET", "/v1/members", { key: adminKey });
    expect(members.body.items.filter((m: { role: string }) => m.role === "OWNER")).toHaveLength(1);
  });

  it("creates workspaces that only their members can see", async () => {
    const { database } = db();
    const app = testApp(database);
    const a = await seedWorkspace(database);
    const created = await call(app, "POST", "/v1/workspaces", { key: a.adminKey, body: { name: "second" } });
    expect(created.status).toBe(201);
    const listed = await call(app, "GET", "/v1/workspaces", { key: a.adminKey });
    expect(listed.body.items.map((w: { name: string }) => w.name)).toContain("second");
    const b = await seedWorkspace(database);
    const listedB = await call(app, "GET", "/v1/workspaces", { key: b.adminKey });
    expect(listedB.body.items.map((w: { id: string }) => w.id)).toEqual([b.workspaceId]);
    // The new workspace's key works and acts in the new workspace only.
    const membersOfNew = await call(app, "GET", "/v1/members", { key: created.body.apiKey.key });
    expect(membersOfNew.body.items).toHaveLength(1);
  });

  it("answers bad input with 4xx and the error shape, never 500", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey } = await seedWorkspace(database);
    const cases = [
      await call(app, "POST", "/v1/api-keys", { key: adminKey, raw: "{not json" }),
      await call(app, "POST", "/v1/api-keys", { key: adminKey, body: { name: 3, scopes: ["admin"] } }),
      await call(app, "POST", "/v1/api-keys", { key: adminKey, body: { name: "x", scopes: ["admin"], extra: true } }),
      await call(app, "POST", "/v1/api-keys", { key: adminKey, body: { name: "x", scopes: ["root"] } }),
      await call(app, "POST", "/v1/api-keys/not-a-uuid/revoke", { key: adminKey }),
      await call(app, "POST", `/v1/api-keys/${crypto.randomUUID()}/revoke`, { key: adminKey }),
      await call(app, "POST", "/v1/api-keys", {
        key: adminKey,
        body: { name: "x", scopes: ["admin"], expiresAt: "2001-01-01" },
      }),
      await call(app, "POST", "/v1/members", {
        key: adminKey,
        raw: JSON.stringify({ email: "a@b.test", name: "x".repeat(2 * 1024 * 1024) }),
      }),
      await call(app, "GET", "/v1/nothing-here", { key: adminKey }),
    ];
    expect(cases.map((c) => c.status)).toEqual([400, 400, 400, 400, 400, 404, 422, 413, 404]);
    for (const response of cases) {
      expect(response.body.error).toEqual(
        expect.objectContaining({ code: expect.any(String), message: expect.any(String) }),
      );
    }
  });
});
