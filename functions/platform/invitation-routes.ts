/** `/v1/invitations/accept`: a person redeems their invitation for their own key (no API key needed). */
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "../shared/app";
import { bearerKey } from "../shared/auth";
import { errorResponses, json, jsonBody } from "../shared/openapi";
import { AcceptInvitationInput, acceptInvitation } from "./invitations";
import { CreatedApiKey } from "./schemas";

const RedeemedKey = CreatedApiKey.extend({
  workspaceId: z.string().uuid(),
  identityVerified: z
    .boolean()
    .openapi({ description: "Whether this key may list the person's other workspaces (see the description)" }),
}).openapi("RedeemedInvitationKey");

export const invitationRoutes = createRouter().openapi(
  createRoute({
    method: "post",
    path: "/v1/invitations/accept",
    tags: ["Platform"],
    summary: "Redeem an invitation, once, for your own key in the workspace",
    description:
      "Authenticated by the invitation's secret alone; the key's scopes must be within what your role allows. " +
      "If you already use Cairn in another workspace, also send one of your keys there as `Authorization: Bearer <key>`: " +
      "that links the two, and the new key then lists your other workspaces too.",
    security: [],
    request: jsonBody(AcceptInvitationInput),
    responses: { 201: json(RedeemedKey, "Your key (the secret is in this response only)"), ...errorResponses },
  }),
  async (c) =>
    c.json(
      await acceptInvitation(c.var.database, c.req.valid("json"), {
        proofKey: bearerKey(c.req.header("authorization")),
      }),
      201,
    ),
);
