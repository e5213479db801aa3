/**
 * The one place that says which bounded context (and so which Lambda) serves which
 * HTTP route. `infra/api.ts` turns this into API Gateway routes; the local server and
 * the route-coverage test read it too. Route keys use API Gateway syntax: an exact
 * route wins over a greedy `{proxy+}` one, so a context may own one path below
 * another context's prefix (memory owns connector event intake).
 *
 * Plain data on purpose: the SST config imports it, so it must not pull in any runtime.
 */
export type ContextName = "platform" | "workOrders" | "approvals" | "memory" | "mcp";

export interface ContextRoutes {
  /** Lambda entry, relative to the repository root, as SST's `handler` expects. */
  handler: string;
  routes: string[];
}

const resource = (path: string) => [`ANY ${path}`, `ANY ${path}/{proxy+}`];

export const contexts: Record<ContextName, ContextRoutes> = {
  platform: {
    handler: "functions/platform/handler.handler",
    routes: [
      // Anything no other route matches: the app answers 404 in Cairn's error shape.
      "$default",
      "GET /health",
      "GET /openapi.json",
      "GET /docs",
      "GET /docs/api-reference.js",
      ...resource("/v1/workspaces"),
      ...resource("/v1/members"),
      ...resource("/v1/invitations"),
      ...resource("/v1/api-keys"),
      ...resource("/v1/connectors"),
      ...resource("/v1/tools"),
      ...resource("/v1/capabilities"),
      ...resource("/v1/schemas"),
      ...resource("/v1/projects"),
      "ANY /v1/me",
      "ANY /v1/activity",
    ],
  },
  workOrders: {
    handler: "functions/work-orders/handler.handler",
    routes: [
      ...resource("/v1/work-orders"),
      ...resource("/v1/work-items"),
      "POST /v1/work-items:complete",
      ...resource("/v1/dead-letters"),
      ...resource("/v1/workflow-templates"),
      ...resource("/v1/queue-limits"),
      ...resource("/v1/paused-types"),
      ...resource("/v1/schedules"),
    ],
  },
  approvals: {
    handler: "functions/approvals/handler.handler",
    routes: [...resource("/v1/approvals"), ...resource("/v1/approval-policies")],
  },
  memory: {
    handler: "functions/memory/handler.handler",
    routes: [
      ...resource("/v1/memories"),
      "POST /v1/memories:batch",
      "POST /v1/memories:forget",
      ...resource("/v1/events"),
      ...resource("/v1/conversations"),
      "POST /v1/connectors/{id}/events",
    ],
  },
  // MCP for agents (stateless Streamable HTTP): its own function, over the other contexts' domain code.
  mcp: { handler: "functions/mcp/handler.handler", routes: ["ANY /mcp"] },
};
