/**
 * `GET /v1/me`: who the presented API key is — the key itself (never its secret or hash), the
 * person it acts as (none for a service key), their current role and the workspace the key
 * belongs to. A key belongs to exactly one workspace, so this is also "where am I" for a client
 * such as the console.
 */
import { z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import type { Tx } from "../../db/client";
import { apiKeys, users, workspaceMembers, workspaces } from "../../db/schema";
import type { Actor } from "../shared/actor";
import { NotFound } from "../shared/errors";
import { createSelectSchema, selection } from "../shared/schemas";
import { ApiKey } from "./schemas";

const MeKey = ApiKey.pick({
  id: true,
  name: true,
  prefix: true,
  scopes: true,
  expiresAt: true,
  lastUsedAt: true,
  createdAt: true,
}).extend({
  effectiveScopes: ApiKey.shape.scopes.openapi({
    description: "What the key may do now: its scopes within what the person's current role allows",
  }),
});
/** The person as this workspace knows them (the name is the one this workspace gave them). */
const MeUser = createSelectSchema(users)
  .pick({ id: true, email: true })
  .extend({ name: createSelectSchema(workspaceMembers).shape.displayName });
const MeWorkspace = createSelectSchema(workspaces).pick({ id: true, name: true });

export const Me = z
  .object({
    apiKey: MeKey,
    user: MeUser.nullable().openapi({ description: "The person the key acts as; null for a service key" }),
    // Inline rather than the MemberRole component: a nullable $ref loses its null in the document.
    role: createSelectSchema(workspaceMembers)
      .shape.role.nullable()
      .openapi({ description: "The user's role in the workspace (null: no longer a member)" }),
    workspace: MeWorkspace,
  })
  .openapi("Me");
export type Me = z.output<typeof Me>;

export async function whoAmI(tx: Tx, actor: Actor): Promise<Me> {
  const [row] = await tx
    .select({
      key: selection(apiKeys, MeKey.omit({ effectiveScopes: true })),
      userId: users.id,
      email: users.email,
      name: workspaceMembers.displayName,
      workspace: selection(workspaces, MeWorkspace),
    })
    .from(apiKeys)
    .innerJoin(workspaces, eq(workspaces.id, apiKeys.workspaceId))
    .leftJoin(users, eq(users.id, apiKeys.userId))
    .leftJoin(
      workspaceMembers,
      and(eq(workspaceMembers.workspaceId, apiKeys.workspaceId), eq(workspaceMembers.userId, apiKeys.userId)),
    )
    .where(and(eq(apiKeys.workspaceId, actor.workspaceId), eq(apiKeys.id, actor.apiKeyId)));
  // The key was found a moment ago by authentication; gone now means revoked and deleted in between.
  if (!row) throw new NotFound("API key", actor.apiKeyId);
  return {
    apiKey: { ...row.key, effectiveScopes: actor.scopes },
    user: row.userId && row.email ? { id: row.userId, email: row.email, name: row.name } : null,
    role: actor.role,
    workspace: row.workspace,
  };
}
