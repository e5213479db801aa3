/**
 * `GET /v1/me`: who the presented API key is — the key itself (never its secret or hash), the
 * person it acts as, their role and the workspace the key belongs to. A key belongs to exactly
 * one workspace, so this is also "where am I" for a client such as the console.
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
});
const MeUser = createSelectSchema(users).pick({ id: true, email: true, name: true });
const MeWorkspace = createSelectSchema(workspaces).pick({ id: true, name: true });

export const Me = z
  .object({
    apiKey: MeKey,
    user: MeUser,
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
      key: selection(apiKeys, MeKey),
      user: selection(users, MeUser),
      workspace: selection(workspaces, MeWorkspace),
      role: workspaceMembers.role,
    })
    .from(apiKeys)
    .innerJoin(users, eq(users.id, apiKeys.userId))
    .innerJoin(workspaces, eq(workspaces.id, apiKeys.workspaceId))
    .leftJoin(
      workspaceMembers,
      and(eq(workspaceMembers.workspaceId, apiKeys.workspaceId), eq(workspaceMembers.userId, apiKeys.userId)),
    )
    .where(and(eq(apiKeys.workspaceId, actor.workspaceId), eq(apiKeys.id, actor.apiKeyId)));
  // The key was found a moment ago by authentication; gone now means revoked and deleted in between.
  if (!row) throw new NotFound("API key", actor.apiKeyId);
  return { apiKey: row.key, user: row.user, role: row.role, workspace: row.workspace };
}
