import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { migrate } from "../db/migrate";
import { openTestDatabase, type TestDatabase, targets } from "./support/databases";
import { seedWorkspace } from "./support/http";

/** An API Gateway HTTP API (payload v2) request, as the gateway hands it to a context's Lambda. */
function apiEvent(method: string, path: string, key: string | undefined, body?: unknown): APIGatewayProxyEventV2 {
  const [rawPath, rawQueryString = ""] = path.split("?");
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: rawPath!,
    rawQueryString,
    headers: {
      host: "api.example.test",
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    requestContext: {
      accountId: "123456789012",
      apiId: "api",
      domainName: "api.example.test",
      domainPrefix: "api",
      http: { method, path: rawPath!, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "vitest" },
      requestId: crypto.randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    isBase64Encoded: false,
  };
}

const context = { functionName: "test", getRemainingTimeInMillis: () => 29_000 } as unknown as Context;

type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

async function invoke(handler: Handler, method: string, path: string, key?: string, body?: unknown) {
  const result = await handler(apiEvent(method, path, key, body), context);
  return { status: result.statusCode, body: result.body ? JSON.parse(result.body) : undefined };
}

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

// The Lambdas connect with the deployed URL (DATABASE_URL here): on the real-Postgres target a
// fresh migrated database reached through the Neon driver, as in AWS; on the PGlite target an
// in-memory PGlite, migrated and seeded through the Lambdas' own connection.
for (const target of targets) {
  describe(`context Lambda handlers with API Gateway v2 events [${target}]`, () => {
    let db: TestDatabase | undefined;
    let key: string;
    const saved = { url: process.env.DATABASE_URL, driver: process.env.CAIRN_DB_DRIVER };

    beforeAll(async () => {
      if (target === "postgres") {
        db = await openTestDatabase(target);
        process.env.DATABASE_URL = db.url;
        process.env.CAIRN_DB_DRIVER = "neon";
      } else {
        process.env.DATABASE_URL = "pglite:memory";
        delete process.env.CAIRN_DB_DRIVER;
      }
      const { lambdaDatabase } = await import("../functions/shared/lambda-database");
      const database = await lambdaDatabase();
      if (target === "pglite") await migrate(database);
      key = (await seedWorkspace(database)).adminKey;
    });
    afterAll(async () => {
      const { lambdaDatabase } = await import("../functions/shared/lambda-database");
      await (await lambdaDatabase()).close();
      // The next target's handlers must open their own connection (one per container).
      vi.resetModules();
      restoreEnv("DATABASE_URL", saved.url);
      restoreEnv("CAIRN_DB_DRIVER", saved.driver);
      await db?.close();
    });

    it("serve each context's routes through its own handler, authenticated, in the error shape", async () => {
      const platform = (await import("../functions/platform/handler")).handler as unknown as Handler;
      const workOrders = (await import("../functions/work-orders/handler")).handler as unknown as Handler;
      const approvals = (await import("../functions/approvals/handler")).handler as unknown as Handler;
      const memory = (await import("../functions/memory/handler")).handler as unknown as Handler;

      const health = await invoke(platform, "GET", "/health");
      expect(health.status).toBe(200);
      expect(health.body.database).toEqual({ status: "ok", driver: target === "postgres" ? "neon" : "pglite" });
      // The provider under the name of the setting that selects it (CAIRN_EMBEDDING_PROVIDER=lexical, the default).
      expect(health.body.embedding).toMatchObject({ provider: "lexical", dimensions: 768 });
      expect((await invoke(platform, "GET", "/v1/workspaces", key)).body.items).toHaveLength(1);
      expect((await invoke(platform, "GET", "/v1/workspaces")).status).toBe(401);

      const order = await invoke(workOrders, "POST", "/v1/work-orders", key, {
        title: "via lambda",
        items: [{ type: "T", payload: {} }],
      });
      expect(order.status).toBe(201);
      const claimed = await invoke(workOrders, "POST", "/v1/work-items/claim", key, {
        workerId: "w",
        limit: 1,
        leaseSeconds: 30,
      });
      expect(claimed.body.items[0].id).toBe(order.body.items[0].id);

      expect((await invoke(approvals, "GET", "/v1/approvals?status=PENDING", key)).status).toBe(200);

      const memoryWrite = await invoke(memory, "POST", "/v1/memories", key, {
        content: "Lambdas share one pool per container",
      });
      expect(memoryWrite.status).toBe(201);
      const search = await invoke(memory, "POST", "/v1/memories/search", key, { query: "pool per container", topK: 3 });
      expect(search.status).toBe(200);
      expect(search.body.results[0].id).toBe(memoryWrite.body.id);

      // A route of another context is not there: each Lambda holds only its own.
      const elsewhere = await invoke(memory, "GET", "/v1/work-orders", key);
      expect(elsewhere.status).toBe(404);
      expect(elsewhere.body.error.code).toBe("not_found");
    });
  });
}
