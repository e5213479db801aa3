/** `/v1/activity`: the workspace's activity log, newest first; each row as readable as its entity. */
import { createRoute } from "@hono/zod-openapi";
import { createRouter, inTenant } from "../shared/app";
import { errorResponses, json } from "../shared/openapi";
import { pageSchema } from "../shared/pagination";
import { ActivityQuery, listActivity } from "./activity";
import { ActivityEntry } from "./activity-schemas";

export const activityRoutes = createRouter().openapi(
  createRoute({
    method: "get",
    path: "/v1/activity",
    tags: ["Platform"],
    summary: "Who did what to which entity, newest first (filters: entity, actor, action, time range)",
    description:
      "A row is readable with the scope that reads its entity: work:read (work orders, items, dead letters, " +
      "templates), approvals:read (approval requests and policies), memory:read (memories, events, conversations), " +
      "platform:read (connectors, tools, capabilities, schemas, members, the workspace); API keys and any other " +
      "entity type need admin. Rows the key cannot read are left out; filtering on an entity type it cannot read, " +
      "or having none of those scopes, is a 403.",
    request: { query: ActivityQuery },
    responses: { 200: json(pageSchema(ActivityEntry), "A page of activity"), ...errorResponses },
  }),
  // The scope check is per row (see functions/platform/activity.ts), so there is no route-level scope.
  async (c) => c.json(await inTenant(c, (tx) => listActivity(tx, c.var.actor, c.req.valid("query"))), 200),
);
