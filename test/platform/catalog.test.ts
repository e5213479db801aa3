import { and, eq, like } from "drizzle-orm";
import { expect, it } from "vitest";
import { activityLog, connectors, payloadSchemas } from "../../db/schema";
import { createPayloadSchema, validateItemPayloads } from "../../functions/platform/payload-schemas";
import { platformRoutes } from "../../functions/platform/routes";
import type { Actor } from "../../functions/shared/actor";
import { AppError } from "../../functions/shared/errors";
import { PRIVATE_ADDRESSES_ENV } from "../../functions/shared/outbound";
import { describeEachDatabase } from "../support/databases";
import { call, ownerActor, seedWorkspace, testApp } from "../support/http";

const amountSchema = {
  type: "object",
  required: ["amount", "currency"],
  additionalProperties: false,
  properties: {
    amount: { type: "number", minimum: 0 },
    currency: { type: "string", pattern: "^[A-Z]{3}$" },
    note: { type: "string" },
  },
};

const adminActor = (seeded: { workspaceId: string; userId: string }): Actor =>
  ownerActor({ ...seeded, apiKeyId: crypto.randomUUID() });

describeEachDatabase("platform catalog", (db) => {
  it("creates, lists, updates and deletes connectors, showing the signing secret only when it is issued", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey, workspaceId } = await seedWorkspace(database);

    const created = await call(app, "POST", "/v1/connectors", {
      key: adminKey,
      body: { name: "billing", type: "API", webhookUrl: "https://billing.example.test/hook", config: { region: "eu" } },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: "billing", type: "API", status: "ACTIVE", config: { region: "eu" } });
    expect(created.body.signingSecret).toMatch(/^[0-9a-f]{64}$/);
    const id = created.body.id;

    const own = await call(app, "POST", "/v1/connectors", {
      key: adminKey,
      body: { name: "slack", type: "SLACK", status: "INACTIVE", signingSecret: "a-shared-secret-of-enough-length" },
    });
    expect(own.status).toBe(201);
    expect(own.body.signingSecret).toBe("a-shared-secret-of-enough-length");
    expect(own.body.webhookUrl).toBeNull();

    const fetched = await call(app, "GET", `/v1/connectors/${id}`, { key: adminKey });
    expect(fetched.status).toBe(200);
    expect(fetched.body).not.toHaveProperty("signingSecret");
    expect(fetched.body.webhookUrl).toBe("https://billing.example.test/hook");

    const listed = await call(app, "GET", "/v1/connectors", { key: adminKey });
    expect(listed.body.items.map((c: { name: string }) => c.name)).toEqual(["slack", "billing"]);
    expect(JSON.stringify(listed.body)).not.toContain(created.body.signingSecret);
    expect(JSON.stringify(listed.body)).not.toContain("signingSecret");
    expect(
      (await call(app, "GET", "/v1/connectors?type=SLACK", { key: adminKey })).body.items.map(
        (c: { id: string }) => c.id,
      ),
    ).toEqual([own.body.id]);
    expect(
      (await call(app, "GET", "/v1/connectors?status=ACTIVE", { key: adminKey })).body.items.map(
        (c: { id: string }) => c.id,
      ),
    ).toEqual([id]);
    const first = await call(app, "GET", "/v1/connectors?limit=1", { key: adminKey });
    expect(first.body.items).toHaveLength(1);
    const second = await call(app, "GET", `/v1/connectors?limit=1&cursor=${first.body.nextCursor}`, { key: adminKey });
    expect(second.body.items.map((c: { id: string }) => c.id)).toEqual([id]);
    expect(second.body.nextCursor).toBeNull();

    const updated = await call(app, "PATCH", `/v1/connectors/${id}`, {
      key: adminKey,
      body: { name: "billing-v2", status: "ERROR", webhookUrl: null, config: {} },
    });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ name: "billing-v2", status: "ERROR", webhookUrl: null, config: {} });
    expect(updated.body).not.toHaveProperty("signingSecret");

    const rotated = await call(app, "POST", `/v1/connectors/${id}/rotate-secret`, { key: adminKey });
    expect(rotated.status).toBe(200);
    expect(rotated.body.signingSecret).toMatch(/^[0-9a-f]{64}$/);
    expect(rotated.body.signingSecret).not.toBe(created.body.signingSecret);
    const [stored] = await database.db
      .select({ secret: connectors.signingSecret })
      .from(connectors)
      .where(eq(connectors.id, id));
    expect(stored!.secret).toBe(rotated.body.signingSecret);
    expect(JSON.stringify((await call(app, "GET", `/v1/connectors/${id}`, { key: adminKey })).body)).not.toContain(
      rotated.body.signingSecret,
    );

    expect(
      (await call(app, "POST", "/v1/connectors", { key: adminKey, body: { name: "slack", type: "EMAIL" } })).status,
    ).toBe(409);
    expect((await call(app, "DELETE", `/v1/connectors/${id}`, { key: adminKey })).status).toBe(204);
    expect((await call(app, "GET", `/v1/connectors/${id}`, { key: adminKey })).status).toBe(404);
    expect((await call(app, "DELETE", `/v1/connectors/${id}`, { key: adminKey })).status).toBe(404);

    const activity = await database.db
      .select({ action: activityLog.action, after: activityLog.after })
      .from(activityLog)
      .where(and(eq(activityLog.workspaceId, workspaceId), like(activityLog.action, "connector.%")));
    expect(activity.map((a) => a.action).sort()).toEqual(
      [
        "connector.created",
        "connector.created",
        "connector.deleted",
        "connector.secret_rotated",
        "connector.updated",
      ].sort(),
    );
    const logged = JSON.stringify(activity);
    for (const secret of [created.body.signingSecret, own.body.signingSecret, rotated.body.signingSecret])
      expect(logged).not.toContain(secret);
  });

  it("manages tools and capabilities and links between them", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey, workspaceId } = await seedWorkspace(database);
    const connector = await call(app, "POST", "/v1/connectors", {
      key: adminKey,
      body: { name: "mail", type: "EMAIL" },
    });

    const capability = await call(app, "POST", "/v1/capabilities", {
      key: adminKey,
      body: { name: "send-email", description: "Sends mail", scope: "outbound" },
    });
    expect(capability.status).toBe(201);
    expect(capability.body).toMatchObject({ name: "send-email", description: "Sends mail", scope: "outbound" });
    const other = await call(app, "POST", "/v1/capabilities", { key: adminKey, body: { name: "archive" } });
    expect(other.body).toMatchObject({ description: null, scope: null });
    expect((await call(app, "POST", "/v1/capabilities", { key: adminKey, body: { name: "archive" } })).status).toBe(
      409,
    );

    const inputSchema = { type: "object", required: ["to"], properties: { to: { type: "string", format: "email" } } };
    const tool = await call(app, "POST", "/v1/tools", {
      key: adminKey,
      body: { name: "mailer", description: "Sends email", connectorId: connector.body.id, inputSchema },
    });
    expect(tool.status).toBe(201);
    expect(tool.body).toMatchObject({
      name: "mailer",
      connectorId: connector.body.id,
      inputSchema,
      outputSchema: null,
      enabled: true,
      capabilities: [],
    });
    const toolId = tool.body.id;

    const linked = await call(app, "PUT", `/v1/tools/${toolId}/capabilities/${capability.body.id}`, { key: adminKey });
    expect(linked.status).toBe(200);
    expect(linked.body.capabilities.map((c: { id: string }) => c.id)).toEqual([capability.body.id]);
    expect(
      (await call(app, "PUT", `/v1/tools/${toolId}/capabilities/${capability.body.id}`, { key: adminKey })).status,
    ).toBe(200);
    await call(app, "PUT", `/v1/tools/${toolId}/capabilities/${other.body.id}`, { key: adminKey });
    const fetched = await call(app, "GET", `/v1/tools/${toolId}`, { key: adminKey });
    expect(fetched.body.capabilities.map((c: { name: string }) => c.name)).toEqual(["archive", "send-email"]);
    const listed = await call(app, "GET", "/v1/tools?enabled=true", { key: adminKey });
    expect(listed.body.items).toHaveLength(1);
    expect(listed.body.items[0].capabilities).toHaveLength(2);
    expect((await call(app, "GET", "/v1/tools?enabled=false", { key: adminKey })).body.items).toEqual([]);
    expect(
      (await call(app, "GET", `/v1/tools?connectorId=${connector.body.id}`, { key: adminKey })).body.items,
    ).toHaveLength(1);

    expect(
      (await call(app, "DELETE", `/v1/tools/${toolId}/capabilities/${capability.body.id}`, { key: adminKey })).status,
    ).toBe(204);
    expect(
      (await call(app, "DELETE", `/v1/tools/${toolId}/capabilities/${capability.body.id}`, { key: adminKey })).status,
    ).toBe(404);
    expect(
      (await call(app, "GET", `/v1/tools/${toolId}`, { key: adminKey })).body.capabilities.map(
        (c: { name: string }) => c.name,
      ),
    ).toEqual(["archive"]);

    const patched = await call(app, "PATCH", `/v1/tools/${toolId}`, {
      key: adminKey,
      body: { enabled: false, connectorId: null, outputSchema: { type: "object" }, description: null },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      enabled: false,
      connectorId: null,
      outputSchema: { type: "object" },
      description: null,
    });
    expect(patched.body.capabilities).toHaveLength(1);

    const renamed = await call(app, "PATCH", `/v1/capabilities/${other.body.id}`, {
      key: adminKey,
      body: { name: "archive-mail", scope: "mail" },
    });
    expect(renamed.body).toMatchObject({ name: "archive-mail", scope: "mail" });
    expect((await call(app, "GET", `/v1/capabilities/${other.body.id}`, { key: adminKey })).body.name).toBe(
      "archive-mail",
    );
    expect((await call(app, "GET", "/v1/capabilities", { key: adminKey })).body.items).toHaveLength(2);

    // Deleting a capability unlinks it; deleting a tool removes the tool.
    expect((await call(app, "DELETE", `/v1/capabilities/${other.body.id}`, { key: adminKey })).status).toBe(204);
    expect((await call(app, "GET", `/v1/tools/${toolId}`, { key: adminKey })).body.capabilities).toEqual([]);
    expect((await call(app, "GET", `/v1/capabilities/${other.body.id}`, { key: adminKey })).status).toBe(404);
    expect((await call(app, "DELETE", `/v1/tools/${toolId}`, { key: adminKey })).status).toBe(204);
    expect((await call(app, "GET", `/v1/tools/${toolId}`, { key: adminKey })).status).toBe(404);

    const actions = await database.db
      .select({ action: activityLog.action })
      .from(activityLog)
      .where(and(eq(activityLog.workspaceId, workspaceId), like(activityLog.action, "tool.%")));
    expect(actions.map((a) => a.action).sort()).toEqual(
      [
        "tool.created",
        "tool.capability_linked",
        "tool.capability_linked",
        "tool.capability_unlinked",
        "tool.updated",
        "tool.deleted",
      ].sort(),
    );
  });

  it("rejects tools whose connector is unknown or whose schemas do not compile with 422", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey } = await seedWorkspace(database);
    const unknownConnector = await call(app, "POST", "/v1/tools", {
      key: adminKey,
      body: { name: "t", connectorId: crypto.randomUUID() },
    });
    expect(unknownConnector.status).toBe(422);
    expect(unknownConnector.body.error.message).toMatch(/connectorId/);
    const badInput = await call(app, "POST", "/v1/tools", {
      key: adminKey,
      body: { name: "t", inputSchema: { type: "strng" } },
    });
    expect(badInput.status).toBe(422);
    expect(badInput.body.error.message).toMatch(/inputSchema is not a valid JSON Schema/);
    const badOutput = await call(app, "POST", "/v1/tools", {
      key: adminKey,
      body: { name: "t", outputSchema: { $ref: "#/missing" } },
    });
    expect(badOutput.status).toBe(422);
    const made = await call(app, "POST", "/v1/tools", { key: adminKey, body: { name: "t" } });
    expect(made.body.inputSchema).toEqual({});
    expect(
      (
        await call(app, "PATCH", `/v1/tools/${made.body.id}`, {
          key: adminKey,
          body: { inputSchema: { minimum: "x" } },
        })
      ).status,
    ).toBe(422);
    expect(
      (
        await call(app, "PATCH", `/v1/tools/${made.body.id}`, {
          key: adminKey,
          body: { connectorId: crypto.randomUUID() },
        })
      ).status,
    ).toBe(422);
  });

  it("versions payload schemas per item type, keeping only the newest active", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey, workspaceId } = await seedWorkspace(database);

    const v1 = await call(app, "POST", "/v1/schemas", {
      key: adminKey,
      body: { itemType: "refund", jsonSchema: { type: "object" } },
    });
    expect(v1.status).toBe(201);
    expect(v1.body).toMatchObject({ itemType: "refund", version: 1, isActive: true, description: null });
    const v2 = await call(app, "POST", "/v1/schemas", {
      key: adminKey,
      body: { itemType: "refund", jsonSchema: amountSchema, description: "amount and currency" },
    });
    expect(v2.body).toMatchObject({
      itemType: "refund",
      version: 2,
      isActive: true,
      description: "amount and currency",
      jsonSchema: amountSchema,
    });
    const otherType = await call(app, "POST", "/v1/schemas", {
      key: adminKey,
      body: { itemType: "email", jsonSchema: { type: "object" } },
    });
    expect(otherType.body.version).toBe(1);

    expect((await call(app, "GET", `/v1/schemas/${v1.body.id}`, { key: adminKey })).body.isActive).toBe(false);
    const active = await call(app, "GET", "/v1/schemas?itemType=refund", { key: adminKey });
    expect(active.body.items.map((s: { version: number }) => s.version)).toEqual([2]);
    const all = await call(app, "GET", "/v1/schemas?itemType=refund&includeInactive=true", { key: adminKey });
    expect(all.body.items.map((s: { version: number }) => s.version).sort()).toEqual([1, 2]);
    expect((await call(app, "GET", "/v1/schemas", { key: adminKey })).body.items).toHaveLength(2);

    const deactivated = await call(app, "POST", `/v1/schemas/${v2.body.id}/deactivate`, { key: adminKey });
    expect(deactivated.status).toBe(200);
    expect(deactivated.body.isActive).toBe(false);
    expect((await call(app, "GET", "/v1/schemas?itemType=refund", { key: adminKey })).body.items).toEqual([]);
    const v3 = await call(app, "POST", "/v1/schemas", {
      key: adminKey,
      body: { itemType: "refund", jsonSchema: amountSchema },
    });
    expect(v3.body.version).toBe(3);

    const invalid = await call(app, "POST", "/v1/schemas", {
      key: adminKey,
      body: { itemType: "refund", jsonSchema: { type: "object", required: "amount" } },
    });
    expect(invalid.status).toBe(422);
    expect(invalid.body.error.message).toMatch(/jsonSchema is not a valid JSON Schema.*required/);
    const unknownKeyword = await call(app, "POST", "/v1/schemas", {
      key: adminKey,
      body: { itemType: "refund", jsonSchema: { type: "object", requried: ["a"] } },
    });
    expect(unknownKeyword.status).toBe(422);
    expect(unknownKeyword.body.error.message).toMatch(/requried/);
    const activity = await database.db
      .select({ action: activityLog.action })
      .from(activityLog)
      .where(and(eq(activityLog.workspaceId, workspaceId), like(activityLog.action, "schema.%")));
    expect(activity.map((a) => a.action).sort()).toEqual([
      "schema.created",
      "schema.created",
      "schema.created",
      "schema.created",
      "schema.deactivated",
    ]);
  });

  it("numbers concurrently created versions without gaps or duplicates", async () => {
    const { database } = db();
    const seeded = await seedWorkspace(database);
    const actor = adminActor(seeded);
    // On Postgres these transactions really overlap (the pool has several connections); PGlite runs them one by one.
    const created = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        database.withTenant(seeded, (tx) =>
          createPayloadSchema(tx, actor, { itemType: "race", jsonSchema: { type: "object", title: `v${i}` } }),
        ),
      ),
    );
    expect(created.map((s) => s.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const stored = await database.db
      .select({ version: payloadSchemas.version, isActive: payloadSchemas.isActive })
      .from(payloadSchemas)
      .where(and(eq(payloadSchemas.workspaceId, seeded.workspaceId), eq(payloadSchemas.itemType, "race")));
    expect(stored.filter((s) => s.isActive).map((s) => s.version)).toEqual([8]);
  });

  it("validates item payloads against the active schema of their type", async () => {
    const { database } = db();
    const seeded = await seedWorkspace(database);
    const actor = adminActor(seeded);
    const validate = (items: Array<{ type: string; payload: unknown }>) =>
      database.withTenant(seeded, (tx) => validateItemPayloads(tx, seeded.workspaceId, items));
    const failure = (items: Array<{ type: string; payload: unknown }>) =>
      validate(items).then(
        () => undefined,
        (error: unknown) => error as AppError,
      );

    // Without any schema every payload passes.
    await expect(validate([{ type: "refund", payload: { anything: true } }])).resolves.toBeUndefined();
    const v1 = await database.withTenant(seeded, (tx) =>
      createPayloadSchema(tx, actor, { itemType: "refund", jsonSchema: { type: "object" } }),
    );
    await database.withTenant(seeded, (tx) =>
      createPayloadSchema(tx, actor, { itemType: "refund", jsonSchema: amountSchema }),
    );

    await expect(
      validate([
        { type: "refund", payload: { amount: 12.5, currency: "EUR" } },
        { type: "no-schema", payload: "free text" },
        { type: "refund", payload: { amount: 0, currency: "USD", note: "ok" } },
      ]),
    ).resolves.toBeUndefined();
    await expect(validate([])).resolves.toBeUndefined();

    const error = await failure([
      { type: "refund", payload: { amount: 1, currency: "EUR" } },
      { type: "refund", payload: { amount: -3, currency: "euro", extra: 1 } },
      { type: "no-schema", payload: null },
      { type: "refund", payload: { currency: "EUR" } },
    ]);
    expect(error).toBeInstanceOf(AppError);
    expect(error!.status).toBe(422);
    expect(error!.message).toBe("Payload does not match the schema for refund");
    const details = error!.details as Array<{
      item: number;
      type: string;
      schemaVersion: number;
      errors: Array<{ path: string }>;
    }>;
    expect(details.map((d) => [d.item, d.type, d.schemaVersion])).toEqual([
      [1, "refund", 2],
      [3, "refund", 2],
    ]);
    expect(details[0]!.errors.map((e) => e.path).sort()).toEqual(["/amount", "/currency", "/extra"]);
    expect(details[1]!.errors).toEqual([{ path: "/amount", message: "must have required property 'amount'" }]);

    // A non-object payload fails at the root; the cached validator gives the same answer again.
    for (let i = 0; i < 2; i++) {
      const rootFailure = await failure([{ type: "refund", payload: [1, 2] }]);
      expect((rootFailure!.details as Array<{ errors: Array<{ path: string; message: string }> }>)[0]!.errors).toEqual([
        { path: "", message: "must be object" },
      ]);
    }

    // Another workspace's schema for the same type does not apply here, nor this one there.
    const other = await seedWorkspace(database);
    await expect(
      database.withTenant(other, (tx) =>
        validateItemPayloads(tx, other.workspaceId, [{ type: "refund", payload: [] }]),
      ),
    ).resolves.toBeUndefined();

    // Deactivating the active version leaves the type without a schema (older versions stay inactive).
    const [latest] = await database.db
      .select({ id: payloadSchemas.id })
      .from(payloadSchemas)
      .where(and(eq(payloadSchemas.workspaceId, seeded.workspaceId), eq(payloadSchemas.isActive, true)));
    expect(latest!.id).not.toBe(v1.id);
    const app = testApp(database);
    await call(app, "POST", `/v1/schemas/${latest!.id}/deactivate`, { key: seeded.adminKey });
    await expect(validate([{ type: "refund", payload: [1, 2] }])).resolves.toBeUndefined();
  });

  it("answers another workspace's ids with 404 and refuses its connectors", async () => {
    const { database } = db();
    const app = testApp(database);
    const a = await seedWorkspace(database);
    const b = await seedWorkspace(database);
    const connector = await call(app, "POST", "/v1/connectors", { key: a.adminKey, body: { name: "c", type: "API" } });
    const tool = await call(app, "POST", "/v1/tools", { key: a.adminKey, body: { name: "t" } });
    const capability = await call(app, "POST", "/v1/capabilities", { key: a.adminKey, body: { name: "cap" } });
    const schema = await call(app, "POST", "/v1/schemas", {
      key: a.adminKey,
      body: { itemType: "x", jsonSchema: { type: "object" } },
    });
    const bCapability = await call(app, "POST", "/v1/capabilities", { key: b.adminKey, body: { name: "cap" } });
    const bTool = await call(app, "POST", "/v1/tools", { key: b.adminKey, body: { name: "t" } });
    expect([connector, tool, capability, schema, bCapability, bTool].map((r) => r.status)).toEqual([
      201, 201, 201, 201, 201, 201,
    ]);

    const attempts: Array<[string, string, unknown?]> = [
      ["GET", `/v1/connectors/${connector.body.id}`],
      ["PATCH", `/v1/connectors/${connector.body.id}`, { name: "mine" }],
      ["DELETE", `/v1/connectors/${connector.body.id}`],
      ["POST", `/v1/connectors/${connector.body.id}/rotate-secret`],
      ["GET", `/v1/tools/${tool.body.id}`],
      ["PATCH", `/v1/tools/${tool.body.id}`, { enabled: false }],
      ["DELETE", `/v1/tools/${tool.body.id}`],
      ["PUT", `/v1/tools/${tool.body.id}/capabilities/${bCapability.body.id}`],
      ["PUT", `/v1/tools/${bTool.body.id}/capabilities/${capability.body.id}`],
      ["DELETE", `/v1/tools/${bTool.body.id}/capabilities/${capability.body.id}`],
      ["GET", `/v1/capabilities/${capability.body.id}`],
      ["PATCH", `/v1/capabilities/${capability.body.id}`, { name: "mine" }],
      ["DELETE", `/v1/capabilities/${capability.body.id}`],
      ["GET", `/v1/schemas/${schema.body.id}`],
      ["POST", `/v1/schemas/${schema.body.id}/deactivate`],
    ];
    for (const [method, path, body] of attempts) {
      const response = await call(app, method, path, { key: b.adminKey, body });
      expect({ method, path, status: response.status }).toEqual({ method, path, status: 404 });
    }
    const borrowed = await call(app, "POST", "/v1/tools", {
      key: b.adminKey,
      body: { name: "borrow", connectorId: connector.body.id },
    });
    expect(borrowed.status).toBe(422);
    for (const path of ["/v1/connectors", "/v1/tools", "/v1/capabilities", "/v1/schemas"]) {
      const listed = await call(app, "GET", path, { key: b.adminKey });
      expect(JSON.stringify(listed.body)).not.toContain(a.workspaceId);
      expect(
        listed.body.items.some((item: { id: string }) =>
          [connector, tool, capability, schema].some((r) => r.body.id === item.id),
        ),
      ).toBe(false);
    }
    // Nothing of A's changed.
    expect((await call(app, "GET", `/v1/connectors/${connector.body.id}`, { key: a.adminKey })).body.name).toBe("c");
    expect((await call(app, "GET", `/v1/schemas/${schema.body.id}`, { key: a.adminKey })).body.isActive).toBe(true);
  });

  it("needs platform:read to read and platform:write to change", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey } = await seedWorkspace(database);
    const reader = (
      await call(app, "POST", "/v1/api-keys", { key: adminKey, body: { name: "r", scopes: ["platform:read"] } })
    ).body.key;
    const writer = (
      await call(app, "POST", "/v1/api-keys", { key: adminKey, body: { name: "w", scopes: ["platform:write"] } })
    ).body.key;
    const worker = (
      await call(app, "POST", "/v1/api-keys", {
        key: adminKey,
        body: { name: "x", scopes: ["work:read", "work:write"] },
      })
    ).body.key;
    const connector = await call(app, "POST", "/v1/connectors", { key: writer, body: { name: "c", type: "DATABASE" } });
    expect(connector.status).toBe(201);

    for (const path of [
      "/v1/connectors",
      `/v1/connectors/${connector.body.id}`,
      "/v1/tools",
      "/v1/capabilities",
      "/v1/schemas",
    ]) {
      expect((await call(app, "GET", path, { key: reader })).status).toBe(200);
      const denied = await call(app, "GET", path, { key: worker });
      expect(denied.status).toBe(403);
      expect(denied.body.error.code).toBe("forbidden");
    }
    const writes: Array<[string, string, unknown?]> = [
      ["POST", "/v1/connectors", { name: "d", type: "EMAIL" }],
      ["PATCH", `/v1/connectors/${connector.body.id}`, { name: "e" }],
      ["POST", `/v1/connectors/${connector.body.id}/rotate-secret`],
      ["DELETE", `/v1/connectors/${connector.body.id}`],
      ["POST", "/v1/tools", { name: "t" }],
      ["POST", "/v1/capabilities", { name: "c" }],
      ["POST", "/v1/schemas", { itemType: "x", jsonSchema: {} }],
      ["POST", `/v1/schemas/${crypto.randomUUID()}/deactivate`],
      ["PUT", `/v1/tools/${crypto.randomUUID()}/capabilities/${crypto.randomUUID()}`],
    ];
    for (const [method, path, body] of writes) {
      for (const key of [reader, worker]) expect((await call(app, method, path, { key, body })).status).toBe(403);
    }
    // The write-only key cannot read.
    expect((await call(app, "GET", "/v1/connectors", { key: writer })).status).toBe(403);
  });

  it("refuses a webhook URL at a private address (400, nothing saved) unless the deployment allows it", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey } = await seedWorkspace(database);
    for (const webhookUrl of [
      "http://127.0.0.1:9000/hook",
      "http://169.254.169.254/latest",
      "http://[::1]/hook",
      "http://localhost:8080/hook",
    ]) {
      const response = await call(app, "POST", "/v1/connectors", {
        key: adminKey,
        body: { name: "internal", type: "API", webhookUrl },
      });
      expect({ webhookUrl, status: response.status }).toEqual({ webhookUrl, status: 400 });
      expect(JSON.stringify(response.body.error)).toMatch(/is not a public address/);
    }
    expect((await call(app, "GET", "/v1/connectors", { key: adminKey })).body.items).toEqual([]);
    const created = await call(app, "POST", "/v1/connectors", {
      key: adminKey,
      body: { name: "public", type: "API", webhookUrl: "https://hooks.example.test/x" },
    });
    expect(created.status).toBe(201);
    const patched = await call(app, "PATCH", `/v1/connectors/${created.body.id}`, {
      key: adminKey,
      body: { webhookUrl: "http://10.0.0.8/hook" },
    });
    expect(patched.status).toBe(400);
    expect((await call(app, "GET", `/v1/connectors/${created.body.id}`, { key: adminKey })).body.webhookUrl).toBe(
      "https://hooks.example.test/x",
    );

    process.env[PRIVATE_ADDRESSES_ENV] = "allow";
    try {
      const local = await call(app, "POST", "/v1/connectors", {
        key: adminKey,
        body: { name: "local", type: "API", webhookUrl: "http://127.0.0.1:9000/hook" },
      });
      expect(local.status).toBe(201);
    } finally {
      delete process.env[PRIVATE_ADDRESSES_ENV];
    }
  });

  it("answers bad input with 400 or 422 in the error shape, never 500", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey } = await seedWorkspace(database);
    const cases: Array<[number, string, string, { body?: unknown; raw?: string }?]> = [
      [400, "POST", "/v1/connectors", { raw: "{nope" }],
      [400, "POST", "/v1/connectors", { body: { name: "c", type: "FAX" } }],
      [400, "POST", "/v1/connectors", { body: { name: "c", type: "API", extra: 1 } }],
      [400, "POST", "/v1/connectors", { body: { name: "c", type: "API", webhookUrl: "ftp://example.test/x" } }],
      [400, "POST", "/v1/connectors", { body: { name: "c", type: "API", webhookUrl: "not a url" } }],
      [400, "POST", "/v1/connectors", { body: { name: "c", type: "API", signingSecret: "short" } }],
      [400, "POST", "/v1/connectors", { body: { name: "", type: "API" } }],
      [400, "PATCH", `/v1/connectors/${crypto.randomUUID()}`, { body: { type: "SLACK" } }],
      [400, "GET", "/v1/connectors?status=BROKEN"],
      [400, "GET", "/v1/connectors?cursor=garbage"],
      [400, "GET", "/v1/connectors/not-a-uuid"],
      [400, "POST", "/v1/tools", { body: { name: "t", inputSchema: "not an object" } }],
      [400, "POST", "/v1/tools", { body: { name: "t", connectorId: "nope" } }],
      [400, "POST", "/v1/tools", { body: { name: "t", enabled: "yes" } }],
      [400, "GET", "/v1/tools?enabled=maybe"],
      [400, "PUT", `/v1/tools/${crypto.randomUUID()}/capabilities/not-a-uuid`],
      [400, "POST", "/v1/capabilities", { body: { name: "c", owner: "me" } }],
      [400, "POST", "/v1/schemas", { body: { itemType: "x" } }],
      [400, "POST", "/v1/schemas", { body: { itemType: "x", jsonSchema: true } }],
      [400, "POST", "/v1/schemas", { body: { itemType: "x", jsonSchema: {}, version: 7 } }],
      [400, "GET", "/v1/schemas?includeInactive=perhaps"],
      [404, "GET", `/v1/tools/${crypto.randomUUID()}`],
      [404, "PUT", `/v1/tools/${crypto.randomUUID()}/capabilities/${crypto.randomUUID()}`],
      [404, "PATCH", `/v1/capabilities/${crypto.randomUUID()}`, { body: { name: "x" } }],
      [404, "POST", `/v1/schemas/${crypto.randomUUID()}/deactivate`],
      [
        422,
        "POST",
        "/v1/schemas",
        { body: { itemType: "x", jsonSchema: { $schema: "http://json-schema.org/draft-04/schema#" } } },
      ],
      [422, "POST", "/v1/schemas", { body: { itemType: "x", jsonSchema: { properties: { a: { pattern: "(" } } } } }],
    ];
    for (const [status, method, path, options] of cases) {
      const response = await call(app, method, path, { key: adminKey, ...options });
      expect({ method, path, status: response.status }).toEqual({ method, path, status });
      expect(response.body.error).toEqual(
        expect.objectContaining({ code: expect.any(String), message: expect.any(String) }),
      );
    }
  });

  it("documents the catalog routes in the OpenAPI document", async () => {
    // Only this context's routes: the document must build from the platform Lambda alone.
    const app = testApp(db().database, [platformRoutes]);
    const doc = await call(app, "GET", "/openapi.json");
    expect(doc.status).toBe(200);
    for (const path of [
      "/v1/connectors/{id}/rotate-secret",
      "/v1/tools/{id}/capabilities/{capabilityId}",
      "/v1/capabilities/{id}",
      "/v1/schemas/{id}/deactivate",
    ]) {
      expect(Object.keys(doc.body.paths)).toContain(path);
    }
    expect(doc.body.components.schemas).toHaveProperty("CreateConnectorInput");
  });
});
