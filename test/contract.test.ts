/**
 * The API contract: what /openapi.json promises (its shape, its rules for clients) and a recorded
 * scenario whose every response is checked against it. Every other API test is checked the same
 * way through `call` (test/support/http.ts, test/support/contract.ts).
 */
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import { openApiDocument } from "../functions/openapi-document";
import { Contract, type OpenApiDocument } from "./support/contract";
import { describeEachDatabase } from "./support/databases";
import { call, type ResponseBody, seedWorkspace, testApp } from "./support/http";
import { invitePerson } from "./support/people";

// The document as the tests walk it.
type Node = Record<string, unknown>;
const isNode = (value: unknown): value is Node => typeof value === "object" && value !== null && !Array.isArray(value);
const document = openApiDocument() as Node & {
  paths: Record<string, Record<string, Node>>;
  components: { schemas: Record<string, Node> };
};
const operations = Object.entries(document.paths).flatMap(([path, item]) =>
  Object.entries(item).map(([method, operation]) => ({ path, method, operation })),
);

/** Every [JSON pointer (as a URI fragment), node] in `value`. */
function* walk(value: unknown, at = "#"): Generator<[string, Node]> {
  const down = (key: string | number) =>
    `${at}/${encodeURIComponent(String(key).replaceAll("~", "~0").replaceAll("/", "~1"))}`;
  if (Array.isArray(value)) {
    for (const [index, inner] of value.entries()) yield* walk(inner, down(index));
  } else if (isNode(value)) {
    yield [at, value];
    for (const [key, inner] of Object.entries(value)) yield* walk(inner, down(key));
  }
}

describe("the OpenAPI document's rules for clients", () => {
  it("names every operation with a unique operationId, the ones the README and SDK use among them", () => {
    const ids = operations.map(({ operation }) => operation.operationId);
    expect(ids.filter((id) => typeof id !== "string")).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z][A-Za-z]+$/);
    const byRoute = Object.fromEntries(
      operations.map(({ path, method, operation }) => [`${method.toUpperCase()} ${path}`, operation.operationId]),
    );
    expect(byRoute).toMatchObject({
      "POST /v1/work-orders": "createWorkOrder",
      "GET /v1/work-orders": "listWorkOrders",
      "GET /v1/work-orders/{id}": "getWorkOrder",
      "POST /v1/work-items/claim": "claimWorkItems",
      "POST /v1/work-items/{id}/heartbeat": "heartbeatWorkItem",
      "POST /v1/work-items/{id}/complete": "completeWorkItem",
      "POST /v1/work-items/{id}/fail": "failWorkItem",
      "POST /v1/dead-letters/{id}/redrive": "redriveDeadLetter",
      "POST /v1/approvals/{id}/decisions": "decideApproval",
      "POST /v1/memories/search": "searchMemories",
      "POST /v1/api-keys": "createApiKey",
    });
  });

  it("has servers, and tags that are declared with a description", () => {
    expect(document.servers).toEqual([expect.objectContaining({ url: "/" })]);
    const declared = (document.tags as Array<{ name: string; description?: string }>).map((tag) => tag.name);
    for (const { operation } of operations) {
      expect(operation.tags).toHaveLength(1);
      expect(declared).toContain((operation.tags as string[])[0]);
    }
    for (const tag of document.tags as Array<{ description?: string }>) expect(tag.description).toBeTruthy();
  });

  it("writes a nullable reference as anyOf with null, never allOf (which null cannot satisfy)", () => {
    const broken = [...walk(document)].filter(
      ([, node]) =>
        Array.isArray(node.allOf) &&
        node.allOf.some(
          (part) => isNode(part) && (part.type === "null" || (Array.isArray(part.type) && part.type.includes("null"))),
        ),
    );
    expect(broken.map(([at]) => at)).toEqual([]);
    expect(document.components.schemas.Tool?.properties).toMatchObject({
      outputSchema: { anyOf: [{ $ref: "#/components/schemas/JsonSchema" }, { type: "null" }] },
    });
    expect(document.components.schemas.WorkItem?.properties).toMatchObject({
      leaseExpiresAt: { type: ["string", "null"], format: "date-time" },
    });
  });

  it("makes a request field with a server-side default optional, and says the default in words", () => {
    const claim = document.components.schemas.ClaimWorkItemsInput as Node & { properties: Record<string, Node> };
    expect(claim.required).toEqual(["workerId"]);
    expect(claim.properties.limit).not.toHaveProperty("default");
    expect(claim.properties.limit?.description).toContain("Defaults to `1`");
    // No request-only schema keeps a property `default` (openapi-typescript would make it required).
    const requestBodies = operations.flatMap(({ operation }) => [...walk(operation.requestBody)]);
    const refs = new Set(
      requestBodies.flatMap(([, node]) => (typeof node.$ref === "string" ? [node.$ref.split("/").at(-1)] : [])),
    );
    for (const name of refs) {
      for (const [at, node] of walk(document.components.schemas[name as string])) {
        if (isNode(node.properties)) {
          for (const [property, schema] of Object.entries(node.properties)) {
            if (isNode(schema) && "default" in schema && name?.endsWith("Input")) {
              throw new Error(`${name}${at.slice(1)}.${property} has a default`);
            }
          }
        }
      }
    }
  });

  it("spells the Idempotency-Key header so, and every header example is a valid (ASCII) header value", () => {
    const create = document.paths["/v1/work-orders"]?.post as Node & { parameters: Node[] };
    expect(create.parameters.map((parameter) => parameter.name)).toContain("Idempotency-Key");
    for (const { operation } of operations) {
      for (const parameter of (operation.parameters ?? []) as Node[]) {
        if (parameter.in !== "header") continue;
        const example = (parameter.schema as Node | undefined)?.example ?? parameter.example;
        if (example !== undefined) expect(String(example)).toMatch(/^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/);
      }
    }
  });

  it("gives examples that are valid values of their schemas", () => {
    const ajv = new Ajv2020({ strict: false });
    addFormats(ajv);
    ajv.addSchema({ ...document, $id: "https://cairn.invalid/openapi.json" });
    let checked = 0;
    for (const [at, node] of walk(document)) {
      if (!("example" in node) || at.endsWith("/properties")) continue;
      const { example, ...schema } = node;
      const pointer = at.slice(1);
      const valid = ajv.validate({ $ref: `https://cairn.invalid/openapi.json#${pointer}` }, example);
      expect(valid, `${at}: ${JSON.stringify(example)} ${ajv.errorsText()} (${JSON.stringify(schema)})`).toBe(true);
      checked += 1;
    }
    expect(checked).toBeGreaterThan(10);
  });

  it("answers every error with the shared error schema, including 503 (database) and 415 (body) everywhere they apply", () => {
    for (const { path, method, operation } of operations) {
      const responses = operation.responses as Record<string, Node>;
      for (const [status, response] of Object.entries(responses)) {
        if (Number(status) < 400) continue;
        expect(response.content, `${method} ${path} ${status}`).toEqual({
          "application/json": { schema: { $ref: "#/components/schemas/Error" } },
        });
      }
      expect(Object.keys(responses), `${method} ${path}`).toEqual(expect.arrayContaining(["400", "503"]));
      expect(responses["503"]?.headers).toHaveProperty("Retry-After");
      if (operation.requestBody) expect(Object.keys(responses)).toEqual(expect.arrayContaining(["413", "415"]));
    }
    const error = document.components.schemas.Error as Node & { properties: { error: Node } };
    expect(JSON.stringify(error.properties.error)).toContain("database_unavailable");
  });

  it("paginates every list with a cursor (limit and cursor in, nextCursor out)", () => {
    const lists = operations.filter(({ path, method }) => method === "get" && !path.endsWith("}"));
    const unpaginated = lists.filter(({ operation }) => {
      const schema = JSON.stringify((operation.responses as Record<string, Node>)["200"]);
      if (!schema.includes('"items"')) return false; // not a list (GET /v1/me)
      const names = ((operation.parameters ?? []) as Node[]).map((parameter) => parameter.name);
      return !(schema.includes("nextCursor") && names.includes("limit") && names.includes("cursor"));
    });
    // Known gap: the queue controls' configuration lists (limits, paused types, schedules) are
    // answered whole; they are named here so that no other list can join them unnoticed.
    expect(unpaginated.map(({ path }) => path).sort()).toEqual([
      "/v1/paused-types",
      "/v1/queue-limits",
      "/v1/schedules",
    ]);
  });

  it("the response checker catches a drift: an undocumented status and a body that does not match", () => {
    const contract = new Contract(document as unknown as OpenApiDocument);
    expect(
      contract.check("GET", "/v1/work-orders/0b6b7c2e-5f44-4c1a-9d3b-1f9b0f0d2a10", 418, {}, "application/json")
        .problems,
    ).toEqual([expect.stringContaining("not documented")]);
    const wrong = contract.check("GET", "/v1/me", 200, { key: { id: 5 } }, "application/json");
    expect(wrong.operation).toBe("GET /v1/me -> 200");
    expect(wrong.problems.length).toBeGreaterThan(0);
    expect(contract.check("GET", "/v1/nothing-here", 404, { error: "no" }, "application/json").problems).toHaveLength(
      1,
    );
  });
});

describeEachDatabase("the API keeps to its contract", (db) => {
  it("answers a known path with an unknown method 405, naming the allowed ones in Allow", async () => {
    const app = testApp(db().database);
    const { adminKey: key } = await seedWorkspace(db().database);
    const response = await call(app, "DELETE", "/v1/work-orders", { key });
    expect(response.status).toBe(405);
    expect(response.body.error.code).toBe("method_not_allowed");
    expect(response.headers.get("allow")).toBe("GET, HEAD, POST");
    const item = await call(app, "PUT", "/v1/work-items/0b6b7c2e-5f44-4c1a-9d3b-1f9b0f0d2a10/complete", { key });
    expect(item.status).toBe(405);
    expect(item.headers.get("allow")).toBe("POST");
    // An unknown path is still a 404.
    expect((await call(app, "GET", "/v1/no-such-thing", { key })).status).toBe(404);
  });

  it("refuses an unknown query parameter with 400 naming it, and changes nothing", async () => {
    const app = testApp(db().database);
    const { adminKey: key } = await seedWorkspace(db().database);
    const typo = await call(app, "GET", "/v1/work-orders?limt=5", { key });
    expect(typo.status).toBe(400);
    expect(typo.body.error).toMatchObject({ code: "validation_failed", details: [{ path: "limt" }] });
    const create = await call(app, "POST", "/v1/work-orders?dryRun=true", { key, body: { title: "t" } });
    expect(create.status).toBe(400);
    expect((await call(app, "GET", "/v1/work-orders", { key })).body.items).toEqual([]);
    // Declared parameters still work.
    expect((await call(app, "GET", "/v1/work-orders?limit=5&status=PENDING", { key })).status).toBe(200);
  });

  it("accepts expiresAt: null (a key that never expires) and admin@localhost as an address", async () => {
    const app = testApp(db().database);
    const { adminKey: key } = await seedWorkspace(db().database);
    const created = await call(app, "POST", "/v1/api-keys", {
      key,
      body: { name: "forever", scopes: ["work:read"], expiresAt: null },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.expiresAt).toBeNull();
    const local = await invitePerson(app, key, { role: "MEMBER", scopes: ["work:read"], email: "admin@localhost" });
    expect(local.email).toBe("admin@localhost");
    expect(
      (await call(app, "POST", "/v1/members", { key, body: { email: "not an address", role: "MEMBER" } })).status,
    ).toBe(400);
  });

  it("a recorded scenario (orders, claims, approvals, dead letters, memories, keys): every response matches the document", async () => {
    const { database } = db();
    const app = testApp(database);
    const { adminKey: key } = await seedWorkspace(database, "contract");
    const approver = await invitePerson(app, key, {
      role: "APPROVER",
      scopes: ["approvals:read", "approvals:decide", "work:read"],
    });
    const seen: string[] = [];
    const api = async (
      method: string,
      path: string,
      options: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
    ) => {
      const response = await call(app, method, path, { key, ...options });
      // `call` has already held the response to the document; this records which operation it was.
      expect(response.contract.problems).toEqual([]);
      seen.push(response.contract.operation ?? `${method} ${path} -> ${response.status}`);
      return response as { status: number; body: ResponseBody };
    };

    // Keys.
    const newKey = await api("POST", "/v1/api-keys", { body: { name: "worker", scopes: ["work:read", "work:write"] } });
    expect(newKey.status).toBe(201);
    expect((await api("GET", "/v1/api-keys?limit=1")).status).toBe(200);
    expect((await api("POST", `/v1/api-keys/${newKey.body.id}/revoke`)).status).toBe(200);

    // Orders and claims: one item completes, one fails into a dead letter, one waits for approval.
    const orderBody = {
      title: "Contract scenario",
      items: [
        { type: "ok", payload: { n: 1 } },
        { type: "broken", payload: { n: 2 }, maxAttempts: 1 },
        { type: "gated", payload: { n: 3 }, approval: { gate: "BEFORE", requiredApprovals: 1 } },
      ],
    };
    const idempotent = { headers: { "Idempotency-Key": "contract-1" }, body: orderBody };
    const order = await api("POST", "/v1/work-orders", idempotent);
    expect(order.status, JSON.stringify(order.body)).toBe(201);
    expect((await api("POST", "/v1/work-orders", idempotent)).status).toBe(200);
    expect((await api("GET", "/v1/work-orders?limit=10")).body.items).toHaveLength(1);
    const claimed = await api("POST", "/v1/work-items/claim", {
      body: { workerId: "w", types: ["ok", "broken"], limit: 5 },
    });
    expect(claimed.body.items).toHaveLength(2);
    const ok = claimed.body.items.find((item: ResponseBody) => item.type === "ok");
    const broken = claimed.body.items.find((item: ResponseBody) => item.type === "broken");
    const fence = (item: ResponseBody) => ({ attemptId: item.attemptId, fencingToken: item.fencingToken });
    expect((await api("POST", `/v1/work-items/${ok.id}/heartbeat`, { body: fence(ok) })).status).toBe(200);
    expect(
      (await api("POST", `/v1/work-items/${ok.id}/complete`, { body: { ...fence(ok), result: { done: true } } }))
        .status,
    ).toBe(200);
    expect((await api("POST", `/v1/work-items/${ok.id}/complete`, { body: { ...fence(ok), result: {} } })).status).toBe(
      409,
    );
    expect(
      (await api("POST", `/v1/work-items/${broken.id}/fail`, { body: { ...fence(broken), error: "boom" } })).status,
    ).toBe(200);
    expect((await api("GET", `/v1/work-items/${broken.id}`)).body.status).toBe("FAILED");

    // Approvals.
    const requestId = order.body.approvalRequestIds[0];
    expect((await api("GET", "/v1/approvals?limit=5")).status).toBe(200);
    expect((await api("GET", `/v1/approvals/${requestId}`)).status).toBe(200);
    const decided = await api("POST", `/v1/approvals/${requestId}/decisions`, {
      key: approver.key,
      body: { decision: "APPROVED", reason: "fine" },
    });
    expect(decided.status, JSON.stringify(decided.body)).toBe(201);
    expect((await api("GET", `/v1/work-orders/${order.body.id}`)).status).toBe(200);

    // Dead letters.
    const letters = await api("GET", "/v1/dead-letters");
    expect(letters.body.items).toHaveLength(1);
    const letterId = letters.body.items[0].id;
    expect((await api("GET", `/v1/dead-letters/${letterId}`)).status).toBe(200);
    expect((await api("POST", `/v1/dead-letters/${letterId}/redrive`, { body: {} })).status).toBe(200);
    expect((await api("POST", `/v1/dead-letters/${letterId}/discard`, { body: { reason: "done" } })).status).toBe(409);

    // Memories.
    const memory = await api("POST", "/v1/memories", { body: { content: "Deploys are frozen until Monday." } });
    expect(memory.status).toBe(201);
    expect((await api("POST", "/v1/memories", { body: { content: "Deploys are frozen until Monday." } })).status).toBe(
      200,
    );
    const batch = await api("POST", "/v1/memories:batch", {
      body: {
        items: [{ content: "The on-call rota is in the wiki." }, { content: "Invoices over 1000 need two approvals." }],
      },
    });
    expect([200, 201]).toContain(batch.status);
    expect((await api("POST", "/v1/memories/search", { body: { query: "deploy freeze", topK: 3 } })).status).toBe(200);
    expect((await api("GET", `/v1/memories/${memory.body.id}`)).status).toBe(200);
    expect(
      (await api("PATCH", `/v1/memories/${memory.body.id}`, { body: { pinnedTier: null, importance: 0.9 } })).status,
    ).toBe(200);
    expect((await api("GET", "/v1/memories?limit=2")).status).toBe(200);
    expect((await api("DELETE", `/v1/memories/${memory.body.id}`)).status).toBe(204);

    // Errors are part of the contract too.
    expect((await api("GET", "/v1/work-orders/0b6b7c2e-5f44-4c1a-9d3b-1f9b0f0d2a10")).status).toBe(404);
    expect((await api("POST", "/v1/work-orders", { body: { title: "" } })).status).toBe(400);
    expect((await api("GET", "/v1/work-orders", { key: "cairn_nope" })).status).toBe(401);

    expect(seen).toEqual(
      expect.arrayContaining([
        "POST /v1/api-keys -> 201",
        "POST /v1/work-orders -> 201",
        "POST /v1/work-items/claim -> 200",
        "POST /v1/work-items/{id}/complete -> 409",
        "POST /v1/approvals/{id}/decisions -> 201",
        "POST /v1/dead-letters/{id}/redrive -> 200",
        "POST /v1/memories/search -> 200",
        "DELETE /v1/memories/{id} -> 204",
        "GET /v1/work-orders -> 401",
      ]),
    );
  });
});
