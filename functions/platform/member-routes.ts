/** `/v1/members`: the workspace's members and their roles. */
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, inTenant } from "../shared/app";
import { requireScope } from "../shared/auth";
import { errorResponses, json, jsonBody } from "../shared/openapi";
import { PageQuery, pageSchema } from "../shared/pagination";
import { Invitation } from "./invitations";
import {
  AddMemberInput,
  addMember,
  listMembers,
  reinviteMember,
  removeMember,
  UpdateMemberInput,
  updateMember,
} from "./members";
import { Member } from "./schemas";

const InvitedMember = z.object({ member: Member, invitation: Invitation }).openapi("InvitedMember");

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
      request: { query: PageQuery },
      responses: { 200: json(pageSchema(Member), "A page of members, newest first"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => listMembers(tx, c.var.actor, c.req.valid("query"))), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/members",
      tags,
      summary: "Invite a member by email: the answer carries their single-use invitation (its secret shown once)",
      description:
        "Give the invitation's secret to the person; they redeem it with POST /v1/invitations/accept for their own key. " +
        "Nobody grants a role above their own; only an OWNER grants OWNER.",
      middleware: [admin] as const,
      request: jsonBody(AddMemberInput),
      responses: { 201: json(InvitedMember, "Invited"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => addMember(tx, c.var.actor, c.req.valid("json"))), 201),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/members/{userId}/invitations",
      tags,
      summary: "A new invitation for a member who lost their key (earlier unredeemed ones stop working)",
      middleware: [admin] as const,
      request: { params: UserParam },
      responses: { 201: json(InvitedMember, "Invited"), ...errorResponses },
    }),
    async (c) => c.json(await inTenant(c, (tx) => reinviteMember(tx, c.var.actor, c.req.valid("param").userId)), 201),
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
