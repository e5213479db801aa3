/**
 * The MCP Lambda (functions/mcp/handler.ts) as API Gateway invokes it: an HTTP API (payload v2)
 * event in, a buffered response out. The Streamable HTTP answer is an SSE body, complete when
 * the call is done, which is all a buffered Lambda response can be.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { migrate } from "../../db/migrate";
import { openTestDatabase, type TestDatabase, targets } from "../support/databases";
import { seedWorkspace } from "../support/http";

type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

const context = { functionName: "mcp", getRemainingTimeInMillis: () => 29_000 } as unknown as Context;

function mcpEvent(method: string, key: string | undefined, body?: unknown): APIGatewayProxyEventV2 {
  return {
    version: "2.0",
    routeKey: "ANY /mcp",
    rawPath: "/mcp",
    rawQueryString: "",
    headers: {
      host: "api.example.test",
      accept: "application/json, text/event-stream",
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    requestContext: {
      accountId: "123456789012",
      apiId: "api",
      domainName: "api.example.test",
      domainPrefix: "api",
      http: { method, path: "/mcp", protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "vitest" },
      requestId: crypto.randomUUID(),
      routeKey: "ANY /mcp",
      stage: "$default",
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    isBase64Encoded: false,
  };
}

/**
 * The JSON-RPC messages of an SSE body (`data:` lines). hono/aws-lambda base64-encodes a
 * text/event-stream body (it is not among the types it sends as text); API Gateway decodes it
 * for the client, as it does for every response marked isBase64Encoded.
 */
function sseMessages(
  result: APIGatewayProxyStructuredResultV2,
): Array<{ id?: number; result?: Record<string, unknown> }> {
  const body = result.isBase64Encoded ? Buffer.from(result.body ?? "", "base64").toString("utf8") : (result.body ?? "");
  return body
    .split("\n")
    .filter((line) => line.startsWith("data: "))
    .map((line) => JSON.parse(line.slice("data: ".length)));
}

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

for (const target of targets) {
  describe(`MCP Lambda handler with API Gateway v2 events [${target}]`, () => {
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
      const { lambdaDatabase } = await import("../../functions/shared/lambda-database");
      const database = await lambdaDatabase();
      if (target === "pglite") await migrate(database);
      key = (await seedWorkspace(database)).adminKey;
    });
    afterAll(async () => {
      const { lambdaDatabase } = await import("../../functions/shared/lambda-database");
      await (await lambdaDatabase()).close();
      vi.resetModules();
      restoreEnv("DATABASE_URL", saved.url);
      restoreEnv("CAIRN_DB_DRIVER", saved.driver);
      await db?.close();
    });

    it("lists the tools and runs one, authenticated, with no session", async () => {
      const handler = (await import("../../functions/mcp/handler")).handler as unknown as Handler;

      const listed = await handler(mcpEvent("POST", key, { jsonrpc: "2.0", id: 1, method: "tools/list" }), context);
      expect(listed.statusCode).toBe(200);
      expect(listed.headers?.["content-type"]).toContain("text/event-stream");
      expect(listed.headers?.["mcp-session-id"]).toBeUndefined();
      const [list] = sseMessages(listed);
      const tools = (list?.result?.tools ?? []) as Array<{ name: string }>;
      expect(tools.map((tool) => tool.name)).toContain("wait_for_approval");

      const called = await handler(
        mcpEvent("POST", key, {
          jsonrpc: "2.0",
          id: 2,
          method: "tools/call",
          params: { name: "remember", arguments: { content: "Lambdas answer MCP statelessly" } },
        }),
        context,
      );
      const [call] = sseMessages(called);
      expect(call?.id).toBe(2);
      expect(call?.result?.isError).toBeUndefined();
      const content = call?.result?.content as Array<{ text: string }>;
      expect(JSON.parse(content[0]?.text ?? "{}")).toMatchObject({ deduplicated: false });

      const anonymous = await handler(
        mcpEvent("POST", undefined, { jsonrpc: "2.0", id: 3, method: "tools/list" }),
        context,
      );
      expect(anonymous.statusCode).toBe(401);
      expect((await handler(mcpEvent("GET", key), context)).statusCode).toBe(405);
    });
  });
}
