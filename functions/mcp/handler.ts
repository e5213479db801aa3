import { lambdaHandler } from "../shared/lambda";
import { createMcpRoutes } from "./routes";

/**
 * The MCP context's Lambda: `/mcp` for agents, over the memory, work-order and approval domain
 * code (not their HTTP apps). API Gateway ends an HTTP API integration at 30 s and the function
 * times out at 29, so one `wait_for_approval` call waits at most 20 s here and then answers
 * "still pending"; the agent calls again. Responses are buffered (API Gateway does not stream),
 * so progress notifications arrive together with the result.
 */
export const handler = lambdaHandler([createMcpRoutes({ maxWaitSeconds: 20 })]);
