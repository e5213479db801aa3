import { z } from "@hono/zod-openapi";
import { and, desc, eq } from "drizzle-orm";
import { one, type Tx } from "../../db/client";
import { apiKeys, workspaceMembers } from "../../db/schema";
import { type Actor, actorRef, Scope } from "../shared/actor";
import { audit } from "../shared/audit";
import { generateApiKey } from "../shared/auth";
import { Invalid, NotFound } from "../shared/errors";
import { parseInput } from "../shared/validation";
import { apiKeyColumns } from "./schemas";

export const CreateApiKeyInput = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    scopes: z.array(Scope).min(1).max(20),
    /** The member the key acts as (defaults to the caller's user). */
    userId: z.string().uuid().optional(),
    expiresAt: z.coerce.date().optional(),
  })
  .openapi("CreateApiKeyInput");

export function listApiKeys(tx: Tx, actor: Actor) {
  return tx
    .select(apiKeyColumns)
    .from(apiKeys)
    .where(eq(apiKeys.workspaceId, actor.workspaceId))
    .orderBy(desc(apiKeys.createdAt));
}

/** Creates a key; the plaintext is in the result and nowhere else, ever. */
export async function createApiKey(tx: Tx, actor: Actor, raw: z.input<typeof CreateApiKeyInput>, now = new Date()) {
  const input = parseInput(CreateApiKeyInput, raw);
  if (input.expiresAt && input.expiresAt <= now) throw new Invalid("expiresAt must be in the future");
  const userId = input.userId ?? actor.userId;
  const [member] = await tx
    .select({ userId: workspaceMembers.userId })
    .from(workspaceMembers)
    .where(and(eq(workspaceMembers.workspaceId, actor.workspaceId), eq(workspaceMembers.userId, userId)));
  if (!member) throw new Invalid("userId must be a member of this workspace");
  const generated = generateApiKey();
  const key = one(
    await tx
      .insert(apiKeys)
      .values({
        workspaceId: actor.workspaceId,
        name: input.name,
        prefix: generated.prefix,
        keyHash: generated.hash,
        scopes: [...new Set(input.scopes)],
        userId,
        createdBy: actor.userId,
        expiresAt: input.expiresAt ?? null,
      })
      .returning(apiKeyColumns),
  );
  await audit(tx, actorRef(actor), {
    action: "api_key.created",
    entity: { type: "api_key", id: key.id },
    after: { name: input.name, scopes: key.scopes },
  });
  return { ...key, key: generated.key };
}

export async function revokeApiKey(tx: Tx, actor: Actor, id: string, now = new Date()) {
  const [existing] = await tx
    .select(apiKeyColumns)
    .from(apiKeys)
    .where(and(eq(apiKeys.workspaceId, actor.workspaceId), eq(apiKeys.id, id)));
  if (!existing) throw new NotFound("API key", id);
  if (existing.revokedAt) return existing;
  const revoked = one(
    await tx.update(apiKeys).set({ revokedAt: now }).where(eq(apiKeys.id, id)).returning(apiKeyColumns),
  );
  await audit(tx, actorRef(actor), { action: "api_key.revoked", entity: { type: "api_key", id: id } });
  return revoked;
}
