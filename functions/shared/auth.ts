import { createHash, randomBytes } from "node:crypto";
import { and, eq, sql } from "drizzle-orm";
import type { MiddlewareHandler } from "hono";
import type { Database } from "../../db/client";
import { apiKeys, workspaceMembers } from "../../db/schema";
import { type Actor, effectiveScopes, hasScope, SCOPES, type Scope } from "./actor";
import type { AppEnv } from "./env";
import { Forbidden, Unauthorized } from "./errors";

/** Keys look like `cairn_<prefix>_<secret>`; the prefix is shown in listings, the rest never again. */
export function generateApiKey(): { key: string; prefix: string; hash: string } {
  const prefix = randomBytes(6).toString("hex");
  const key = `cairn_${prefix}_${randomBytes(24).toString("base64url")}`;
  return { key, prefix, hash: hashApiKey(key) };
}

export const hashApiKey = (key: string) => createHash("sha256").update(key).digest("hex");

const KEY_SHAPE = /^cairn_[0-9a-f]{12}_[A-Za-z0-9_-]{32}$/;
/** How often last_used_at is refreshed, so authentication doesn't write on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * Finds the key by its hash. Runs as cairn_app: the `key_lookup` RLS policy shows only the
 * row whose hash the request presents, then the key's workspace becomes the tenant. The
 * member's current role caps the key's scopes on every request (`effectiveScopes`).
 */
export async function resolveApiKey(database: Database, presented: string, now = new Date()): Promise<Actor> {
  if (!KEY_SHAPE.test(presented)) throw new Unauthorized("The API key is malformed");
  const keyHash = hashApiKey(presented);
  return database.withSettings({ "app.api_key_hash": keyHash }, async (tx) => {
    const [key] = await tx.select().from(apiKeys).where(eq(apiKeys.keyHash, keyHash));
    if (!key) throw new Unauthorized("The API key is not valid");
    if (key.revokedAt) throw new Unauthorized("The API key has been revoked");
    if (key.expiresAt && key.expiresAt <= now) throw new Unauthorized("The API key has expired");
    await tx.execute(sql`select set_config('app.workspace_id', ${key.workspaceId}, true)`);
    const [member] = key.userId
      ? await tx
          .select({ role: workspaceMembers.role, identityVerified: workspaceMembers.identityVerified })
          .from(workspaceMembers)
          .where(and(eq(workspaceMembers.workspaceId, key.workspaceId), eq(workspaceMembers.userId, key.userId)))
      : [];
    if (!key.lastUsedAt || now.getTime() - key.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      await tx.update(apiKeys).set({ lastUsedAt: now }).where(eq(apiKeys.id, key.id));
    }
    const role = member?.role ?? null;
    const keyScopes = key.scopes.filter((s): s is Scope => (SCOPES as readonly string[]).includes(s));
    return {
      workspaceId: key.workspaceId,
      userId: key.userId,
      apiKeyId: key.id,
      scopes: effectiveScopes(keyScopes, { service: key.userId === null, role }),
      role,
      identityVerified: member?.identityVerified ?? false,
    };
  });
}

/** The presented key of a request, if it sent one (`Authorization: Bearer <key>`). */
export function bearerKey(header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(header ?? "")?.[1];
}

export const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
  const key = bearerKey(c.req.header("authorization"));
  if (!key) throw new Unauthorized("Send the API key as `Authorization: Bearer <key>`");
  c.set("actor", await resolveApiKey(c.var.database, key));
  await next();
};

export const requireScope =
  (scope: Scope): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    if (!hasScope(c.var.actor, scope)) throw new Forbidden(`This API key lacks the '${scope}' scope`);
    await next();
  };
