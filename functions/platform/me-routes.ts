/** `/v1/me`: the caller's key, user, role and workspace. Any valid key may ask. */
import { createRoute } from "@hono/zod-openapi";
import { createRouter, inTenant } from "../shared/app";
import { errorResponses, json } from "../shared/openapi";
import { Me, whoAmI } from "./me";

export const meRoutes = createRouter().openapi(
  createRoute({
    method: "get",
    path: "/v1/me",
    tags: ["Platform"],
    summary: "Who this API key is: the key (never its secret), its user, their role and the key's workspace",
    responses: { 200: json(Me, "The caller"), ...errorResponses },
  }),
  async (c) => c.json(await inTenant(c, (tx) => whoAmI(tx, c.var.actor)), 200),
);
