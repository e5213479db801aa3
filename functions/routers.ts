import { approvalRoutes } from "./approvals/routes";
import { mcpRoutes } from "./mcp/routes";
import { memoryRoutes } from "./memory/routes";
import { platformRoutes } from "./platform/routes";
import type { Router } from "./shared/app";
import { workOrderRoutes } from "./work-orders/routes";

/** Every context's routes, for the local server and tests (each Lambda mounts only its own). */
export const allRouters: Record<"platform" | "workOrders" | "approvals" | "memory" | "mcp", Router> = {
  platform: platformRoutes,
  workOrders: workOrderRoutes,
  approvals: approvalRoutes,
  memory: memoryRoutes,
  mcp: mcpRoutes,
};
