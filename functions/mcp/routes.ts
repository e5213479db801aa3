/**
 * `POST /mcp`: MCP over Streamable HTTP, stateless. Every request gets a new server and a new
 * transport and nothing is kept between requests (no session id), so any Lambda container,
 * or any process, can answer any request. The caller is the API key's actor: the shared
 * middleware authenticated it before this handler runs, as for /v1.
 *
 * The SDK's web-standard transport takes a fetch `Request` and returns a `Response`, which is
 * what Hono hands over both under @hono/node-server and in Lambda (hono/aws-lambda).
 */
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { createRouter, inTenant, type Router } from "../shared/app";
import { AppError, toErrorBody } from "../shared/errors";
import { MAX_WAIT_SECONDS } from "./approval-tools";
import { createCairnMcpServer } from "./server";
import type { McpLimits } from "./tool";

export type McpRouteOptions = Partial<McpLimits>;

const DEFAULT_LIMITS: McpLimits = { maxWaitSeconds: MAX_WAIT_SECONDS, pollIntervalMs: 1000 };

export function createMcpRoutes(options: McpRouteOptions = {}): Router {
  const limits: McpLimits = { ...DEFAULT_LIMITS, ...options };
  if (limits.maxWaitSeconds < 1 || limits.pollIntervalMs < 1) throw new Error("MCP limits must be positive");
  const router = createRouter();
  router.all("/mcp", async (c) => {
    if (c.req.method !== "POST") {
      // Stateless: no stream for server-initiated messages (GET) and no session to end
      // (DELETE). The SDK's clients read 405 as "not offered" and carry on over POST.
      c.header("Allow", "POST");
      return c.json(
        toErrorBody(new AppError("method_not_allowed", "MCP is served over POST only (stateless Streamable HTTP)")),
        405,
      );
    }
    const server = createCairnMcpServer({
      actor: c.var.actor,
      tenant: (fn, settings) => inTenant(c, fn, settings),
      limits,
      requestId: c.var.requestId,
      signal: c.req.raw.signal,
    });
    // SSE responses (not enableJsonResponse): progress notifications travel on the call's stream.
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    await server.connect(transport);
    return transport.handleRequest(c.req.raw);
  });
  return router;
}

/** Local server and tests: waits of up to MAX_WAIT_SECONDS. The Lambda caps them lower (handler.ts). */
export const mcpRoutes = createMcpRoutes();
