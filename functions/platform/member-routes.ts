/** `/v1/members`: the workspace's members and their roles. */
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, inTenant } from "../shared/app";
import { requireScope } from "../shared/auth";
import { errorResponses, json, jsonBody } from "../shared/openapi";
import { AddMemberInput, addMember, listMembers, removeMember, UpdateMemberInput, updateMember } from "./members";
import { Member } from "./schemas";

const tags = ["Platform"];
const admin = requireScope("admin");
const UserParam = z.object({
  userId: z
    .string()
    .uuid()
    .openapi({ param: { name: "userId", in: "path" } }),
});

export const memberRoutes = createRouter()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/members",
      tags,
      summary: "Members of the workspace and their roles",
      middleware: [requireScope("platform:read")] as const,
      responses: { 200: json(z.object({ items: z.array(Member) }), "Members"), ...errorResponses },
    }),
    async (c) => c.json({ items: await inTenant(c, (tx) => listMembers(tx, c.var.actor)) }, 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/members",
      tags,
      summary: "Add a member by email (the user is created if new)",
      middleware: [admin] as const,
      request: jsonBody(AddMemberInput),
      responses: { 201: json(Member, "Added"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => addMember(tx, c.var.actor, c.req.valid("json"))), 201),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/v1/members/{userId}",
      tags,
      summary: "Change a member's role",
      middleware: [admin] as const,
      request: { params: UserParam, ...jsonBody(UpdateMemberInput) },
      responses: { 200: json(Member, "Updated"), ...errorResponses },
    }),
    async (c) =>
      c.json(
        await inTenant(c, (tx) => updateMember(tx, c.var.actor, c.req.valid("param").userId, c.req.valid("json"))),
        200,
      ),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/members/{userId}",
      tags,
      summary: "Remove a member",
      middleware: [admin] as const,
      request: { params: UserParam },
      responses: { 204: { description: "Removed" }, ...errorResponses },
    }),
    async (c) => {
      await inTenant(c, (tx) => removeMember(tx, c.var.actor, c.req.valid("param").userId));
      return c.body(null, 204);
    },
  );
