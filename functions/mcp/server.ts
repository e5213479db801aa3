/**
 * The MCP server of one request: the tools and resources the caller's API key may use, over
 * the caller's workspace. Nothing outlives the request (the HTTP endpoint is stateless).
 *
 * Built on the SDK's low-level `Server` rather than `McpServer.registerTool`, for two reasons
 * found in SDK 1.32: registerTool validates arguments itself and reports a failure as bare text
 * (not the API's `validation_failed` with each issue's path, which `parseInput` gives here),
 * and its tools/list conversion throws on the API schemas' coerced dates (search filters).
 * The schemas are the API's zod schemas either way (see tool.ts).
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  type ServerNotification,
  type ServerRequest,
} from "@modelcontextprotocol/sdk/types.js";
import { type Actor, hasScope } from "../shared/actor";
import { AppError, Forbidden, fromDatabaseError, toErrorBody } from "../shared/errors";
import { logger } from "../shared/logger";
import { approvalTools } from "./approval-tools";
import { memoryTools } from "./memory-tools";
import { matchResource, resourceTemplates } from "./resources";
import type { CairnTool, McpContext, McpLimits } from "./tool";
import { workTools } from "./work-tools";

export const tools: CairnTool[] = [...memoryTools, ...workTools, ...approvalTools];

/** JSON-RPC code MCP gives an unknown resource. */
const RESOURCE_NOT_FOUND = -32002;

const INSTRUCTIONS = `Cairn: durable work orders with human approvals and dead letters, and a shared memory, for one workspace (this API key's).
- Before answering or acting, search_memories for what the team already knows; remember durable facts and decisions (storing is deduplicated).
- Before a risky, irreversible or costly action, request_approval and act only once wait_for_approval (or get_approval) says APPROVED.
- As a worker: claim_work_item, then complete_work_item or fail_work_item with the claim's attemptId and fencingToken.
- Errors are JSON {"error":{"code","message","details"}} with the API's codes: validation_failed (fix the arguments), forbidden, not_found, conflict, invalid.`;

export interface McpSession {
  actor: Actor;
  tenant: McpContext["tenant"];
  limits: McpLimits;
  /** The HTTP request's id, for the logs. */
  requestId: string;
  /** Aborted when the HTTP client goes away. */
  signal?: AbortSignal;
}

/** An error as the API would answer it; anything unexpected is logged and reported without its details. */
function asAppError(error: unknown, session: McpSession, what: Record<string, unknown>): AppError {
  const known = error instanceof AppError ? error : fromDatabaseError(error);
  if (known) return known;
  logger.error("mcp call failed", { requestId: session.requestId, ...what, error });
  return new AppError("internal", "Internal error", { requestId: session.requestId });
}

function toolResult(value: unknown): CallToolResult {
  return { content: [{ type: "text", text: JSON.stringify(value) }] };
}

function toolError(error: AppError): CallToolResult {
  return { isError: true, content: [{ type: "text", text: JSON.stringify(toErrorBody(error)) }] };
}

/** Resource reads have no tool-style error result: the API error travels as a JSON-RPC error's data. */
function resourceError(error: AppError, uri: string): McpError {
  const code =
    error.code === "not_found"
      ? RESOURCE_NOT_FOUND
      : error.code === "validation_failed" || error.code === "invalid"
        ? ErrorCode.InvalidParams
        : error.code === "internal"
          ? ErrorCode.InternalError
          : ErrorCode.InvalidRequest;
  return new McpError(code, error.message, { uri, ...toErrorBody(error) });
}

export function createCairnMcpServer(session: McpSession): Server {
  const server = new Server(
    { name: "cairn", title: "Cairn", version: "0.1.0" },
    { capabilities: { tools: {}, resources: {} }, instructions: INSTRUCTIONS },
  );
  const allowed = <T extends { scope: CairnTool["scope"] }>(entries: T[]) =>
    entries.filter((entry) => hasScope(session.actor, entry.scope));

  const contextFor = (extra: RequestHandlerExtra<ServerRequest, ServerNotification>): McpContext => {
    const progressToken = extra._meta?.progressToken;
    return {
      actor: session.actor,
      tenant: session.tenant,
      limits: session.limits,
      signal: session.signal ? AbortSignal.any([extra.signal, session.signal]) : extra.signal,
      progress: async (progress, total, message) => {
        if (progressToken === undefined) return;
        try {
          await extra.sendNotification({
            method: "notifications/progress",
            params: { progressToken, progress, total, message },
          });
        } catch (error) {
          // A client that went away misses its progress; the call itself still ends normally.
          logger.debug("mcp progress not delivered", { requestId: session.requestId, error });
        }
      },
    };
  };

  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: allowed(tools).map((tool) => ({
      name: tool.name,
      title: tool.title,
      description: tool.description,
      inputSchema: tool.inputJsonSchema,
      annotations: tool.annotations,
    })),
  }));

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const name = request.params.name;
    const tool = tools.find((candidate) => candidate.name === name);
    if (!tool) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
    const started = performance.now();
    let outcome = "ok";
    try {
      if (!hasScope(session.actor, tool.scope)) throw new Forbidden(`This API key lacks the '${tool.scope}' scope`);
      return toolResult(await tool.call(contextFor(extra), request.params.arguments ?? {}));
    } catch (error) {
      const failure = asAppError(error, session, { tool: name });
      outcome = failure.code;
      return toolError(failure);
    } finally {
      // The tool and the outcome, never the arguments: they may hold anything a model wrote.
      logger.info("mcp tool call", {
        requestId: session.requestId,
        tool: name,
        outcome,
        ms: Math.round(performance.now() - started),
      });
    }
  });

  // Resources are addressed by template only: nothing to enumerate.
  server.setRequestHandler(ListResourcesRequestSchema, () => ({ resources: [] }));

  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
    resourceTemplates: allowed(resourceTemplates).map((resource) => ({
      uriTemplate: resource.uriTemplate,
      name: resource.name,
      title: resource.title,
      description: resource.description,
      mimeType: resource.mimeType,
    })),
  }));

  server.setRequestHandler(ReadResourceRequestSchema, async (request, extra) => {
    const uri = request.params.uri;
    const matched = matchResource(uri);
    if (!matched) {
      throw new McpError(RESOURCE_NOT_FOUND, `No Cairn resource has the URI ${uri}`, {
        uri,
        templates: resourceTemplates.map((resource) => resource.uriTemplate),
      });
    }
    try {
      if (!hasScope(session.actor, matched.resource.scope)) {
        throw new Forbidden(`This API key lacks the '${matched.resource.scope}' scope`);
      }
      const value = await matched.resource.read(contextFor(extra), matched.variables);
      return { contents: [{ uri, mimeType: matched.resource.mimeType, text: JSON.stringify(value) }] };
    } catch (error) {
      throw resourceError(asAppError(error, session, { resource: matched.resource.name }), uri);
    }
  });

  server.onerror = (error) => logger.warn("mcp protocol error", { requestId: session.requestId, error });
  return server;
}
